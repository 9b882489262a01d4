//! Label and field selectors, with upstream's syntax and errors.
//!
//! Labels: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x,y)`, `a`, `!a`, comma-separated.
//! Fields: `path=value`, `path==value`, `path!=value`, comma-separated.

use serde_json::{Map, Value};

/// One label requirement.
#[derive(Clone, Debug, PartialEq, Eq)]
enum LabelReq {
    Eq(String, String),
    Ne(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed label selector; the empty selector matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector(Vec<LabelReq>);

/// Splits on commas that are not inside parentheses.
fn split_terms(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out.into_iter()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect()
}

fn set_values(rest: &str, term: &str) -> Result<Vec<String>, String> {
    let inner = rest
        .trim()
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| format!("unable to parse requirement: found '{term}', expected: '('"))?;
    Ok(inner
        .split(',')
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect())
}

/// A `metav1.LabelSelector` (`matchLabels` and `matchExpressions`, or the plain map
/// replication controllers use) in the query syntax [`LabelSelector::parse`] reads; `""` (all)
/// for an empty one.
pub fn label_selector_string(sel: &Value) -> String {
    let mut terms = Vec::new();
    let labels = sel
        .get("matchLabels")
        .or(if sel.get("matchExpressions").is_none() {
            Some(sel)
        } else {
            None
        });
    if let Some(m) = labels.and_then(Value::as_object) {
        for (k, v) in m {
            terms.push(format!("{k}={}", v.as_str().unwrap_or("")));
        }
    }
    for e in sel
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = e.get("key").and_then(Value::as_str).unwrap_or("");
        let values: Vec<&str> = e
            .get("values")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        match e.get("operator").and_then(Value::as_str).unwrap_or("") {
            "In" => terms.push(format!("{key} in ({})", values.join(","))),
            "NotIn" => terms.push(format!("{key} notin ({})", values.join(","))),
            "Exists" => terms.push(key.to_string()),
            "DoesNotExist" => terms.push(format!("!{key}")),
            _ => {}
        }
    }
    terms.join(",")
}

impl LabelSelector {
    /// Parses a `labelSelector` query value.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut reqs = Vec::new();
        for term in split_terms(s) {
            let req = if let Some(k) = term.strip_prefix('!') {
                LabelReq::NotExists(k.trim().to_string())
            } else if let Some((k, v)) = term.split_once("!=") {
                LabelReq::Ne(k.trim().to_string(), v.trim().to_string())
            } else if let Some((k, v)) = term.split_once("==") {
                LabelReq::Eq(k.trim().to_string(), v.trim().to_string())
            } else if let Some((k, v)) = term.split_once('=') {
                LabelReq::Eq(k.trim().to_string(), v.trim().to_string())
            } else if let Some(idx) = term.find(" notin ") {
                LabelReq::NotIn(
                    term[..idx].trim().to_string(),
                    set_values(&term[idx + 7..], term)?,
                )
            } else if let Some(idx) = term.find(" in ") {
                LabelReq::In(
                    term[..idx].trim().to_string(),
                    set_values(&term[idx + 4..], term)?,
                )
            } else if term.contains(|c: char| c.is_whitespace() || c == '(' || c == ')') {
                return Err(format!("unable to parse requirement: found '{term}'"));
            } else {
                LabelReq::Exists(term.to_string())
            };
            let key = match &req {
                LabelReq::Eq(k, _)
                | LabelReq::Ne(k, _)
                | LabelReq::In(k, _)
                | LabelReq::NotIn(k, _) => k,
                LabelReq::Exists(k) | LabelReq::NotExists(k) => k,
            };
            let problems = crate::api::validation::qualified_name(key);
            if let Some(p) = problems.first() {
                return Err(format!(
                    "unable to parse requirement: invalid label key \"{key}\": {p}"
                ));
            }
            reqs.push(req);
        }
        Ok(Self(reqs))
    }

    /// True when there is nothing to check.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `labels` (a metadata.labels object, or None) satisfies every requirement.
    pub fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.0.iter().all(|r| match r {
            LabelReq::Eq(k, v) => get(k) == Some(v.as_str()),
            LabelReq::Ne(k, v) => get(k) != Some(v.as_str()),
            LabelReq::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            LabelReq::NotIn(k, vs) => get(k).is_none_or(|x| !vs.iter().any(|v| v == x)),
            LabelReq::Exists(k) => get(k).is_some(),
            LabelReq::NotExists(k) => get(k).is_none(),
        })
    }
}

