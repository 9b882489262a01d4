//! The fields Go's encoding/json always writes, filled into objects kubeshard stores as the
//! client wrote them.
//!
//! kube-apiserver decodes every object into its Go struct and encodes it again, so what a client
//! reads follows encoding/json: a field without `omitempty` is written even when unset (`0`,
//! `""`, `false`, or `null` for pointers, slices, maps and interfaces), and a struct value is
//! written even with `omitempty` (encoding/json never counts a struct as empty), as `{}` filled
//! by the same rules or by its own MarshalJSON: `metav1.Time` and `MicroTime` write `null` when
//! zero, `resource.Quantity` `"0"`, `intstr.IntOrString` `0`, `metav1.Duration` `"0s"`,
//! `runtime.RawExtension` `null`. That is why a new ReplicationController reads back with
//! `status: {replicas: 0}` and a pod template with `metadata: {creationTimestamp: null}`, and
//! typed clients rely on it.
//!
//! [`fill_go_zero_values`] adds exactly those fields to an object, walking it with a table
//! generated from the Go types (`go_fields.rs`, by `tools/gen-go-fields.py`). It only adds:
//! a present field is never removed or changed, except a `null` where Go holds a struct value
//! (not a pointer), which Go would decode as the zero struct and write filled.
//!
//! One walk costs one map lookup per listed field of each struct the object holds; the table
//! lists only fields that are filled or hold structs with something to fill.

use serde_json::{Map, Value};

use super::go_fields::{KINDS, TYPES};

/// How deep the walk goes into nested structs. The API types nest about 15 deep; the limit keeps
/// recursive types (and hostile objects) from exhausting the stack.
const MAX_DEPTH: usize = 64;

/// What Go writes for a field an object lacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Fill {
    /// Nothing: the field is `omitempty` and its zero value is empty (the entry is there to
    /// recurse into structs when the field is present).
    Absent,
    /// `null`: a nil pointer, slice, map, interface or `[]byte` without `omitempty`, or a zero
    /// `metav1.Time`, `MicroTime`, `RawExtension` or `FieldsV1` (structs: always written).
    Null,
    /// `0`: an integer or float without `omitempty`, or `intstr.IntOrString` (a struct).
    Zero,
    /// `""`: a string (or string-named type) without `omitempty`.
    EmptyStr,
    /// `false`: a bool without `omitempty`.
    False,
    /// `"0"`: `resource.Quantity` (a struct, so always written).
    Quantity,
    /// `"0s"`: `metav1.Duration` (a struct, so always written).
    #[allow(dead_code, reason = "unused by the packages generated today")]
    Duration,
    /// `{}` filled by the nested type: a struct value (always written, `omitempty` or not).
    Struct,
}

/// Where a field's structs are, when it holds any (see [`Field::nested`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Shape {
    /// The value is the struct (or a pointer to it).
    One,
    /// The value is a list of structs; a `null` element is a zero struct to Go, written filled.
    List,
    /// A list of pointers to structs; `null` elements stay.
    #[allow(dead_code, reason = "unused by the packages generated today")]
    PtrList,
    /// The value is a map whose values are structs; a `null` value is written filled.
    Map,
    /// A map whose values are pointers to structs; `null` values stay.
    #[allow(dead_code, reason = "unused by the packages generated today")]
    PtrMap,
}

/// One JSON field of a Go struct.
#[derive(Debug)]
pub(super) struct Field {
    /// The JSON name.
    pub(super) json: &'static str,
    /// What Go writes when the field is unset.
    pub(super) fill: Fill,
    /// The index in [`TYPES`] of the struct the field holds, when that struct has fields to
    /// fill (directly or further down).
    pub(super) nested: Option<u16>,
    /// Where in the value the nested structs are.
    pub(super) shape: Shape,
}

