//! The Swagger 2.0 document as gnostic's `openapi.v2.Document` protobuf, the form kubectl and
//! client-go ask `/openapi/v2` for (`application/com.github.proto-openapi.spec.v2.v1.0+protobuf`).
//!
//! Only the messages kube-apiserver's document uses are declared, with gnostic's field numbers.
//! A `oneof` is declared as its optional fields (the wire form is the same). Vendor extensions
//! travel as YAML text in `Any.yaml`, as gnostic writes them; clients parse that YAML.

use crate::api::meta::string_list;
use prost::Message;
use serde_json::{Map, Value};

/// `openapi.v2.Document`.
#[derive(Clone, PartialEq, Message)]
pub(super) struct Document {
    #[prost(string, tag = "1")]
    swagger: String,
    #[prost(message, optional, tag = "2")]
    info: Option<Info>,
    #[prost(message, optional, tag = "8")]
    paths: Option<Paths>,
    #[prost(message, optional, tag = "9")]
    definitions: Option<Definitions>,
    #[prost(message, repeated, tag = "12")]
    security: Vec<SecurityRequirement>,
    #[prost(message, optional, tag = "13")]
    security_definitions: Option<SecurityDefinitions>,
    #[prost(message, repeated, tag = "16")]
    vendor_extension: Vec<NamedAny>,
}

#[derive(Clone, PartialEq, Message)]
struct Info {
    #[prost(string, tag = "1")]
    title: String,
    #[prost(string, tag = "2")]
    version: String,
}

/// `openapi.v2.Any`: a value as YAML text.
#[derive(Clone, PartialEq, Message)]
struct Any {
    #[prost(string, tag = "2")]
    yaml: String,
}

#[derive(Clone, PartialEq, Message)]
struct NamedAny {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, optional, tag = "2")]
    value: Option<Any>,
}

#[derive(Clone, PartialEq, Message)]
struct Paths {
    #[prost(message, repeated, tag = "2")]
    path: Vec<NamedPathItem>,
}

#[derive(Clone, PartialEq, Message)]
struct NamedPathItem {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, optional, tag = "2")]
    value: Option<PathItem>,
}

#[derive(Clone, PartialEq, Message)]
struct PathItem {
    #[prost(message, optional, tag = "2")]
    get: Option<Operation>,
    #[prost(message, optional, tag = "3")]
    put: Option<Operation>,
    #[prost(message, optional, tag = "4")]
    post: Option<Operation>,
    #[prost(message, optional, tag = "5")]
    delete: Option<Operation>,
    #[prost(message, optional, tag = "7")]
    head: Option<Operation>,
    #[prost(message, optional, tag = "8")]
    patch: Option<Operation>,
    #[prost(message, repeated, tag = "9")]
    parameters: Vec<ParametersItem>,
}

#[derive(Clone, PartialEq, Message)]
struct Operation {
    #[prost(string, repeated, tag = "1")]
    tags: Vec<String>,
    #[prost(string, tag = "3")]
    description: String,
    #[prost(string, tag = "5")]
    operation_id: String,
    #[prost(string, repeated, tag = "6")]
    produces: Vec<String>,
    #[prost(string, repeated, tag = "7")]
    consumes: Vec<String>,
    #[prost(message, repeated, tag = "8")]
    parameters: Vec<ParametersItem>,
    #[prost(message, optional, tag = "9")]
    responses: Option<Responses>,
    #[prost(string, repeated, tag = "10")]
    schemes: Vec<String>,
    #[prost(message, repeated, tag = "13")]
    vendor_extension: Vec<NamedAny>,
}

/// `ParametersItem` (oneof parameter | json_reference).
#[derive(Clone, PartialEq, Message)]
struct ParametersItem {
    #[prost(message, optional, tag = "1")]
    parameter: Option<Parameter>,
}

/// `Parameter` (oneof body_parameter | non_body_parameter).
#[derive(Clone, PartialEq, Message)]
struct Parameter {
    #[prost(message, optional, tag = "1")]
    body_parameter: Option<BodyParameter>,
    #[prost(message, optional, tag = "2")]
    non_body_parameter: Option<NonBodyParameter>,
}

#[derive(Clone, PartialEq, Message)]
struct BodyParameter {
    #[prost(string, tag = "1")]
    description: String,
    #[prost(string, tag = "2")]
    name: String,
    #[prost(string, tag = "3")]
    r#in: String,
    #[prost(bool, tag = "4")]
    required: bool,
    #[prost(message, optional, tag = "5")]
    schema: Option<Schema>,
}

