//! Discovery, as kube-apiserver serves it: `/api`, `/api/v1`, `/apis`, `/apis/<group>`,
//! `/apis/<group>/<version>` (legacy JSON), and aggregated discovery (`apidiscovery.k8s.io`
//! v2 and v2beta1, chosen by the Accept header as kubectl 1.27+ asks). Every body is built
//! once from the resource table; responses carry an ETag and honour `If-None-Match`.

use std::collections::HashMap;

use base64::Engine;
use bytes::Bytes;
use http::{header, HeaderValue, StatusCode};
use hyper::{Request, Response};
use serde_json::{json, Value};
use shards::server::Body;

use crate::endpoints::response;
use crate::registry::resources::{self, ResourceDef, SUBRESOURCE_VERBS};

/// A prepared discovery document.
struct Doc {
    body: Bytes,
    etag: HeaderValue,
    content_type: &'static str,
}

/// Which aggregated discovery version a client asked for.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Aggregated {
    V2,
    V2Beta1,
}

/// All discovery documents, precomputed.
pub struct Discovery {
    legacy: HashMap<String, Doc>,
    aggregated: HashMap<(&'static str, Aggregated), Doc>,
}

fn doc(value: &Value, content_type: &'static str) -> Doc {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let digest = ring::digest::digest(&ring::digest::SHA512, &body);
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    let etag =
        HeaderValue::from_str(&format!("\"{hex}\"")).unwrap_or(HeaderValue::from_static("\"\""));
    Doc {
        body: Bytes::from(body),
        etag,
        content_type,
    }
}

fn group_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

/// upstream: base64 of the first 8 bytes of sha256("<group>/<version>/<kind>").
fn storage_version_hash(r: &ResourceDef) -> String {
    let d = ring::digest::digest(
        &ring::digest::SHA256,
        format!("{}/{}/{}", r.group, r.version, r.kind).as_bytes(),
    );
    base64::engine::general_purpose::STANDARD.encode(&d.as_ref()[..8])
}

fn subresource_kind(r: &ResourceDef, sub: &str) -> (String, String, String) {
    match sub {
        "scale" => ("autoscaling".into(), "v1".into(), "Scale".into()),
        _ => (r.group.into(), r.version.into(), r.kind.into()),
    }
}

fn resource_list(group: &str, version: &str) -> Value {
    let mut items = Vec::new();
    for r in resources::in_group_version(group, version) {
        let mut e = json!({
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": r.verbs,
        });
        if !r.short_names.is_empty() {
            e["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            e["categories"] = json!(r.categories);
        }
        e["storageVersionHash"] = json!(storage_version_hash(r));
        items.push(e);
        for sub in r.subresources {
            let (g, v, k) = subresource_kind(r, sub);
            let verbs: &[&str] = if *sub == "finalize" {
                &["update"]
            } else {
                SUBRESOURCE_VERBS
            };
            let mut s = json!({"name": format!("{}/{sub}", r.plural), "singularName": "", "namespaced": r.namespaced, "kind": k, "verbs": verbs});
            if *sub == "scale" {
                s["group"] = json!(g);
                s["version"] = json!(v);
            }
            items.push(s);
        }
    }
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version(group, version), "resources": items})
}

fn aggregated_group(group: &str, versions: &[&str]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| {
            let res: Vec<Value> = resources::in_group_version(group, v)
                .map(|r| {
                    let mut e = json!({
                        "resource": r.plural,
                        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
                        "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
                        "singularResource": r.singular,
                        "verbs": r.verbs,
                    });
                    if !r.short_names.is_empty() {
                        e["shortNames"] = json!(r.short_names);
                    }
                    if !r.categories.is_empty() {
                        e["categories"] = json!(r.categories);
                    }
                    let subs: Vec<Value> = r
                        .subresources
                        .iter()
                        .map(|s| {
                            let (g, v, k) = subresource_kind(r, s);
                            let verbs: &[&str] = if *s == "finalize" { &["update"] } else { SUBRESOURCE_VERBS };
                            json!({"subresource": s, "responseKind": {"group": g, "version": v, "kind": k}, "verbs": verbs})
                        })
                        .collect();
                    if !subs.is_empty() {
                        e["subresources"] = json!(subs);
                    }
                    e
                })
                .collect();
            json!({"version": v, "resources": res, "freshness": "Current"})
        })
        .collect();
    json!({"metadata": {"name": group, "creationTimestamp": null}, "versions": vs})
}

