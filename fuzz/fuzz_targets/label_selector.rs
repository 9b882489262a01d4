//! Label selectors: `kubeshard::request::selector::LabelSelector::parse` and `matches`, and
//! `label_selector_string` (a `metav1.LabelSelector` -> the query syntax).
//!
//! Input: a selector string (lossy UTF-8); when it is also a JSON object, it is read as a
//! `metav1.LabelSelector` too.
//! Properties: never panics; a leading comma changes nothing; for a `metav1.LabelSelector`
//! whose keys and values are valid (and operators upstream accepts), its string form parses
//! and matches exactly the label sets upstream's semantics match (matchLabels equal; In: key
//! present with a listed value; NotIn: key absent or value not listed; Exists;
//! DoesNotExist), checked on label sets built from the selector's own keys and values.
#![no_main]

use kubeshard::api::validation::{label_value, qualified_name};
use kubeshard::request::selector::{label_selector_string, LabelSelector};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let parsed = LabelSelector::parse(&s);
    assert_eq!(
        parsed,
        LabelSelector::parse(&format!(",{s}")),
        "leading comma"
    );
    if let Ok(sel) = &parsed {
        let _ = sel.matches(None);
        let mut l = Map::new();
        l.insert("app".into(), Value::String("web".into()));
        let _ = sel.matches(Some(&l));
        if sel.is_empty() {
            assert!(
                sel.matches(None) && sel.matches(Some(&l)),
                "the empty selector matches all"
            );
        }
    }

    if let Ok(v @ Value::Object(_)) = serde_json::from_slice::<Value>(data) {
        check_metav1(&v);
    }
});

/// One requirement of a `metav1.LabelSelector`, checked upstream's way.
enum Req {
    Eq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

impl Req {
    fn matches(&self, labels: &Map<String, Value>) -> bool {
        let get = |k: &str| labels.get(k).and_then(Value::as_str);
        match self {
            Req::Eq(k, v) => get(k) == Some(v),
            Req::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Req::NotIn(k, vs) => get(k).is_none_or(|x| !vs.iter().any(|v| v == x)),
            Req::Exists(k) => get(k).is_some(),
            Req::NotExists(k) => get(k).is_none(),
        }
    }
}

/// The requirements upstream's `LabelSelectorAsSelector` accepts, or None when it would
/// refuse the selector (or when `label_selector_string` reads it differently on purpose).
fn requirements(sel: &Value) -> Option<Vec<Req>> {
    let valid_key = |k: &str| qualified_name(k).is_empty();
    let valid_value = |v: &str| label_value(v).is_empty();
    let mut reqs = Vec::new();
    let labels = match (sel.get("matchLabels"), sel.get("matchExpressions")) {
        (Some(m), _) => Some(m),
        (None, None) => Some(sel),
        (None, Some(_)) => None,
    };
    if let Some(m) = labels {
        for (k, v) in m.as_object()? {
            let v = v.as_str()?;
            if !valid_key(k) || !valid_value(v) {
                return None;
            }
            reqs.push(Req::Eq(k.clone(), v.to_string()));
        }
    }
    if let Some(exprs) = sel.get("matchExpressions") {
        for e in exprs.as_array()? {
            let key = e.get("key")?.as_str()?.to_string();
            if !valid_key(&key) {
                return None;
            }
            let values: Vec<String> = match e.get("values") {
                None | Some(Value::Null) => Vec::new(),
                Some(vs) => vs
                    .as_array()?
                    .iter()
                    .map(|v| v.as_str().map(str::to_string))
                    .collect::<Option<_>>()?,
            };
            if !values.iter().all(|v| valid_value(v)) {
                return None;
            }
            reqs.push(match e.get("operator")?.as_str()? {
                "In" if !values.is_empty() => Req::In(key, values),
                "NotIn" if !values.is_empty() => Req::NotIn(key, values),
                "Exists" if values.is_empty() => Req::Exists(key),
                "DoesNotExist" if values.is_empty() => Req::NotExists(key),
                _ => return None,
            });
        }
    }
    Some(reqs)
}

fn check_metav1(sel: &Value) {
    let text = label_selector_string(sel);
    let parsed = LabelSelector::parse(&text);
    let Some(reqs) = requirements(sel) else {
        return;
    };
    let parsed = parsed.unwrap_or_else(|e| {
        panic!("the string form {text:?} of a valid selector {sel} does not parse: {e}")
    });

    // Label sets to try: every key absent, then each key set to each value the selector
    // names (and to one it does not), one key at a time and all at once.
    let mut keys: Vec<&str> = Vec::new();
    let mut values: Vec<&str> = vec!["", "zz-other"];
    for r in &reqs {
        match r {
            Req::Eq(k, v) => {
                keys.push(k);
                values.push(v);
            }
            Req::In(k, vs) | Req::NotIn(k, vs) => {
                keys.push(k);
                values.extend(vs.iter().map(String::as_str));
            }
            Req::Exists(k) | Req::NotExists(k) => keys.push(k),
        }
    }
    keys.truncate(8);
    values.truncate(8);
    let mut sets: Vec<Map<String, Value>> = vec![Map::new()];
    for v in &values {
        let all: Map<String, Value> = keys
            .iter()
            .map(|k| (k.to_string(), Value::String(v.to_string())))
            .collect();
        sets.push(all);
        for k in &keys {
            let mut one = Map::new();
            one.insert(k.to_string(), Value::String(v.to_string()));
            sets.push(one);
        }
    }
    // The set the selector's own Eq / In requirements describe.
    let mut own = Map::new();
    for r in &reqs {
        match r {
            Req::Eq(k, v) => {
                own.insert(k.clone(), Value::String(v.clone()));
            }
            Req::In(k, vs) => {
                own.insert(k.clone(), Value::String(vs[0].clone()));
            }
            Req::Exists(k) => {
                own.entry(k.clone()).or_insert(Value::String("x".into()));
            }
            _ => {}
        }
    }
    sets.push(own);

    for labels in &sets {
        let want = reqs.iter().all(|r| r.matches(labels));
        assert_eq!(
            parsed.matches(Some(labels)),
            want,
            "selector {sel} as {text:?} on labels {}",
            Value::Object(labels.clone())
        );
    }
}