/// `NonBodyParameter` (oneof header | formData | query | path sub-schema).
#[derive(Clone, PartialEq, Message)]
struct NonBodyParameter {
    #[prost(message, optional, tag = "3")]
    query_parameter_sub_schema: Option<QueryParameter>,
    #[prost(message, optional, tag = "4")]
    path_parameter_sub_schema: Option<PathParameter>,
}

/// `QueryParameterSubSchema`: the fields kube-apiserver's query parameters use.
#[derive(Clone, PartialEq, Message)]
struct QueryParameter {
    #[prost(bool, tag = "1")]
    required: bool,
    #[prost(string, tag = "2")]
    r#in: String,
    #[prost(string, tag = "3")]
    description: String,
    #[prost(string, tag = "4")]
    name: String,
    #[prost(string, tag = "6")]
    r#type: String,
    #[prost(bool, tag = "20")]
    unique_items: bool,
}

/// `PathParameterSubSchema`: the fields kube-apiserver's path parameters use.
#[derive(Clone, PartialEq, Message)]
struct PathParameter {
    #[prost(bool, tag = "1")]
    required: bool,
    #[prost(string, tag = "2")]
    r#in: String,
    #[prost(string, tag = "3")]
    description: String,
    #[prost(string, tag = "4")]
    name: String,
    #[prost(string, tag = "5")]
    r#type: String,
    #[prost(bool, tag = "19")]
    unique_items: bool,
}

#[derive(Clone, PartialEq, Message)]
struct Responses {
    #[prost(message, repeated, tag = "1")]
    response_code: Vec<NamedResponseValue>,
}

#[derive(Clone, PartialEq, Message)]
struct NamedResponseValue {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, optional, tag = "2")]
    value: Option<ResponseValue>,
}

/// `ResponseValue` (oneof response | json_reference).
#[derive(Clone, PartialEq, Message)]
struct ResponseValue {
    #[prost(message, optional, tag = "1")]
    response: Option<Response>,
}

#[derive(Clone, PartialEq, Message)]
struct Response {
    #[prost(string, tag = "1")]
    description: String,
    #[prost(message, optional, tag = "2")]
    schema: Option<SchemaItem>,
}

/// `SchemaItem` (oneof schema | file_schema).
#[derive(Clone, PartialEq, Message)]
struct SchemaItem {
    #[prost(message, optional, tag = "1")]
    schema: Option<Schema>,
}

#[derive(Clone, PartialEq, Message)]
struct Schema {
    #[prost(string, tag = "1")]
    r#ref: String,
    #[prost(string, tag = "2")]
    format: String,
    #[prost(string, tag = "3")]
    title: String,
    #[prost(string, tag = "4")]
    description: String,
    #[prost(message, optional, tag = "5")]
    default: Option<Any>,
    #[prost(double, tag = "7")]
    maximum: f64,
    #[prost(double, tag = "9")]
    minimum: f64,
    #[prost(int64, tag = "11")]
    max_length: i64,
    #[prost(int64, tag = "12")]
    min_length: i64,
    #[prost(string, tag = "13")]
    pattern: String,
    #[prost(int64, tag = "14")]
    max_items: i64,
    #[prost(int64, tag = "15")]
    min_items: i64,
    #[prost(bool, tag = "16")]
    unique_items: bool,
    #[prost(string, repeated, tag = "19")]
    required: Vec<String>,
    #[prost(message, repeated, tag = "20")]
    r#enum: Vec<Any>,
    #[prost(message, optional, boxed, tag = "21")]
    additional_properties: Option<Box<AdditionalPropertiesItem>>,
    #[prost(message, optional, tag = "22")]
    r#type: Option<TypeItem>,
    #[prost(message, optional, tag = "23")]
    items: Option<ItemsItem>,
    #[prost(message, repeated, tag = "24")]
    all_of: Vec<Schema>,
    #[prost(message, optional, tag = "25")]
    properties: Option<Properties>,
    #[prost(bool, tag = "27")]
    read_only: bool,
    #[prost(message, optional, tag = "30")]
    example: Option<Any>,
    #[prost(message, repeated, tag = "31")]
    vendor_extension: Vec<NamedAny>,
}

/// `AdditionalPropertiesItem` (oneof schema | boolean).
#[derive(Clone, PartialEq, Message)]
struct AdditionalPropertiesItem {
    #[prost(message, optional, tag = "1")]
    schema: Option<Schema>,
    #[prost(bool, optional, tag = "2")]
    boolean: Option<bool>,
}

#[derive(Clone, PartialEq, Message)]
struct TypeItem {
    #[prost(string, repeated, tag = "1")]
    value: Vec<String>,
}