/// One Go struct: its OpenAPI definition name and the fields the walk looks at, in Go order.
#[derive(Debug)]
pub(super) struct Type {
    /// E.g. `io.k8s.api.core.v1.PodSpec`.
    pub(super) name: &'static str,
    /// The fields that are filled or hold structs with something to fill.
    pub(super) fields: &'static [Field],
}

/// A [`Field`], short for the generated table.
pub(super) const fn f(json: &'static str, fill: Fill, nested: Option<u16>, shape: Shape) -> Field {
    Field {
        json,
        fill,
        nested,
        shape,
    }
}

/// A [`Type`], short for the generated table.
pub(super) const fn t(name: &'static str, fields: &'static [Field]) -> Type {
    Type { name, fields }
}

/// Adds to `obj`, an object of the given kind (`group` is `""` for the core group), every field
/// kube-apiserver's Go encoding would write and `obj` lacks, with the value Go writes for it,
/// all the way down. Returns whether anything changed; an unknown kind is left untouched and
/// gives `false`.
pub fn fill_go_zero_values(
    group: &str,
    version: &str,
    kind: &str,
    obj: &mut Map<String, Value>,
) -> bool {
    KINDS
        .binary_search_by(|&(g, v, k, _)| (g, v, k).cmp(&(group, version, kind)))
        .ok()
        .and_then(|i| KINDS.get(i))
        .and_then(|&(_, _, _, ty)| type_at(Some(ty)))
        .is_some_and(|ty| fill_struct(ty, obj, 0))
}

/// What the Go zero value of the struct `definition` (an OpenAPI definition name) encodes
/// for `field`: `Some(Some(v))` the value written (`{}` for a struct value), `Some(None)`
/// nothing (`omitempty`), None for a definition that is not one of the API's Go types. A
/// type of the API the table does not list encodes nothing.
pub fn zero_field(definition: &str, field: &str) -> Option<Option<Value>> {
    let Ok(i) = TYPES.binary_search_by(|ty| ty.name.cmp(definition)) else {
        return definition.starts_with("io.k8s.").then_some(None);
    };
    let fill = TYPES
        .get(i)?
        .fields
        .iter()
        .find(|f| f.json == field)
        .map(|f| f.fill);
    Some(match fill {
        None | Some(Fill::Absent) => None,
        Some(Fill::Null) => Some(Value::Null),
        Some(Fill::Zero) => Some(Value::from(0)),
        Some(Fill::EmptyStr) => Some(Value::String(String::new())),
        Some(Fill::False) => Some(Value::Bool(false)),
        Some(Fill::Quantity) => Some(Value::String("0".into())),
        Some(Fill::Duration) => Some(Value::String("0s".into())),
        Some(Fill::Struct) => Some(Value::Object(Map::new())),
    })
}

/// [`fill_go_zero_values`] for an object of the struct with OpenAPI definition name
/// `definition` (e.g. `io.k8s.apimachinery.pkg.apis.meta.v1.Condition`). Returns `false`, with
/// `obj` untouched, for a definition the table does not know or that has nothing to fill.
pub fn fill_type(definition: &str, obj: &mut Map<String, Value>) -> bool {
    TYPES
        .binary_search_by(|ty| ty.name.cmp(definition))
        .ok()
        .and_then(|i| TYPES.get(i))
        .is_some_and(|ty| fill_struct(ty, obj, 0))
}

/// Whether [`fill_go_zero_values`] knows the kind.
pub fn knows_kind(group: &str, version: &str, kind: &str) -> bool {
    KINDS
        .binary_search_by(|&(g, v, k, _)| (g, v, k).cmp(&(group, version, kind)))
        .is_ok()
}

fn type_at(index: Option<u16>) -> Option<&'static Type> {
    index.and_then(|i| TYPES.get(usize::from(i)))
}

