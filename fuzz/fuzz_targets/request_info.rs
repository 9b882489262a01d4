//! Request path -> `RequestInfo` (`kubeshard::request::RequestInfo::resolve`) and the query
//! decoder it uses (`kubeshard::request::info::url_pairs`).
//!
//! Input: first byte picks the method, the rest is `path[?query]` (lossy UTF-8).
//! Properties: never panics; resolving is deterministic; empty path segments (`//`, a
//! trailing `/`) do not change the answer; a resource request has an `api`/`apis` prefix and
//! a version and no `/` in its name, namespace, resource or subresource; the verb is one of
//! upstream's; the decoded query pairs, percent-encoded again, decode to the same pairs.
#![no_main]

use http::Method;
use kubeshard::request::info::url_pairs;
use kubeshard::request::RequestInfo;
use kubeshard_fuzz::percent_encode_all;
use libfuzzer_sys::fuzz_target;

const METHODS: [Method; 8] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::HEAD,
    Method::OPTIONS,
    Method::CONNECT,
];

fuzz_target!(|data: &[u8]| {
    let Some((&m, rest)) = data.split_first() else {
        return;
    };
    let method = &METHODS[usize::from(m) % METHODS.len()];
    let text = String::from_utf8_lossy(rest);
    let (path, query) = match text.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (&*text, None),
    };

    let info = RequestInfo::resolve(method, path, query);
    assert_eq!(
        info,
        RequestInfo::resolve(method, path, query),
        "not deterministic"
    );
    assert_eq!(info.path, path);

    // Empty segments are ignored: doubling every slash and adding a trailing one is the same
    // request (only `path` differs).
    let doubled = format!("{}/", path.replace('/', "//"));
    let mut again = RequestInfo::resolve(method, &doubled, query);
    again.path = info.path.clone();
    assert_eq!(
        info, again,
        "empty path segments changed the answer for {doubled:?}"
    );

    if info.is_resource_request {
        assert!(info.api_prefix == "api" || info.api_prefix == "apis");
        assert!(!info.api_version.is_empty());
        for part in [
            &info.namespace,
            &info.resource,
            &info.subresource,
            &info.api_group,
            &info.api_version,
        ] {
            assert!(!part.contains('/'), "{part:?} from {path:?}");
        }
        // The name may come from a fieldSelector (any text), but never from more than one
        // path segment.
        if !(query.is_some_and(|q| q.contains("fieldSelector"))) {
            assert!(!info.name.contains('/'), "{:?} from {path:?}", info.name);
        }
        assert!(
            matches!(
                info.verb.as_str(),
                "get"
                    | "list"
                    | "watch"
                    | "create"
                    | "update"
                    | "patch"
                    | "delete"
                    | "deletecollection"
                    | ""
            ),
            "verb {:?}",
            info.verb
        );
    } else {
        assert_eq!(info.verb, method.as_str().to_ascii_lowercase());
    }

    if let Some(q) = query {
        let pairs: Vec<(String, String)> = url_pairs(q).collect();
        let encoded: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", percent_encode_all(k), percent_encode_all(v)))
            .collect();
        // An empty key with an empty value re-encodes as "=", which url_pairs reads as ("", "").
        let again: Vec<(String, String)> = url_pairs(&encoded.join("&")).collect();
        assert_eq!(pairs, again, "query {q:?}");
    }
});