impl Discovery {
    /// Builds every document. `server_address` is what `/api` reports clients can reach.
    pub fn new(server_address: &str) -> Self {
        let mut legacy = HashMap::new();
        let groups = resources::groups();
        legacy.insert(
            "/api".to_string(),
            doc(
                &json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}),
                "application/json",
            ),
        );
        let mut group_entries = Vec::new();
        for (g, versions) in &groups {
            for v in versions {
                let path = if g.is_empty() {
                    format!("/api/{v}")
                } else {
                    format!("/apis/{g}/{v}")
                };
                legacy.insert(path, doc(&resource_list(g, v), "application/json"));
            }
            if g.is_empty() {
                continue;
            }
            let vs: Vec<Value> = versions
                .iter()
                .map(|v| json!({"groupVersion": group_version(g, v), "version": v}))
                .collect();
            let preferred = vs.first().cloned().unwrap_or(Value::Null);
            let entry = json!({"name": g, "versions": vs, "preferredVersion": preferred});
            let mut group_doc = json!({"kind": "APIGroup", "apiVersion": "v1"});
            if let (Some(d), Some(e)) = (group_doc.as_object_mut(), entry.as_object()) {
                d.extend(e.clone());
            }
            legacy.insert(format!("/apis/{g}"), doc(&group_doc, "application/json"));
            group_entries.push(entry);
        }
        legacy.insert(
            "/apis".to_string(),
            doc(
                &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": group_entries}),
                "application/json",
            ),
        );

        let mut aggregated = HashMap::new();
        for (agg, version, ct) in [
            (
                Aggregated::V2,
                "v2",
                "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
            ),
            (
                Aggregated::V2Beta1,
                "v2beta1",
                "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList",
            ),
        ] {
            let list = |items: Vec<Value>| json!({"kind": "APIGroupDiscoveryList", "apiVersion": format!("apidiscovery.k8s.io/{version}"), "metadata": {}, "items": items});
            let core: Vec<Value> = groups
                .iter()
                .filter(|(g, _)| g.is_empty())
                .map(|(g, v)| aggregated_group(g, v))
                .collect();
            let named: Vec<Value> = groups
                .iter()
                .filter(|(g, _)| !g.is_empty())
                .map(|(g, v)| aggregated_group(g, v))
                .collect();
            aggregated.insert(("/api", agg), doc(&list(core), ct));
            aggregated.insert(("/apis", agg), doc(&list(named), ct));
        }
        Self { legacy, aggregated }
    }

    /// Answers discovery paths; None for anything else.
    pub fn serve<B>(&self, req: &Request<B>) -> Option<Response<Body>> {
        let path = req.uri().path().trim_end_matches('/');
        let path = if path.is_empty() { "/" } else { path };
        let accept = req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let d = match (path, negotiate(accept)) {
            ("/api", Some(a)) => self.aggregated.get(&("/api", a)),
            ("/apis", Some(a)) => self.aggregated.get(&("/apis", a)),
            _ => self.legacy.get(path),
        }?;
        let not_modified = req
            .headers()
            .get(header::IF_NONE_MATCH)
            .is_some_and(|v| v == d.etag);
        let mut r = if not_modified {
            let mut r = response::full(StatusCode::NOT_MODIFIED, d.content_type, Bytes::new());
            r.headers_mut().remove(header::CONTENT_TYPE);
            r
        } else {
            response::full(StatusCode::OK, d.content_type, d.body.clone())
        };
        r.headers_mut().insert(header::ETAG, d.etag.clone());
        r.headers_mut()
            .insert(header::VARY, HeaderValue::from_static("Accept"));
        Some(r)
    }
}

/// The aggregated form the client prefers, in its order; None: legacy JSON.
fn negotiate(accept: &str) -> Option<Aggregated> {
    for range in accept.split(',') {
        let params: Vec<&str> = range.split(';').map(str::trim).collect();
        if params.first().is_some_and(|m| *m == "application/json")
            && params.contains(&"g=apidiscovery.k8s.io")
            && params.contains(&"as=APIGroupDiscoveryList")
        {
            if params.contains(&"v=v2") {
                return Some(Aggregated::V2);
            }
            if params.contains(&"v=v2beta1") {
                return Some(Aggregated::V2Beta1);
            }
        }
        if params
            .first()
            .is_some_and(|m| *m == "application/json" || *m == "*/*")
            && params.len() == 1
        {
            return None;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_follows_the_clients_order() {
        let kubectl = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert!(negotiate(kubectl) == Some(Aggregated::V2));
        assert!(negotiate("application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json") == Some(Aggregated::V2Beta1));
        assert!(negotiate("application/json").is_none());
        assert!(negotiate("").is_none());
    }
}
