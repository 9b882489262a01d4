//! JSON values as the block YAML gnostic puts in `Any.yaml` (go-yaml v3's layout: plain
//! scalars where they read back as the same string, four-space indents, `- ` for sequence
//! items). Values here are small: extension values, enum members, defaults.

use serde_json::Value;

/// `v` as a YAML document (ending in a newline).
pub(super) fn to_yaml(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Object(m) if !m.is_empty() => mapping(&mut out, v, 0),
        Value::Array(a) if !a.is_empty() => sequence(&mut out, v, 0),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

fn indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn is_block(v: &Value) -> bool {
    match v {
        Value::Object(m) => !m.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => false,
    }
}

fn mapping(out: &mut String, v: &Value, at: usize) {
    let Some(m) = v.as_object() else { return };
    for (i, (k, val)) in m.iter().enumerate() {
        if i > 0 {
            indent(out, at);
        }
        out.push_str(&string(k));
        out.push(':');
        if is_block(val) {
            out.push('\n');
            indent(out, at + 4);
            if val.is_object() {
                mapping(out, val, at + 4);
            } else {
                sequence(out, val, at + 4);
            }
        } else {
            out.push(' ');
            out.push_str(&scalar(val));
            out.push('\n');
        }
    }
}

fn sequence(out: &mut String, v: &Value, at: usize) {
    let Some(a) = v.as_array() else { return };
    for (i, item) in a.iter().enumerate() {
        if i > 0 {
            indent(out, at);
        }
        out.push_str("- ");
        match item {
            Value::Object(m) if !m.is_empty() => mapping(out, item, at + 2),
            Value::Array(x) if !x.is_empty() => sequence(out, item, at + 2),
            other => {
                out.push_str(&scalar(other));
                out.push('\n');
            }
        }
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

/// A string plain when YAML reads it back as that string, else double-quoted.
fn string(s: &str) -> String {
    if plain_is_safe(s) {
        s.to_string()
    } else {
        Value::String(s.to_string()).to_string()
    }
}

fn plain_is_safe(s: &str) -> bool {
    const RESERVED: &[&str] = &[
        "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~",
    ];
    let Some(first) = s.chars().next() else {
        return false;
    };
    if RESERVED.contains(&s.to_ascii_lowercase().as_str()) || s.parse::<f64>().is_ok() {
        return false;
    }
    if "-?:,[]{}#&*!|>'\"%@` ".contains(first) || s.ends_with(' ') {
        return false;
    }
    !s.contains(": ")
        && !s.contains(" #")
        && !s.ends_with(':')
        && s.chars().all(|c| !c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn layouts() {
        assert_eq!(to_yaml(&json!("merge")), "merge\n");
        assert_eq!(to_yaml(&json!("merge,retainKeys")), "merge,retainKeys\n");
        assert_eq!(to_yaml(&json!("")), "\"\"\n");
        assert_eq!(to_yaml(&json!("true")), "\"true\"\n");
        assert_eq!(to_yaml(&json!("80")), "\"80\"\n");
        assert_eq!(to_yaml(&json!(true)), "true\n");
        assert_eq!(
            to_yaml(&json!(["port", "protocol"])),
            "- port\n- protocol\n"
        );
        assert_eq!(
            to_yaml(&json!({"group": "apps", "kind": "Deployment", "version": "v1"})),
            "group: apps\nkind: Deployment\nversion: v1\n"
        );
        assert_eq!(
            to_yaml(&json!([{"group": "", "kind": "Pod", "version": "v1"}])),
            "- group: \"\"\n  kind: Pod\n  version: v1\n"
        );
        assert_eq!(
            to_yaml(&json!({"a": {"b": [1]}})),
            "a:\n    b:\n        - 1\n"
        );
        assert_eq!(to_yaml(&json!({})), "{}\n");
        assert_eq!(to_yaml(&json!("a: b")), "\"a: b\"\n");
    }
}