#[derive(Clone, PartialEq, Message)]
struct ItemsItem {
    #[prost(message, repeated, tag = "1")]
    schema: Vec<Schema>,
}

#[derive(Clone, PartialEq, Message)]
struct Properties {
    #[prost(message, repeated, tag = "1")]
    additional_properties: Vec<NamedSchema>,
}

#[derive(Clone, PartialEq, Message)]
struct NamedSchema {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, optional, tag = "2")]
    value: Option<Schema>,
}

#[derive(Clone, PartialEq, Message)]
struct Definitions {
    #[prost(message, repeated, tag = "1")]
    additional_properties: Vec<NamedSchema>,
}

#[derive(Clone, PartialEq, Message)]
struct SecurityDefinitions {
    #[prost(message, repeated, tag = "1")]
    additional_properties: Vec<NamedSecurityDefinitionsItem>,
}

#[derive(Clone, PartialEq, Message)]
struct NamedSecurityDefinitionsItem {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, optional, tag = "2")]
    value: Option<SecurityDefinitionsItem>,
}

/// `SecurityDefinitionsItem` (oneof; kube-apiserver uses the API key form).
#[derive(Clone, PartialEq, Message)]
struct SecurityDefinitionsItem {
    #[prost(message, optional, tag = "2")]
    api_key_security: Option<ApiKeySecurity>,
}

#[derive(Clone, PartialEq, Message)]
struct ApiKeySecurity {
    #[prost(string, tag = "1")]
    r#type: String,
    #[prost(string, tag = "2")]
    name: String,
    #[prost(string, tag = "3")]
    r#in: String,
    #[prost(string, tag = "4")]
    description: String,
}

#[derive(Clone, PartialEq, Message)]
struct SecurityRequirement {
    #[prost(message, repeated, tag = "1")]
    additional_properties: Vec<NamedStringArray>,
}

#[derive(Clone, PartialEq, Message)]
struct NamedStringArray {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, optional, tag = "2")]
    value: Option<StringArray>,
}

#[derive(Clone, PartialEq, Message)]
struct StringArray {
    #[prost(string, repeated, tag = "1")]
    value: Vec<String>,
}

/// Encodes the Swagger 2.0 JSON document `doc` as gnostic protobuf.
pub(super) fn encode(doc: &Value) -> Vec<u8> {
    document(doc).encode_to_vec()
}

fn document(doc: &Value) -> Document {
    let info = doc.get("info").map(|i| Info {
        title: string(i, "title"),
        version: string(i, "version"),
    });
    let paths = doc.get("paths").and_then(Value::as_object).map(|p| Paths {
        path: p
            .iter()
            .map(|(name, item)| NamedPathItem {
                name: name.clone(),
                value: Some(path_item(item)),
            })
            .collect(),
    });
    let definitions = doc
        .get("definitions")
        .and_then(Value::as_object)
        .map(|d| Definitions {
            additional_properties: named_schemas(d),
        });
    let security_definitions = doc
        .get("securityDefinitions")
        .and_then(Value::as_object)
        .map(|d| SecurityDefinitions {
            additional_properties: d
                .iter()
                .map(|(name, s)| NamedSecurityDefinitionsItem {
                    name: name.clone(),
                    value: Some(SecurityDefinitionsItem {
                        api_key_security: Some(ApiKeySecurity {
                            r#type: string(s, "type"),
                            name: string(s, "name"),
                            r#in: string(s, "in"),
                            description: string(s, "description"),
                        }),
                    }),
                })
                .collect(),
        });
    let security = doc
        .get("security")
        .and_then(Value::as_array)
        .map(|reqs| {
            reqs.iter()
                .filter_map(Value::as_object)
                .map(|req| SecurityRequirement {
                    additional_properties: req
                        .iter()
                        .map(|(name, scopes)| NamedStringArray {
                            name: name.clone(),
                            value: Some(StringArray {
                                value: string_list(Some(scopes)),
                            }),
                        })
                        .collect(),
                })
                .collect()
        })
        .unwrap_or_default();
    Document {
        swagger: string(doc, "swagger"),
        info,
        paths,
        definitions,
        security,
        security_definitions,
        vendor_extension: doc.as_object().map(vendor_extensions).unwrap_or_default(),
    }
}

