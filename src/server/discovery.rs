//! Discovery, as kube-apiserver serves it: `/api`, `/api/v1`, `/apis`, `/apis/<group>`,
//! `/apis/<group>/<version>` (legacy JSON), and aggregated discovery (`apidiscovery.k8s.io`
//! v2 and v2beta1 on `/api` and `/apis`, chosen by the Accept header as kubectl 1.26+ asks).
//!
//! Every body is encoded once from the resource table when the server starts; a request only
//! negotiates, compares its `If-None-Match` and clones shared bytes. Documents carry an ETag
//! (upstream: aggregated discovery only; here every document) and `If-None-Match` answers 304.

use std::collections::HashMap;

use base64::Engine;
use bytes::Bytes;
use http::{header, HeaderValue, Method, StatusCode};
use hyper::{Request, Response};
use serde::Serialize;
use shards::server::Body;

use crate::api::media::{parse_accept, Clause};
use crate::api::resources::{self, group_version, Gvk};
use crate::api::status::Status;
use crate::endpoints::response;

/// Media types upstream's discovery endpoints can encode (for the 406 message).
const SUPPORTED: &[&str] = &[
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
];

/// The aggregated discovery versions, as clients name them in Accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Aggregated {
    V2,
    V2Beta1,
}

impl Aggregated {
    fn api_version(self) -> &'static str {
        match self {
            Self::V2 => "apidiscovery.k8s.io/v2",
            Self::V2Beta1 => "apidiscovery.k8s.io/v2beta1",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Self::V2 => "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
            Self::V2Beta1 => {
                "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
            }
        }
    }
}

/// A prepared discovery document.
struct Doc {
    body: Bytes,
    etag: HeaderValue,
    content_type: &'static str,
}

impl Doc {
    /// A document whose ETag is the hash of its own body.
    fn new(body: Vec<u8>, content_type: &'static str) -> Self {
        let etag = etag_of(&body);
        Self {
            body: Bytes::from(body),
            etag,
            content_type,
        }
    }
}

/// Upstream's ETag: the SHA-512 of the JSON, upper-case hex, quoted.
fn etag_of(bytes: &[u8]) -> HeaderValue {
    let digest = ring::digest::digest(&ring::digest::SHA512, bytes);
    let mut s = String::with_capacity(130);
    s.push('"');
    for b in digest.as_ref() {
        s.push_str(&format!("{b:02X}"));
    }
    s.push('"');
    // Hex digits and quotes are always a valid header value.
    HeaderValue::from_str(&s).unwrap_or(HeaderValue::from_static("\"\""))
}

/// The two roots that also answer in aggregated form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Root {
    Api,
    Apis,
}

/// Every discovery document, encoded once.
pub struct Discovery {
    legacy: HashMap<String, Doc>,
    aggregated: HashMap<(Root, Aggregated), Doc>,
}