/// A parsed field selector over the fields a kind supports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSelector(Vec<(String, bool, String)>);

impl FieldSelector {
    /// Parses a `fieldSelector` value, accepting only the fields in `supported` (plus
    /// `metadata.name` and `metadata.namespace`).
    pub fn parse(s: &str, supported: &[&str]) -> Result<Self, String> {
        let mut out = Vec::new();
        // Field selectors have no sets: a comma always ends a term (as upstream splits them,
        // and as `RequestInfo` reads the name it authorizes). Found by fuzz/field_selector.
        for term in s.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (k, eq, v) = if let Some((k, v)) = term.split_once("!=") {
                (k, false, v)
            } else if let Some((k, v)) = term.split_once("==") {
                (k, true, v)
            } else if let Some((k, v)) = term.split_once('=') {
                (k, true, v)
            } else {
                return Err(format!(
                    "invalid selector: '{s}'; can't understand '{term}'"
                ));
            };
            let k = k.trim();
            if !(k == "metadata.name" || k == "metadata.namespace" || supported.contains(&k)) {
                return Err(format!("field label not supported: {k}"));
            }
            out.push((k.to_string(), eq, v.trim().to_string()));
        }
        Ok(Self(out))
    }

    /// True when there is nothing to check.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the object's fields satisfy every term (a missing field is "").
    pub fn matches(&self, obj: &Value) -> bool {
        self.0.iter().all(|(path, eq, want)| {
            let mut cur = Some(obj);
            for part in path.split('.') {
                cur = cur.and_then(|c| c.get(part));
            }
            let got = match cur {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Bool(b)) => b.to_string(),
                Some(Value::Number(n)) => n.to_string(),
                _ => String::new(),
            };
            (got == *want) == *eq
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn labels(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn label_selectors() {
        let l = labels(serde_json::json!({"app": "web", "tier": "front"}));
        for (sel, want) in [
            ("app=web", true),
            ("app==web", true),
            ("app!=web", false),
            ("app in (web,db)", true),
            ("app notin (web)", false),
            ("tier", true),
            ("!tier", false),
            ("!missing,app=web", true),
            ("missing notin (x)", true),
            ("app=web,tier in (back)", false),
            ("", true),
        ] {
            assert_eq!(
                LabelSelector::parse(sel).unwrap().matches(Some(&l)),
                want,
                "{sel}"
            );
        }
        assert!(LabelSelector::parse("app in web").is_err());
        assert!(LabelSelector::parse("bad key=1").is_err());
    }

    #[test]
    fn field_selectors() {
        let pod = serde_json::json!({"metadata": {"name": "p"}, "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}});
        let sup = ["spec.nodeName", "status.phase"];
        assert!(
            FieldSelector::parse("spec.nodeName=n1,status.phase!=Failed", &sup)
                .unwrap()
                .matches(&pod)
        );
        assert!(!FieldSelector::parse("metadata.name=q", &sup)
            .unwrap()
            .matches(&pod));
        assert_eq!(
            FieldSelector::parse("spec.foo=1", &sup).unwrap_err(),
            "field label not supported: spec.foo"
        );
    }

    #[test]
    fn field_selector_terms_split_at_every_comma() {
        // fuzz/field_selector, minimised "metadata.name=(,": the name RequestInfo authorizes
        // ("(") is the only name the selector admits.
        let sel = FieldSelector::parse("metadata.name=(,", &[]).unwrap();
        assert!(sel.matches(&serde_json::json!({"metadata": {"name": "("}})));
        assert!(!sel.matches(&serde_json::json!({"metadata": {"name": "(,"}})));
        for bad in ["metadata.name=(a,b)", "metadata.name=)a,b"] {
            assert!(FieldSelector::parse(bad, &[]).is_err(), "{bad}");
        }
    }
}