/// Fills one object of struct `ty`; `depth` counts the structs above it.
fn fill_struct(ty: &Type, obj: &mut Map<String, Value>, depth: usize) -> bool {
    if depth >= MAX_DEPTH {
        return false;
    }
    let mut changed = false;
    for field in ty.fields {
        match obj.get_mut(field.json) {
            Some(value) => changed |= descend(field, value, depth + 1),
            None => {
                if let Some(value) = zero(field, depth + 1) {
                    obj.insert(field.json.to_owned(), value);
                    changed = true;
                }
            }
        }
    }
    changed
}

/// What Go writes for `field` when it is unset, if anything.
fn zero(field: &Field, depth: usize) -> Option<Value> {
    Some(match field.fill {
        Fill::Absent => return None,
        Fill::Null => Value::Null,
        Fill::Zero => Value::from(0),
        Fill::EmptyStr => Value::String(String::new()),
        Fill::False => Value::Bool(false),
        Fill::Quantity => Value::String("0".to_owned()),
        Fill::Duration => Value::String("0s".to_owned()),
        Fill::Struct => zero_struct(field.nested, depth),
    })
}

/// The zero value of a struct, as Go writes it.
fn zero_struct(nested: Option<u16>, depth: usize) -> Value {
    let mut obj = Map::new();
    if let Some(ty) = type_at(nested) {
        fill_struct(ty, &mut obj, depth);
    }
    Value::Object(obj)
}

/// Fills the structs inside a present field's value.
fn descend(field: &Field, value: &mut Value, depth: usize) -> bool {
    match (field.shape, value) {
        // Go decodes null into a struct value as the zero struct, and writes it filled.
        (Shape::One, value @ Value::Null) if field.fill == Fill::Struct => {
            *value = zero_struct(field.nested, depth);
            true
        }
        (Shape::One, Value::Object(obj)) => {
            type_at(field.nested).is_some_and(|ty| fill_struct(ty, obj, depth))
        }
        (Shape::List | Shape::PtrList, Value::Array(items)) => {
            let fill_null = field.shape == Shape::List;
            let mut changed = false;
            for item in items {
                changed |= element(field.nested, item, fill_null, depth);
            }
            changed
        }
        (Shape::Map | Shape::PtrMap, Value::Object(entries)) => {
            let fill_null = field.shape == Shape::Map;
            let mut changed = false;
            for item in entries.values_mut() {
                changed |= element(field.nested, item, fill_null, depth);
            }
            changed
        }
        _ => false,
    }
}