// ---- wire types (field order is upstream's) ----

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApiVersions<'a> {
    kind: &'static str,
    versions: &'a [&'a str],
    #[serde(rename = "serverAddressByClientCIDRs")]
    server_address_by_client_cidrs: [ServerAddress<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ServerAddress<'a> {
    #[serde(rename = "clientCIDR")]
    client_cidr: &'static str,
    server_address: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GroupVersionForDiscovery {
    group_version: String,
    version: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApiGroup {
    #[serde(skip_serializing_if = "str::is_empty")]
    kind: &'static str,
    #[serde(skip_serializing_if = "str::is_empty")]
    api_version: &'static str,
    name: &'static str,
    versions: Vec<GroupVersionForDiscovery>,
    preferred_version: GroupVersionForDiscovery,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApiGroupList {
    kind: &'static str,
    api_version: &'static str,
    groups: Vec<ApiGroup>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApiResource {
    name: String,
    singular_name: &'static str,
    namespaced: bool,
    #[serde(skip_serializing_if = "str::is_empty")]
    group: &'static str,
    #[serde(skip_serializing_if = "str::is_empty")]
    version: &'static str,
    kind: &'static str,
    verbs: &'static [&'static str],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    short_names: &'static [&'static str],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    categories: &'static [&'static str],
    #[serde(skip_serializing_if = "String::is_empty")]
    storage_version_hash: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApiResourceList {
    kind: &'static str,
    /// Upstream strips it for the core group (and only there).
    #[serde(skip_serializing_if = "str::is_empty")]
    api_version: &'static str,
    group_version: String,
    resources: Vec<ApiResource>,
}

#[derive(Serialize)]
struct GvkJson {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
}

impl GvkJson {
    /// `kind` as upstream's aggregated discovery writes it for a resource of `home`: group and
    /// version empty when they are the resource's own (as in the legacy lists), filled in only
    /// for a kind of another group/version (a `Scale`, an `Eviction`).
    fn relative_to(kind: Gvk, home: Gvk) -> Self {
        let same = kind.group == home.group && kind.version == home.version;
        Self {
            group: if same { "" } else { kind.group },
            version: if same { "" } else { kind.version },
            kind: kind.kind,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SubresourceDiscovery {
    subresource: &'static str,
    response_kind: GvkJson,
    verbs: &'static [&'static str],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResourceDiscovery {
    resource: &'static str,
    response_kind: GvkJson,
    scope: &'static str,
    singular_resource: &'static str,
    verbs: &'static [&'static str],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    short_names: &'static [&'static str],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    categories: &'static [&'static str],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    subresources: Vec<SubresourceDiscovery>,
}

#[derive(Serialize)]
struct VersionDiscovery {
    version: &'static str,
    resources: Vec<ResourceDiscovery>,
    freshness: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GroupMeta {
    #[serde(skip_serializing_if = "str::is_empty")]
    name: &'static str,
    creation_timestamp: Option<()>,
}

#[derive(Serialize)]
struct GroupDiscovery {
    metadata: GroupMeta,
    versions: Vec<VersionDiscovery>,
}

#[derive(Serialize)]
struct EmptyMeta {}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GroupDiscoveryList<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    kind: &'static str,
    #[serde(skip_serializing_if = "str::is_empty")]
    api_version: &'static str,
    metadata: EmptyMeta,
    items: &'a [GroupDiscovery],
}

// ---- building ----

fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    // These types hold only strings, bools and vectors: serialization cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

/// Upstream's `storageVersionHash`: base64 of the first 8 bytes of
/// sha256("<group>/<version>/<kind>") of the storage version.
fn storage_version_hash(storage: Gvk) -> String {
    let d = ring::digest::digest(
        &ring::digest::SHA256,
        format!("{}/{}/{}", storage.group, storage.version, storage.kind).as_bytes(),
    );
    base64::engine::general_purpose::STANDARD.encode(&d.as_ref()[..8])
}

fn gv_for_discovery(group: &str, version: &'static str) -> GroupVersionForDiscovery {
    GroupVersionForDiscovery {
        group_version: group_version(group, version),
        version,
    }
}

/// APIResourceList entries: resources and `<plural>/<sub>` entries, sorted by name as
/// upstream's installer registers them.
fn api_resources(group: &str, version: &str) -> Vec<ApiResource> {
    let mut items = Vec::new();
    for r in resources::in_group_version(group, version) {
        items.push(ApiResource {
            name: r.plural.to_string(),
            singular_name: r.singular,
            namespaced: r.namespaced,
            group: "",
            version: "",
            kind: r.kind,
            verbs: r.verbs,
            short_names: r.short_names,
            categories: r.categories,
            storage_version_hash: if r.stored {
                storage_version_hash(r.storage)
            } else {
                String::new()
            },
        });
        for sub in r.subresources {
            let kind = sub.response_kind(r);
            let (g, v) = if kind.group == r.group && kind.version == r.version {
                ("", "")
            } else {
                (kind.group, kind.version)
            };
            items.push(ApiResource {
                name: format!("{}/{}", r.plural, sub.name()),
                singular_name: "",
                namespaced: r.namespaced,
                group: g,
                version: v,
                kind: kind.kind,
                verbs: sub.verbs(),
                short_names: &[],
                categories: &[],
                storage_version_hash: String::new(),
            });
        }
    }
    items.sort_by(|a, b| a.name.cmp(&b.name));
    items
}

fn resource_discovery(r: &resources::ApiResource) -> ResourceDiscovery {
    ResourceDiscovery {
        resource: r.plural,
        response_kind: GvkJson::relative_to(r.gvk(), r.gvk()),
        scope: if r.namespaced {
            "Namespaced"
        } else {
            "Cluster"
        },
        singular_resource: r.singular,
        verbs: r.verbs,
        short_names: r.short_names,
        categories: r.categories,
        subresources: r
            .subresources
            .iter()
            .map(|s| SubresourceDiscovery {
                subresource: s.name(),
                response_kind: GvkJson::relative_to(s.response_kind(r), r.gvk()),
                verbs: s.verbs(),
            })
            .collect(),
    }
}

fn group_discovery(g: &resources::GroupDef) -> GroupDiscovery {
    let mut versions = Vec::new();
    for v in g.versions {
        let mut rows: Vec<&resources::ApiResource> =
            resources::in_group_version(g.name, v).collect();
        rows.sort_by_key(|r| r.plural);
        versions.push(VersionDiscovery {
            version: v,
            resources: rows.into_iter().map(resource_discovery).collect(),
            freshness: "Current",
        });
    }
    GroupDiscovery {
        metadata: GroupMeta {
            name: g.name,
            creation_timestamp: None,
        },
        versions,
    }
}

/// Both aggregated encodings of one root. Upstream hashes the list without its type meta
/// (`{"metadata":{},"items":[...]}`), so v2 and v2beta1 share an ETag; `Vary: Accept` tells
/// caches apart.
fn aggregated_docs(items: &[GroupDiscovery]) -> [(Aggregated, Doc); 2] {
    let etag = etag_of(&to_json(&GroupDiscoveryList {
        kind: "",
        api_version: "",
        metadata: EmptyMeta {},
        items,
    }));
    [Aggregated::V2, Aggregated::V2Beta1].map(|a| {
        let body = to_json(&GroupDiscoveryList {
            kind: "APIGroupDiscoveryList",
            api_version: a.api_version(),
            metadata: EmptyMeta {},
            items,
        });
        (
            a,
            Doc {
                body: Bytes::from(body),
                etag: etag.clone(),
                content_type: a.content_type(),
            },
        )
    })
}

impl Discovery {
    /// Builds every document. `server_address` is what `/api` tells clients to reach
    /// (`serverAddressByClientCIDRs`, as kube-apiserver's external address).
    pub fn new(server_address: &str) -> Self {
        const JSON: &str = "application/json";
        let mut legacy = HashMap::new();
        legacy.insert(
            "/api".to_string(),
            Doc::new(
                to_json(&ApiVersions {
                    kind: "APIVersions",
                    versions: &["v1"],
                    server_address_by_client_cidrs: [ServerAddress {
                        client_cidr: "0.0.0.0/0",
                        server_address,
                    }],
                }),
                JSON,
            ),
        );
        let mut groups = Vec::new();
        let mut core = Vec::new();
        let mut named = Vec::new();
        for g in resources::groups() {
            for v in g.versions {
                let (path, api_version) = if g.name.is_empty() {
                    (format!("/api/{v}"), "")
                } else {
                    (format!("/apis/{}/{v}", g.name), "v1")
                };
                let list = ApiResourceList {
                    kind: "APIResourceList",
                    api_version,
                    group_version: group_version(g.name, v),
                    resources: api_resources(g.name, v),
                };
                legacy.insert(path, Doc::new(to_json(&list), JSON));
            }
            if g.name.is_empty() {
                core.push(group_discovery(g));
                continue;
            }
            named.push(group_discovery(g));
            let group = ApiGroup {
                kind: "APIGroup",
                api_version: "v1",
                name: g.name,
                versions: g
                    .versions
                    .iter()
                    .map(|v| gv_for_discovery(g.name, v))
                    .collect(),
                preferred_version: gv_for_discovery(g.name, g.preferred()),
            };
            legacy.insert(format!("/apis/{}", g.name), Doc::new(to_json(&group), JSON));
            groups.push(ApiGroup {
                kind: "",
                api_version: "",
                ..group
            });
        }
        legacy.insert(
            "/apis".to_string(),
            Doc::new(
                to_json(&ApiGroupList {
                    kind: "APIGroupList",
                    api_version: "v1",
                    groups,
                }),
                JSON,
            ),
        );
        let mut aggregated = HashMap::new();
        for (root, items) in [(Root::Api, &core), (Root::Apis, &named)] {
            for (a, doc) in aggregated_docs(items) {
                aggregated.insert((root, a), doc);
            }
        }
        Self { legacy, aggregated }
    }

    /// Answers discovery paths (GET/HEAD `/api`, `/apis` and below, up to a group version);
    /// None for anything else, so the chain goes on.
    pub fn serve<B>(&self, req: &Request<B>) -> Option<Response<Body>> {
        if req.method() != Method::GET && req.method() != Method::HEAD {
            return None;
        }
        let path = req.uri().path();
        let trimmed = path.trim_end_matches('/');
        let root = match trimmed {
            "/api" => Some(Root::Api),
            "/apis" => Some(Root::Apis),
            _ => None,
        };
        if root.is_none() && !is_discovery_path(trimmed) {
            return None;
        }
        let accept = req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let negotiated = negotiate(accept, root.is_some());
        let doc = match (root, negotiated) {
            (Some(root), Negotiated::Aggregated(a)) => self.aggregated.get(&(root, a)),
            (_, Negotiated::NotAcceptable) => {
                return Some(response::status(&Status::not_acceptable(SUPPORTED)))
            }
            _ => self.legacy.get(trimmed),
        };
        let Some(doc) = doc else {
            return Some(response::status(&Status::path_not_found()));
        };
        let aggregated = root.is_some() && matches!(negotiated, Negotiated::Aggregated(_));
        let not_modified = req
            .headers()
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .any(|v| v == doc.etag);
        let mut r = if not_modified {
            let mut r = response::full(StatusCode::NOT_MODIFIED, doc.content_type, Bytes::new());
            r.headers_mut().remove(header::CONTENT_TYPE);
            r
        } else {
            response::full(StatusCode::OK, doc.content_type, doc.body.clone())
        };
        let h = r.headers_mut();
        h.insert(header::ETAG, doc.etag.clone());
        if aggregated {
            h.insert(header::VARY, HeaderValue::from_static("Accept"));
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public"));
        }
        Some(r)
    }
}

/// `/api/<version>`, `/apis/<group>`, `/apis/<group>/<version>`: paths discovery owns,
/// known or not (unknown ones answer upstream's 404).
fn is_discovery_path(path: &str) -> bool {
    let segs: Vec<&str> = path.split('/').skip(1).collect();
    match segs.as_slice() {
        ["api", v] => !v.is_empty(),
        ["apis", g] | ["apis", g, _] => !g.is_empty(),
        _ => false,
    }
}

// ---- content negotiation (upstream: negotiation.NegotiateMediaTypeOptions + goautoneg) ----

/// What a request's Accept header selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Negotiated {
    /// Plain JSON (no conversion asked for, or the aggregated form was not acceptable).
    Legacy,
    /// An aggregated discovery list.
    Aggregated(Aggregated),
    /// Nothing upstream could encode.
    NotAcceptable,
}

impl Clause<'_> {
    /// The aggregated version asked for by `g`/`v`/`as` (None: no conversion asked).
    /// `Err` when the parameters ask for something discovery cannot be converted to.
    fn conversion(&self) -> Result<Option<Aggregated>, ()> {
        if self.param("sv").is_some_and(|v| !v.is_empty())
            || self
                .param("stream")
                .is_some_and(|v| !v.is_empty() && v != "watch")
        {
            return Err(());
        }
        let (g, v, kind) = (self.param("g"), self.param("v"), self.param("as"));
        if g.is_none() && v.is_none() && kind.is_none() {
            return Ok(None);
        }
        if g != Some("apidiscovery.k8s.io") || kind != Some("APIGroupDiscoveryList") {
            return Err(());
        }
        match v {
            Some("v2") => Ok(Some(Aggregated::V2)),
            Some("v2beta1") => Ok(Some(Aggregated::V2Beta1)),
            _ => Err(()),
        }
    }
}

