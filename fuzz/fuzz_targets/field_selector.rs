//! Field selectors: `kubeshard::request::selector::FieldSelector::parse` (with the Pods'
//! selectable fields) and `matches`, against the name `RequestInfo::resolve` reads from the
//! same `fieldSelector` (what authorization checks `resourceNames` against).
//!
//! Input: a selector string (lossy UTF-8).
//! Properties: never panics; a leading comma changes nothing; `metadata.name=<v>` with a
//! plain value matches the object named `<v>` and no other (`!=` the opposite); and when a
//! list request's RequestInfo carries a name from the selector, the selector matches no
//! object of another name (else a user allowed one name could list others).
#![no_main]

use http::Method;
use kubeshard::registry::kinds::pod::PodHooks;
use kubeshard::registry::kinds::KindHooks;
use kubeshard::request::selector::FieldSelector;
use kubeshard::request::RequestInfo;
use kubeshard_fuzz::percent_encode_all;
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Map, Value};

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let fields = PodHooks.selectable_fields();
    let parsed = FieldSelector::parse(&s, fields);
    // (Errors quote the whole selector, so only the outcome is compared.)
    assert_eq!(
        parsed.as_ref().ok(),
        FieldSelector::parse(&format!(",{s}"), fields).as_ref().ok(),
        "leading comma"
    );
    // A plain value names exactly one object.
    let v = s.trim();
    if !v.is_empty()
        && v.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"-._".contains(&c))
    {
        let eq = FieldSelector::parse(&format!("metadata.name={v}"), fields).unwrap();
        let ne = FieldSelector::parse(&format!("metadata.name!={v}"), fields).unwrap();
        let named = |n: &str| json!({"metadata": {"name": n}});
        assert!(eq.matches(&named(v)) && !ne.matches(&named(v)), "{v}");
        let other = format!("{v}x");
        assert!(
            !eq.matches(&named(&other)) && ne.matches(&named(&other)),
            "{v}"
        );
    }

    let Ok(sel) = parsed else {
        return;
    };
    let pod = json!({"metadata": {"name": "p", "namespace": "ns"},
                     "spec": {"nodeName": "n1", "restartPolicy": "Always"},
                     "status": {"phase": "Running"}});
    let _ = sel.matches(&pod);
    let _ = sel.matches(&Value::Null);

    // The name RequestInfo takes from the selector must be the only name it admits.
    let query = format!("fieldSelector={}", percent_encode_all(&s));
    for path in ["/api/v1/namespaces/ns/pods", "/api/v1/pods"] {
        let info = RequestInfo::resolve(&Method::GET, path, Some(&query));
        assert_eq!(info.verb, "list");
        if info.name.is_empty() {
            continue;
        }
        let (mut candidates, base) = names_and_object(&s);
        candidates.push(format!("{}x", info.name));
        candidates.push(String::new());
        for c in candidates.iter().filter(|c| **c != info.name) {
            let mut obj = base.clone();
            set(&mut obj, "metadata.name", c);
            assert!(
                !sel.matches(&obj),
                "RequestInfo authorizes name {:?} but the selector {s:?} also matches an object named {c:?} ({obj})",
                info.name
            );
        }
    }
});

/// Upstream's term splitting (commas outside parentheses), as `FieldSelector` reads them:
/// the values the selector's `metadata.name` equality terms give, and an object that has every
/// equality term's value at its path.
fn names_and_object(s: &str) -> (Vec<String>, Value) {
    let mut terms = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                terms.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    terms.push(&s[start..]);
    let mut names = Vec::new();
    let mut obj = Value::Object(Map::new());
    for t in terms.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
        let (k, eq, v) = if let Some((k, v)) = t.split_once("!=") {
            (k, false, v)
        } else if let Some((k, v)) = t.split_once("==") {
            (k, true, v)
        } else if let Some((k, v)) = t.split_once('=') {
            (k, true, v)
        } else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        if eq {
            set(&mut obj, k, v);
            if k == "metadata.name" {
                names.push(v.to_string());
            }
        }
    }
    (names, obj)
}

/// Sets the string at a dotted path, making objects on the way.
fn set(obj: &mut Value, path: &str, v: &str) {
    let mut cur = obj;
    let parts: Vec<&str> = path.split('.').collect();
    for (i, p) in parts.iter().enumerate() {
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        let Value::Object(m) = cur else { return };
        if i + 1 == parts.len() {
            m.insert(p.to_string(), Value::String(v.to_string()));
            return;
        }
        cur = m
            .entry(p.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
}