/// Fills one element of a list or map of structs.
fn element(nested: Option<u16>, item: &mut Value, fill_null: bool, depth: usize) -> bool {
    match item {
        Value::Object(obj) => type_at(nested).is_some_and(|ty| fill_struct(ty, obj, depth)),
        Value::Null if fill_null => {
            *item = zero_struct(nested, depth);
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use serde_json::json;

    use super::*;

    fn filled(group: &str, version: &str, kind: &str, mut obj: Value) -> (bool, Value) {
        let changed = fill_go_zero_values(group, version, kind, obj.as_object_mut().unwrap());
        (changed, obj)
    }

    // ReplicationControllerStatus.Replicas is `int32` without omitempty: written as 0. The
    // status and spec are struct values (omitempty does not omit structs): always written.
    #[test]
    fn replication_controller_status_replicas() {
        let (changed, rc) = filled(
            "",
            "v1",
            "ReplicationController",
            json!({"metadata": {"name": "rc"}}),
        );
        assert!(changed);
        assert_eq!(rc["status"], json!({"replicas": 0}));
        assert_eq!(rc["spec"], json!({}));
        assert_eq!(
            rc["metadata"],
            json!({"name": "rc", "creationTimestamp": null})
        );
    }

    // The four counters of DaemonSetStatus have no omitempty; the rest of the status does.
    #[test]
    fn daemon_set_status_counters() {
        let (_, ds) = filled("apps", "v1", "DaemonSet", json!({"spec": {}}));
        assert_eq!(
            ds["status"],
            json!({
                "currentNumberScheduled": 0,
                "numberMisscheduled": 0,
                "desiredNumberScheduled": 0,
                "numberReady": 0
            })
        );
    }

    // DeploymentSpec.Template and PodTemplateSpec.ObjectMeta are struct values: written, and
    // ObjectMeta.CreationTimestamp is a metav1.Time (a struct) whose zero is null.
    // Container.Resources is a struct value; Container.Ports is an omitempty slice.
    #[test]
    fn deployment_template_metadata_and_resources() {
        let obj = json!({
            "metadata": {"name": "web", "creationTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "spec": {"containers": [{"name": "a", "image": "nginx"}, {"name": "b"}]}
                }
            }
        });
        let (changed, d) = filled("apps", "v1", "Deployment", obj);
        assert!(changed);
        let template = &d["spec"]["template"];
        assert_eq!(template["metadata"], json!({"creationTimestamp": null}));
        for container in template["spec"]["containers"].as_array().unwrap() {
            assert_eq!(container["resources"], json!({}));
            assert!(container.get("ports").is_none());
            assert!(container.get("env").is_none());
        }
        assert_eq!(
            d["spec"]["template"]["spec"]["containers"][0]["image"],
            "nginx"
        );
        // A set creationTimestamp stays; strategy is a struct value, status too.
        assert_eq!(d["metadata"]["creationTimestamp"], "2024-01-01T00:00:00Z");
        assert_eq!(d["spec"]["strategy"], json!({}));
        assert_eq!(d["status"], json!({}));
    }

    // What Go writes for a Deployment decoded from `{}`: every struct value, and
    // DeploymentSpec.Selector, a pointer without omitempty, as null.
    #[test]
    fn empty_deployment_as_go_writes_it() {
        let (_, d) = filled("apps", "v1", "Deployment", json!({}));
        assert_eq!(
            d,
            json!({
                "metadata": {"creationTimestamp": null},
                "spec": {
                    "selector": null,
                    "template": {
                        "metadata": {"creationTimestamp": null},
                        "spec": {"containers": null}
                    },
                    "strategy": {}
                },
                "status": {}
            })
        );
    }

    // Container.Name is a string without omitempty.
    #[test]
    fn pod_container_without_name() {
        let obj = json!({"spec": {"containers": [{"image": "nginx"}], "initContainers": [{}]}});
        let (_, pod) = filled("", "v1", "Pod", obj);
        assert_eq!(pod["spec"]["containers"][0]["name"], "");
        assert_eq!(
            pod["spec"]["initContainers"][0],
            json!({"name": "", "resources": {}})
        );
        assert_eq!(pod["status"], json!({}));
    }

    // metav1.Condition.LastTransitionTime is a metav1.Time without omitempty (and a struct):
    // null when zero; type, status, reason and message are strings without omitempty.
    #[test]
    fn condition_last_transition_time() {
        let obj = json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}});
        let (_, pdb) = filled("policy", "v1", "PodDisruptionBudget", obj);
        assert_eq!(
            pdb["status"]["conditions"][0],
            json!({
                "type": "Ready",
                "status": "True",
                "lastTransitionTime": null,
                "reason": "",
                "message": ""
            })
        );
        let mut cond = json!({"type": "A"});
        assert!(fill_type(
            "io.k8s.apimachinery.pkg.apis.meta.v1.Condition",
            cond.as_object_mut().unwrap()
        ));
        assert_eq!(cond["lastTransitionTime"], Value::Null);
    }

    #[test]
    fn top_level_creation_timestamp() {
        let (changed, cm) = filled("", "v1", "ConfigMap", json!({"metadata": {"name": "c"}}));
        assert!(changed);
        assert_eq!(
            cm,
            json!({"metadata": {"name": "c", "creationTimestamp": null}})
        );
    }

    #[test]
    fn unknown_kind_untouched() {
        let obj = json!({"metadata": {"name": "x"}, "spec": {}});
        let (changed, out) = filled("example.com", "v1", "Widget", obj.clone());
        assert!(!changed);
        assert_eq!(out, obj);
        let (changed, out) = filled("apps", "v2", "Deployment", obj.clone());
        assert!(!changed);
        assert_eq!(out, obj);
        assert!(!knows_kind("example.com", "v1", "Widget"));
        assert!(knows_kind("apps", "v1", "Deployment"));
        assert!(knows_kind("", "v1", "PodList"));
        let mut o = obj.as_object().unwrap().clone();
        assert!(!fill_type("io.example.Widget", &mut o));
        assert_eq!(Value::Object(o), obj);
    }

    #[test]
    fn complete_object_unchanged() {
        let (changed, once) = filled(
            "apps",
            "v1",
            "Deployment",
            json!({
                "spec": {"template": {"spec": {"containers": [{"name": "a", "ports": [{}]}]}}}
            }),
        );
        assert!(changed);
        let (changed, twice) = filled("apps", "v1", "Deployment", once.clone());
        assert!(!changed);
        assert_eq!(twice, once);
        // ContainerPort.ContainerPort is an int32 without omitempty.
        assert_eq!(
            once["spec"]["template"]["spec"]["containers"][0]["ports"][0],
            json!({"containerPort": 0})
        );
    }

    // A null where Go holds a struct value decodes as the zero struct (written filled); a null
    // pointer stays null (DeploymentSpec.Selector, PodSpec.SecurityContext are pointers).
    #[test]
    fn null_struct_value_is_filled_null_pointer_stays() {
        let obj = json!({
            "metadata": null,
            "spec": {"selector": null, "template": null, "strategy": null},
            "status": null
        });
        let (changed, d) = filled("apps", "v1", "Deployment", obj);
        assert!(changed);
        assert_eq!(d["metadata"], json!({"creationTimestamp": null}));
        assert_eq!(d["spec"]["selector"], Value::Null);
        assert_eq!(
            d["spec"]["template"],
            json!({"metadata": {"creationTimestamp": null}, "spec": {"containers": null}})
        );
        assert_eq!(d["spec"]["strategy"], json!({}));
        assert_eq!(d["status"], json!({}));

        let obj = json!({"spec": {"securityContext": null, "containers": [null]}});
        let (_, pod) = filled("", "v1", "Pod", obj);
        assert_eq!(pod["spec"]["securityContext"], Value::Null);
        assert_eq!(
            pod["spec"]["containers"][0],
            json!({"name": "", "resources": {}})
        );
    }

    // Values of the wrong JSON type are left for validation to refuse.
    #[test]
    fn wrong_types_left_alone() {
        let obj = json!({"metadata": 3, "spec": "x", "status": [1]});
        let (changed, out) = filled("apps", "v1", "Deployment", obj.clone());
        assert!(!changed);
        assert_eq!(out, obj);
    }

    // Struct-like scalars: Quantity writes "0", IntOrString 0 (both structs: even under
    // omitempty), Time null; a non-pointer metav1.Time under omitempty is still written.
    #[test]
    fn quantity_int_or_string_and_time() {
        let obj = json!({"spec": {
            "ports": [{"port": 80}],
        }});
        let (_, svc) = filled("", "v1", "Service", obj);
        assert_eq!(
            svc["spec"]["ports"][0],
            json!({"port": 80, "targetPort": 0})
        );

        let obj = json!({"spec": {"containers": [{"name": "a", "env": [
            {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}}
        ]}]}});
        let (_, pod) = filled("", "v1", "Pod", obj);
        let env = &pod["spec"]["containers"][0]["env"][0];
        assert_eq!(
            env["valueFrom"]["resourceFieldRef"],
            json!({"resource": "limits.cpu", "divisor": "0"})
        );
        assert!(env.get("value").is_none());

        let (_, ev) = filled("", "v1", "Event", json!({"metadata": {"name": "e"}}));
        assert_eq!(ev["firstTimestamp"], Value::Null);
        assert_eq!(ev["lastTimestamp"], Value::Null);
        assert_eq!(ev["eventTime"], Value::Null);
        assert_eq!(ev["involvedObject"], json!({}));
        assert_eq!(ev["source"], json!({}));
        assert_eq!(ev["reportingComponent"], "");
        assert_eq!(ev["reportingInstance"], "");
    }

    // A list kind: ListMeta is a struct value, Items a slice without omitempty; each item is
    // filled as its kind.
    #[test]
    fn list_kind() {
        let (_, list) = filled(
            "apps",
            "v1",
            "DeploymentList",
            json!({"items": [{"spec": {}}]}),
        );
        assert_eq!(list["metadata"], json!({}));
        assert_eq!(
            list["items"][0]["metadata"],
            json!({"creationTimestamp": null})
        );
        let (_, list) = filled("", "v1", "PodList", json!({}));
        assert_eq!(list, json!({"metadata": {}, "items": null}));
    }

    // A map of structs: ResourceSlice devices' capacity values are DeviceCapacity structs whose
    // Value is a Quantity.
    #[test]
    fn map_of_structs() {
        let obj = json!({"spec": {"devices": [{"name": "d", "capacity": {"mem": {}}}]}});
        let (_, slice) = filled("resource.k8s.io", "v1", "ResourceSlice", obj);
        assert_eq!(
            slice["spec"]["devices"][0]["capacity"]["mem"],
            json!({"value": "0"})
        );
    }

    #[test]
    fn deep_object_does_not_overflow() {
        let mut deep = Value::Null;
        for _ in 0..1000 {
            let mut m = Map::new();
            m.insert("template".to_owned(), deep);
            m.insert("spec".to_owned(), json!({}));
            m.insert("metadata".to_owned(), json!({}));
            deep = Value::Object(m);
        }
        let mut obj = json!({"spec": {"template": deep}});
        let map = obj.as_object_mut().unwrap();
        assert!(fill_go_zero_values("apps", "v1", "Deployment", map));
        // Deep JSON under fields the types do not walk is not looked at either.
        let mut obj = json!({"metadata": {"annotations": {}}, "spec": {"template": {"spec": {}}}});
        let mut inner = json!([]);
        for _ in 0..1000 {
            inner = json!([inner]);
        }
        obj["spec"]["template"]["spec"]["containers"] = json!([{"name": "a", "args": inner}]);
        let map = obj.as_object_mut().unwrap();
        assert!(fill_go_zero_values("apps", "v1", "Deployment", map));
        // The guard itself: at the limit nothing is walked.
        let ty = TYPES
            .iter()
            .find(|t| t.name == "io.k8s.api.apps.v1.Deployment")
            .unwrap();
        let mut empty = Map::new();
        assert!(!fill_struct(ty, &mut empty, MAX_DEPTH));
        assert!(empty.is_empty());
    }

    // The table is sorted (both lookups binary-search it) and its indices are in range.
    #[test]
    fn table_is_sorted_and_consistent() {
        assert!(TYPES.windows(2).all(|w| w[0].name < w[1].name));
        assert!(KINDS
            .windows(2)
            .all(|w| (w[0].0, w[0].1, w[0].2) < (w[1].0, w[1].1, w[1].2)));
        for ty in TYPES {
            for field in ty.fields {
                assert!(field.nested.is_none_or(|i| usize::from(i) < TYPES.len()));
                assert!(
                    field.fill != Fill::Absent || field.nested.is_some(),
                    "{}",
                    field.json
                );
            }
        }
        for &(_, _, kind, i) in KINDS {
            assert!(TYPES[usize::from(i)].name.ends_with(&format!(".{kind}")));
        }
    }
}