fn string(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn flag(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn vendor_extensions(m: &Map<String, Value>) -> Vec<NamedAny> {
    m.iter()
        .filter(|(k, _)| k.starts_with("x-"))
        .map(|(k, v)| NamedAny {
            name: k.clone(),
            value: Some(any(v)),
        })
        .collect()
}

fn any(v: &Value) -> Any {
    Any {
        yaml: super::yaml::to_yaml(v),
    }
}

fn path_item(item: &Value) -> PathItem {
    let op = |k: &str| item.get(k).map(operation);
    PathItem {
        get: op("get"),
        put: op("put"),
        post: op("post"),
        delete: op("delete"),
        head: op("head"),
        patch: op("patch"),
        parameters: parameters(item.get("parameters")),
    }
}

fn operation(op: &Value) -> Operation {
    let responses = op
        .get("responses")
        .and_then(Value::as_object)
        .map(|rs| Responses {
            response_code: rs
                .iter()
                .map(|(code, r)| NamedResponseValue {
                    name: code.clone(),
                    value: Some(ResponseValue {
                        response: Some(Response {
                            description: string(r, "description"),
                            schema: r.get("schema").map(|s| SchemaItem {
                                schema: Some(schema(s)),
                            }),
                        }),
                    }),
                })
                .collect(),
        });
    Operation {
        tags: string_list(op.get("tags")),
        description: string(op, "description"),
        operation_id: string(op, "operationId"),
        produces: string_list(op.get("produces")),
        consumes: string_list(op.get("consumes")),
        parameters: parameters(op.get("parameters")),
        responses,
        schemes: string_list(op.get("schemes")),
        vendor_extension: op.as_object().map(vendor_extensions).unwrap_or_default(),
    }
}

fn parameters(ps: Option<&Value>) -> Vec<ParametersItem> {
    ps.and_then(Value::as_array)
        .map(|ps| {
            ps.iter()
                .map(|p| ParametersItem {
                    parameter: Some(parameter(p)),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn parameter(p: &Value) -> Parameter {
    let location = string(p, "in");
    if location == "body" {
        return Parameter {
            body_parameter: Some(BodyParameter {
                description: string(p, "description"),
                name: string(p, "name"),
                r#in: location,
                required: flag(p, "required"),
                schema: p.get("schema").map(schema),
            }),
            non_body_parameter: None,
        };
    }
    let non_body = if location == "path" {
        NonBodyParameter {
            query_parameter_sub_schema: None,
            path_parameter_sub_schema: Some(PathParameter {
                required: flag(p, "required"),
                r#in: location,
                description: string(p, "description"),
                name: string(p, "name"),
                r#type: string(p, "type"),
                unique_items: flag(p, "uniqueItems"),
            }),
        }
    } else {
        NonBodyParameter {
            query_parameter_sub_schema: Some(QueryParameter {
                required: flag(p, "required"),
                r#in: location,
                description: string(p, "description"),
                name: string(p, "name"),
                r#type: string(p, "type"),
                unique_items: flag(p, "uniqueItems"),
            }),
            path_parameter_sub_schema: None,
        }
    };
    Parameter {
        body_parameter: None,
        non_body_parameter: Some(non_body),
    }
}

fn named_schemas(m: &Map<String, Value>) -> Vec<NamedSchema> {
    m.iter()
        .map(|(name, s)| NamedSchema {
            name: name.clone(),
            value: Some(schema(s)),
        })
        .collect()
}

fn schema(s: &Value) -> Schema {
    let number = |k: &str| s.get(k).and_then(Value::as_f64).unwrap_or(0.0);
    let int = |k: &str| s.get(k).and_then(Value::as_i64).unwrap_or(0);
    let r#type = match s.get("type") {
        Some(Value::String(t)) => Some(TypeItem {
            value: vec![t.clone()],
        }),
        Some(Value::Array(_)) => Some(TypeItem {
            value: string_list(s.get("type")),
        }),
        _ => None,
    };
    let items = match s.get("items") {
        Some(Value::Array(a)) => Some(ItemsItem {
            schema: a.iter().map(schema).collect(),
        }),
        Some(one @ Value::Object(_)) => Some(ItemsItem {
            schema: vec![schema(one)],
        }),
        _ => None,
    };
    let additional_properties = match s.get("additionalProperties") {
        Some(Value::Bool(b)) => Some(Box::new(AdditionalPropertiesItem {
            schema: None,
            boolean: Some(*b),
        })),
        Some(a @ Value::Object(_)) => Some(Box::new(AdditionalPropertiesItem {
            schema: Some(schema(a)),
            boolean: None,
        })),
        _ => None,
    };
    Schema {
        r#ref: string(s, "$ref"),
        format: string(s, "format"),
        title: string(s, "title"),
        description: string(s, "description"),
        default: s.get("default").map(any),
        maximum: number("maximum"),
        minimum: number("minimum"),
        max_length: int("maxLength"),
        min_length: int("minLength"),
        pattern: string(s, "pattern"),
        max_items: int("maxItems"),
        min_items: int("minItems"),
        unique_items: flag(s, "uniqueItems"),
        required: string_list(s.get("required")),
        r#enum: s
            .get("enum")
            .and_then(Value::as_array)
            .map(|e| e.iter().map(any).collect())
            .unwrap_or_default(),
        additional_properties,
        r#type,
        items,
        all_of: s
            .get("allOf")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(schema).collect())
            .unwrap_or_default(),
        properties: s
            .get("properties")
            .and_then(Value::as_object)
            .map(|p| Properties {
                additional_properties: named_schemas(p),
            }),
        read_only: flag(s, "readOnly"),
        example: s.get("example").map(any),
        vendor_extension: s.as_object().map(vendor_extensions).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn a_document_round_trips_through_the_wire_form() {
        let doc = json!({
            "swagger": "2.0",
            "info": {"title": "Kubernetes", "version": "v1.33.0"},
            "paths": {"/api/v1/pods": {
                "parameters": [{"name": "pretty", "in": "query", "type": "string", "uniqueItems": true}],
                "patch": {
                    "consumes": ["application/strategic-merge-patch+json"],
                    "parameters": [{"in": "body", "name": "body", "required": true, "schema": {"type": "object"}}],
                    "responses": {"200": {"description": "OK", "schema": {"$ref": "#/definitions/P"}}},
                    "x-kubernetes-group-version-kind": {"group": "", "kind": "Pod", "version": "v1"},
                }
            }},
            "definitions": {"P": {
                "type": "object",
                "properties": {
                    "containers": {"type": "array", "items": {"$ref": "#/definitions/C"},
                                   "x-kubernetes-patch-merge-key": "name", "x-kubernetes-patch-strategy": "merge"},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                },
                "x-kubernetes-group-version-kind": [{"group": "", "kind": "Pod", "version": "v1"}],
            }},
            "securityDefinitions": {"BearerToken": {"type": "apiKey", "name": "authorization", "in": "header", "description": "Bearer Token authentication"}},
            "security": [{"BearerToken": []}],
        });
        let bytes = encode(&doc);
        let back = Document::decode(bytes.as_slice()).unwrap();
        assert_eq!(back, document(&doc));
        let paths = back.paths.unwrap();
        let item = paths.path[0].value.as_ref().unwrap();
        let patch = item.patch.as_ref().unwrap();
        assert_eq!(patch.consumes, ["application/strategic-merge-patch+json"]);
        assert_eq!(
            patch.vendor_extension[0].value.as_ref().unwrap().yaml,
            "group: \"\"\nkind: Pod\nversion: v1\n"
        );
        let body = patch.parameters[0].parameter.as_ref().unwrap();
        assert!(body.body_parameter.as_ref().unwrap().required);
        let query = item.parameters[0].parameter.as_ref().unwrap();
        let q = query
            .non_body_parameter
            .as_ref()
            .unwrap()
            .query_parameter_sub_schema
            .as_ref()
            .unwrap();
        assert_eq!((q.name.as_str(), q.r#type.as_str()), ("pretty", "string"));
        let defs = back.definitions.unwrap().additional_properties;
        let p = defs[0].value.as_ref().unwrap();
        assert_eq!(p.r#type.as_ref().unwrap().value, ["object"]);
        let props = &p.properties.as_ref().unwrap().additional_properties;
        let containers = props[0].value.as_ref().unwrap();
        assert_eq!(
            containers.items.as_ref().unwrap().schema[0].r#ref,
            "#/definitions/C"
        );
        let ext: Vec<(&str, &str)> = containers
            .vendor_extension
            .iter()
            .map(|e| (e.name.as_str(), e.value.as_ref().unwrap().yaml.as_str()))
            .collect();
        assert_eq!(
            ext,
            [
                ("x-kubernetes-patch-merge-key", "name\n"),
                ("x-kubernetes-patch-strategy", "merge\n")
            ]
        );
        let labels = props[1].value.as_ref().unwrap();
        let additional = labels.additional_properties.as_ref().unwrap();
        assert_eq!(
            additional
                .schema
                .as_ref()
                .unwrap()
                .r#type
                .as_ref()
                .unwrap()
                .value,
            ["string"]
        );
        assert_eq!(
            p.vendor_extension[0].value.as_ref().unwrap().yaml,
            "- group: \"\"\n  kind: Pod\n  version: v1\n"
        );
    }
}