/// Upstream's choice. On `/api` and `/apis` (`aggregated_root`) the first clause (in
/// goautoneg's order) that asks for an aggregated list in a media type we encode wins;
/// otherwise, and on every other path, the legacy handler takes a clause without conversion
/// in any media type upstream encodes (we answer JSON for YAML/protobuf too), or answers 406
/// if there is none. An empty header means JSON.
fn negotiate(accept: &str, aggregated_root: bool) -> Negotiated {
    if accept.trim().is_empty() {
        return Negotiated::Legacy;
    }
    let clauses = parse_accept(accept);
    if aggregated_root {
        for c in &clauses {
            if let (true, Ok(Some(a))) = (c.covers("json"), c.conversion()) {
                return Negotiated::Aggregated(a);
            }
        }
    }
    let upstream_encodes = |c: &Clause<'_>| {
        SUPPORTED
            .iter()
            .filter_map(|m| m.strip_prefix("application/"))
            .any(|sub| c.covers(sub))
    };
    if clauses
        .iter()
        .any(|c| upstream_encodes(c) && c.conversion() == Ok(None))
    {
        Negotiated::Legacy
    } else {
        Negotiated::NotAcceptable
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    const V2: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
    const V2B1: &str = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList";

    #[test]
    fn negotiation_follows_the_clients_order_and_q() {
        use Negotiated::*;
        let kubectl = format!("{V2},{V2B1},application/json");
        assert_eq!(negotiate(&kubectl, true), Aggregated(super::Aggregated::V2));
        assert_eq!(
            negotiate(&format!("{V2B1},application/json"), true),
            Aggregated(super::Aggregated::V2Beta1)
        );
        assert_eq!(
            negotiate(&format!("{V2B1}, {V2}"), true),
            Aggregated(super::Aggregated::V2Beta1)
        );
        assert_eq!(
            negotiate(&format!("{V2B1};q=0.5,{V2};q=0.9"), true),
            Aggregated(super::Aggregated::V2)
        );
        // Plain JSON first does not stop the aggregated clause behind it (upstream's wrapper
        // skips clauses without a discovery conversion).
        assert_eq!(
            negotiate(&format!("application/json,{V2}"), true),
            Aggregated(super::Aggregated::V2)
        );
        // Protobuf aggregated is skipped for the JSON one.
        assert_eq!(
            negotiate(&format!(
                "application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,{V2B1}"
            ), true),
            Aggregated(super::Aggregated::V2Beta1)
        );
        assert_eq!(negotiate("application/json", true), Legacy);
        assert_eq!(negotiate("*/*", true), Legacy);
        assert_eq!(negotiate("", true), Legacy);
        assert_eq!(
            negotiate("application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList,application/json;q=0.9", true),
            Legacy
        );
        assert_eq!(
            negotiate("application/vnd.kubernetes.protobuf", true),
            Legacy
        );
        assert_eq!(negotiate("text/html", true), NotAcceptable);
        // Below the roots only the legacy form exists.
        assert_eq!(negotiate(V2, false), NotAcceptable);
        assert_eq!(negotiate(&format!("{V2},application/json"), false), Legacy);
        assert_eq!(
            negotiate(
                "application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList",
                true
            ),
            NotAcceptable
        );
    }

    fn body(d: &Discovery, path: &str, accept: &str) -> serde_json::Value {
        let req = Request::builder()
            .uri(path)
            .header(header::ACCEPT, accept)
            .body(())
            .expect("request");
        let doc = match (path, negotiate(accept, path == "/api" || path == "/apis")) {
            ("/api", Negotiated::Aggregated(a)) => d.aggregated.get(&(Root::Api, a)),
            ("/apis", Negotiated::Aggregated(a)) => d.aggregated.get(&(Root::Apis, a)),
            _ => d.legacy.get(path),
        };
        assert!(d.serve(&req).is_some(), "{path}");
        serde_json::from_slice(&doc.expect("doc").body).expect("json")
    }

    #[test]
    fn documents_have_upstreams_shape() {
        let d = Discovery::new("10.0.0.1:6443");
        let api = body(&d, "/api", "application/json");
        assert_eq!(
            api,
            serde_json::json!({"kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "10.0.0.1:6443"}]})
        );
        let core = body(&d, "/api/v1", "application/json");
        assert!(
            core.get("apiVersion").is_none(),
            "core lists strip apiVersion"
        );
        let names: Vec<&str> = core["resources"]
            .as_array()
            .expect("resources")
            .iter()
            .filter_map(|r| r["name"].as_str())
            .collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
        assert!(names.contains(&"namespaces/finalize") && names.contains(&"pods/status"));
        let pods = &core["resources"][names.iter().position(|n| *n == "pods").expect("pods")];
        assert_eq!(pods["storageVersionHash"], "xPOwRZ+Yhw8=");
        assert_eq!(pods["categories"], serde_json::json!(["all"]));
        let apps = body(&d, "/apis/apps/v1", "");
        assert_eq!(apps["apiVersion"], "v1");
        let scale = apps["resources"]
            .as_array()
            .expect("resources")
            .iter()
            .find(|r| r["name"] == "deployments/scale")
            .expect("deployments/scale");
        assert_eq!(
            scale,
            &serde_json::json!({"name": "deployments/scale", "singularName": "", "namespaced": true,
                "group": "autoscaling", "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"]})
        );
        let ev = body(&d, "/apis/events.k8s.io/v1", "");
        assert_eq!(ev["resources"][0]["storageVersionHash"], "r2yiGXH7wu8=");
        let autoscaling = body(&d, "/apis/autoscaling", "");
        assert_eq!(
            autoscaling,
            serde_json::json!({"kind": "APIGroup", "apiVersion": "v1", "name": "autoscaling",
                "versions": [{"groupVersion": "autoscaling/v2", "version": "v2"},
                    {"groupVersion": "autoscaling/v1", "version": "v1"}],
                "preferredVersion": {"groupVersion": "autoscaling/v2", "version": "v2"}})
        );
        let apis = body(&d, "/apis", "");
        assert_eq!(apis["kind"], "APIGroupList");
        assert_eq!(apis["groups"][0]["name"], "apps");
        assert!(apis["groups"][0].get("kind").is_none());

        let agg = body(&d, "/api", V2);
        assert_eq!(agg["apiVersion"], "apidiscovery.k8s.io/v2");
        assert_eq!(
            agg["items"][0]["metadata"],
            serde_json::json!({"creationTimestamp": null})
        );
        let agg = body(&d, "/apis", V2B1);
        assert_eq!(agg["apiVersion"], "apidiscovery.k8s.io/v2beta1");
        assert_eq!(agg["items"][0]["metadata"]["name"], "apps");
        let deploy = &agg["items"][0]["versions"][0]["resources"][2];
        assert_eq!(deploy["resource"], "deployments");
        assert_eq!(
            deploy["subresources"][0],
            serde_json::json!({"subresource": "scale", "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"}, "verbs": ["get", "patch", "update"]})
        );
    }

    #[test]
    fn serve_answers_etags_304_and_404() {
        let d = Discovery::new("127.0.0.1:6443");
        let get = |path: &str, accept: &str, inm: Option<&HeaderValue>| {
            let mut b = Request::builder().uri(path).header(header::ACCEPT, accept);
            if let Some(v) = inm {
                b = b.header(header::IF_NONE_MATCH, v.clone());
            }
            d.serve(&b.body(()).expect("request"))
        };
        let r = get("/apis", V2, None).expect("served");
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[header::CONTENT_TYPE], V2);
        assert_eq!(r.headers()[header::VARY], "Accept");
        let etag = r.headers()[header::ETAG].clone();
        let r = get("/apis", V2, Some(&etag)).expect("served");
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
        assert!(r.headers().get(header::CONTENT_TYPE).is_none());
        let r = get("/apis", "application/json", None).expect("served");
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json");
        assert_ne!(r.headers()[header::ETAG], etag);
        assert_eq!(
            get("/apis/nope", "", None).expect("served").status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            get("/apis/apps/v9", "", None).expect("served").status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            get("/api/v2", "", None).expect("served").status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            get("/api", "text/html", None).expect("served").status(),
            StatusCode::NOT_ACCEPTABLE
        );
        assert!(get("/healthz", "", None).is_none());
        assert!(get("/apis/apps/v1/deployments", "", None).is_none());
        assert_eq!(
            get("/apis/apps/v1/", "", None).expect("served").status(),
            StatusCode::OK
        );
    }
}
