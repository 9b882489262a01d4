//! flowcontrol.apiserver.k8s.io's FlowSchema and PriorityLevelConfiguration: upstream's v1
//! defaults (`matchingPrecedence` 1000; a limited level's 30 shares, its queues 64 × hand 8 ×
//! length 50; exempt and lendable percentages 0) and the checks of upstream's
//! `pkg/apis/flowcontrol/validation` that keep the dispatcher sound: precedence range, the
//! level reference, distinguisher and subject kinds, rule lists, the type/union rules, queue
//! shapes within what shuffle sharding can deal, percentages, and the mandatory objects'
//! fixed specs.

use std::sync::OnceLock;

use serde_json::{json, Value};

use super::{KindHooks, Object};
use crate::api::validation::{self, FieldError};

/// The hooks of the two APF kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowControlHooks {
    /// `FlowSchema`.
    FlowSchema,
    /// `PriorityLevelConfiguration`.
    PriorityLevel,
}

impl FlowControlHooks {
    /// The hooks of `kind`, if it is one of the two.
    pub fn for_kind(kind: &str) -> Option<Self> {
        match kind {
            "FlowSchema" => Some(Self::FlowSchema),
            "PriorityLevelConfiguration" => Some(Self::PriorityLevel),
            _ => None,
        }
    }
}

fn set_default(obj: &mut Value, key: &str, v: Value) {
    if let Some(m) = obj.as_object_mut() {
        let missing = m.get(key).is_none_or(Value::is_null);
        if missing {
            m.insert(key.into(), v);
        }
    }
}

impl KindHooks for FlowControlHooks {
    fn defaults(&self, obj: &mut Object) {
        let Some(spec) = obj.get_mut("spec") else {
            return;
        };
        match self {
            Self::FlowSchema => {
                if spec
                    .get("matchingPrecedence")
                    .and_then(Value::as_i64)
                    .unwrap_or(0)
                    == 0
                {
                    spec["matchingPrecedence"] = json!(1000);
                }
            }
            Self::PriorityLevel => {
                if let Some(e) = spec.get_mut("exempt").filter(|e| e.is_object()) {
                    set_default(e, "nominalConcurrencyShares", json!(0));
                    set_default(e, "lendablePercent", json!(0));
                }
                if let Some(l) = spec.get_mut("limited").filter(|l| l.is_object()) {
                    set_default(l, "nominalConcurrencyShares", json!(30));
                    set_default(l, "lendablePercent", json!(0));
                    if let Some(q) = l
                        .get_mut("limitResponse")
                        .and_then(|r| r.get_mut("queuing"))
                        .filter(|q| q.is_object())
                    {
                        for (k, d) in [("handSize", 8), ("queues", 64), ("queueLengthLimit", 50)] {
                            if q.get(k).and_then(Value::as_i64).unwrap_or(0) == 0 {
                                q[k] = json!(d);
                            }
                        }
                    }
                }
            }
        }
    }

    fn validate(&self, o: &Object) -> Vec<FieldError> {
        let o = Value::Object(o.clone());
        match self {
            Self::FlowSchema => validate_flow_schema(&o),
            Self::PriorityLevel => validate_priority_level(&o),
        }
    }
}

fn name(o: &Value) -> &str {
    o.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn bootstrap_document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        serde_json::from_str(include_str!("flowcontrol_bootstrap.json")).unwrap_or(Value::Null)
    })
}

/// upstream's APF bootstrap objects of `kind` (`FlowSchema` or
/// `PriorityLevelConfiguration`), the mandatory or the suggested ones, in upstream's order
/// (kubernetes v1.34's `bootstrap/default.go` as data, defaults applied).
pub fn bootstrap_objects(mandatory: bool, kind: &str) -> Vec<Value> {
    let set = if mandatory { "mandatory" } else { "suggested" };
    let list = match kind {
        "FlowSchema" => "flowSchemas",
        _ => "priorityLevelConfigurations",
    };
    bootstrap_document()
        .get(set)
        .and_then(|s| s.get(list))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// A fixed spec of a mandatory object, from the bootstrap configuration.
fn mandatory_spec(kind: &str, name: &str) -> Option<Value> {
    bootstrap_objects(true, kind)
        .into_iter()
        .find(|o| o.pointer("/metadata/name").and_then(Value::as_str) == Some(name))
        .and_then(|o| o.get("spec").cloned())
}

const VERBS: &[&str] = &[
    "get",
    "list",
    "create",
    "update",
    "delete",
    "deletecollection",
    "patch",
    "watch",
    "proxy",
];

/// A list that must not be empty and may hold `*` only alone.
fn star_list(
    errs: &mut Vec<FieldError>,
    path: &str,
    v: &Value,
    required: &str,
    mixed: &str,
) -> Vec<String> {
    let items = strings(v);
    if items.is_empty() {
        errs.push(FieldError::required(path, required));
    } else if items.len() > 1 && items.contains(&"*") {
        errs.push(FieldError::invalid_value(path, v, mixed));
    }
    items.into_iter().map(str::to_string).collect()
}

fn verbs(errs: &mut Vec<FieldError>, path: &str, v: &Value) {
    let items = star_list(
        errs,
        path,
        v,
        "verbs must contain at least one value",
        "if '*' is present, must not specify other verbs",
    );
    if items.len() > 1 || items.first().is_some_and(|i| i != "*") {
        for verb in &items {
            if !VERBS.contains(&verb.as_str()) {
                errs.push(FieldError::not_supported(path, verb, VERBS));
            }
        }
    }
}

fn validate_flow_schema(o: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let spec = o.get("spec").cloned().unwrap_or(Value::Null);
    let prec = spec
        .get("matchingPrecedence")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let prec_value = spec.get("matchingPrecedence").cloned().unwrap_or(json!(0));
    if prec <= 0 {
        errs.push(FieldError::invalid_value(
            "spec.matchingPrecedence",
            &prec_value,
            "must be a positive value",
        ));
    } else if prec > 10000 {
        errs.push(FieldError::invalid_value(
            "spec.matchingPrecedence",
            &prec_value,
            "must not be greater than 10000",
        ));
    } else if prec == 1 && name(o) != "exempt" {
        errs.push(FieldError::invalid_value(
            "spec.matchingPrecedence",
            &prec_value,
            "only the schema named 'exempt' may have matchingPrecedence 1",
        ));
    }
    if let Some(t) = spec.pointer("/distinguisherMethod/type") {
        let t = t.as_str().unwrap_or("");
        if !matches!(t, "ByNamespace" | "ByUser") {
            errs.push(FieldError::not_supported(
                "spec.distinguisherMethod.type",
                t,
                &["ByNamespace", "ByUser"],
            ));
        }
    }
    let pl = spec
        .pointer("/priorityLevelConfiguration/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if pl.is_empty() {
        errs.push(FieldError::required(
            "spec.priorityLevelConfiguration.name",
            "must reference a priority level",
        ));
    } else {
        for m in validation::dns1123_subdomain(pl) {
            errs.push(FieldError::invalid(
                "spec.priorityLevelConfiguration.name",
                pl,
                m,
            ));
        }
    }
    let rules = spec
        .get("rules")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (i, rule) in rules.iter().enumerate() {
        let at = format!("spec.rules[{i}]");
        let subjects = rule
            .get("subjects")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if subjects.is_empty() {
            errs.push(FieldError::required(
                format!("{at}.subjects"),
                "subjects must contain at least one value",
            ));
        }
        for (j, s) in subjects.iter().enumerate() {
            validate_subject(&mut errs, &format!("{at}.subjects[{j}]"), s);
        }
        let resource = rule
            .get("resourceRules")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let non_resource = rule
            .get("nonResourceRules")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if resource.is_empty() && non_resource.is_empty() {
            errs.push(FieldError::required(
                at.clone(),
                "at least one of resourceRules and nonResourceRules has to be non-empty",
            ));
        }
        for (k, r) in resource.iter().enumerate() {
            let p = format!("{at}.resourceRules[{k}]");
            verbs(&mut errs, &format!("{p}.verbs"), &r["verbs"]);
            star_list(
                &mut errs,
                &format!("{p}.apiGroups"),
                &r["apiGroups"],
                "resource rules must supply at least one api group",
                "if '*' is present, must not specify other api groups",
            );
            star_list(
                &mut errs,
                &format!("{p}.resources"),
                &r["resources"],
                "resource rules must supply at least one resource",
                "if '*' is present, must not specify other resources",
            );
            let cluster = r["clusterScope"].as_bool().unwrap_or(false);
            let namespaces = strings(&r["namespaces"]);
            if namespaces.is_empty() {
                if !cluster {
                    errs.push(FieldError::required(
                        format!("{p}.namespaces"),
                        "resource rules that are not cluster scoped must supply at least one namespace",
                    ));
                }
            } else if namespaces.len() > 1 && namespaces.contains(&"*") {
                errs.push(FieldError::invalid_value(
                    format!("{p}.namespaces"),
                    &r["namespaces"],
                    "if '*' is present, must not specify other namespaces",
                ));
            } else {
                for (n, ns) in namespaces.iter().enumerate() {
                    if *ns == "*" {
                        continue;
                    }
                    for m in validation::dns1123_label(ns) {
                        errs.push(FieldError::invalid(
                            format!("{p}.namespaces[{n}]"),
                            ns,
                            format!(
                                "each member of this list must be '*' or a DNS-1123 label; {m}"
                            ),
                        ));
                    }
                }
            }
        }
        for (k, r) in non_resource.iter().enumerate() {
            let p = format!("{at}.nonResourceRules[{k}]");
            verbs(&mut errs, &format!("{p}.verbs"), &r["verbs"]);
            let urls = star_list(
                &mut errs,
                &format!("{p}.nonResourceURLs"),
                &r["nonResourceURLs"],
                "nonResourceURLs must contain at least one value",
                "if '*' is present, must not specify other non-resource URLs",
            );
            for (n, u) in urls.iter().enumerate() {
                if u == "*" {
                    continue;
                }
                if let Some(m) = url_problem(u) {
                    errs.push(FieldError::invalid(
                        format!("{p}.nonResourceURLs[{n}]"),
                        u,
                        m,
                    ));
                }
            }
        }
    }
    if let Some(fixed) = ["exempt", "catch-all"]
        .into_iter()
        .find(|n| *n == name(o))
        .and_then(|n| mandatory_spec("FlowSchema", n))
    {
        if !same_spec(&spec, &fixed) {
            errs.push(FieldError::invalid_value(
                "spec",
                &spec,
                format!("spec of '{}' must equal the fixed value", name(o)),
            ));
        }
    }
    errs
}

/// Specs equal as upstream compares them (omitted `clusterScope: false` is the same).
fn same_spec(a: &Value, b: &Value) -> bool {
    fn normalized(v: &Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.iter()
                    .filter(|(k, v)| !(k.as_str() == "clusterScope" && **v == json!(false)))
                    .map(|(k, v)| (k.clone(), normalized(v)))
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(normalized).collect()),
            other => other.clone(),
        }
    }
    normalized(a) == normalized(b)
}

fn url_problem(u: &str) -> Option<&'static str> {
    if u.is_empty() {
        return Some("must not be empty");
    }
    if u == "/" {
        return None;
    }
    if !u.starts_with('/') {
        return Some("must start with slash");
    }
    if u.contains(char::is_whitespace) {
        return Some("must not contain white-space");
    }
    if u.contains("//") {
        return Some("must not contain double slash");
    }
    let stars = u.matches('*').count();
    if stars > 1 || (stars == 1 && !u.ends_with("/*")) {
        return Some("wildcard can only do suffix matching");
    }
    None
}

fn validate_subject(errs: &mut Vec<FieldError>, at: &str, s: &Value) {
    let kind = s["kind"].as_str().unwrap_or("");
    let members = [
        ("User", "user"),
        ("Group", "group"),
        ("ServiceAccount", "serviceAccount"),
    ];
    if !members.iter().any(|(k, _)| *k == kind) {
        errs.push(FieldError::not_supported(
            format!("{at}.kind"),
            kind,
            &["Group", "ServiceAccount", "User"],
        ));
    }
    for (k, field) in members {
        let present = s.get(field).is_some_and(|v| !v.is_null());
        if k == kind && !present {
            errs.push(FieldError::required(
                format!("{at}.{field}"),
                &format!("{field} is required when subject kind is '{k}'"),
            ));
        } else if k != kind && present {
            errs.push(FieldError::forbidden(
                format!("{at}.{field}"),
                &format!("{field} is forbidden when subject kind is not '{k}'"),
            ));
        }
    }
    match kind {
        "User" | "Group" => {
            let field = if kind == "User" { "user" } else { "group" };
            if s.get(field).is_some() && s[field]["name"].as_str().unwrap_or("").is_empty() {
                errs.push(FieldError::required(format!("{at}.{field}.name"), ""));
            }
        }
        "ServiceAccount" if s.get("serviceAccount").is_some() => {
            let sa = &s["serviceAccount"];
            if sa["name"].as_str().unwrap_or("").is_empty() {
                errs.push(FieldError::required(
                    format!("{at}.serviceAccount.name"),
                    "",
                ));
            }
            if sa["namespace"].as_str().unwrap_or("").is_empty() {
                errs.push(FieldError::required(
                    format!("{at}.serviceAccount.namespace"),
                    "must specify namespace for service account",
                ));
            }
        }
        _ => {}
    }
}

fn percent(errs: &mut Vec<FieldError>, path: &str, v: Option<&Value>) {
    if let Some(v) = v.filter(|v| !v.is_null()) {
        let n = v.as_i64().unwrap_or(-1);
        if !(0..=100).contains(&n) {
            errs.push(FieldError::invalid_value(
                path,
                v,
                "must be between 0 and 100, inclusive",
            ));
        }
    }
}

fn non_negative(errs: &mut Vec<FieldError>, path: &str, v: Option<&Value>) {
    if let Some(v) = v.filter(|v| !v.is_null()) {
        if v.as_i64().unwrap_or(-1) < 0 {
            errs.push(FieldError::invalid_value(
                path,
                v,
                "must be a non-negative integer",
            ));
        }
    }
}

fn validate_priority_level(o: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let spec = o.get("spec").cloned().unwrap_or(Value::Null);
    let t = spec["type"].as_str().unwrap_or("");
    let present = |k: &str| spec.get(k).is_some_and(|v| !v.is_null());
    match t {
        "Exempt" | "Limited" => {
            if (t == "Exempt") != (name(o) == "exempt") {
                errs.push(FieldError::invalid(
                    "spec.type",
                    t,
                    "type must be 'Exempt' if and only if name is 'exempt'",
                ));
            }
        }
        _ => errs.push(FieldError::not_supported(
            "spec.type",
            t,
            &["Exempt", "Limited"],
        )),
    }
    if t == "Exempt" {
        if present("limited") {
            errs.push(FieldError::forbidden(
                "spec.limited",
                "must be nil if the type is not Limited",
            ));
        }
        let e = &spec["exempt"];
        non_negative(
            &mut errs,
            "spec.exempt.nominalConcurrencyShares",
            e.get("nominalConcurrencyShares"),
        );
        percent(
            &mut errs,
            "spec.exempt.lendablePercent",
            e.get("lendablePercent"),
        );
    }
    if t == "Limited" {
        if present("exempt") {
            errs.push(FieldError::forbidden(
                "spec.exempt",
                "must be nil if the type is Limited",
            ));
        }
        if !present("limited") {
            errs.push(FieldError::required(
                "spec.limited",
                "must not be empty when type is Limited",
            ));
        } else {
            let l = &spec["limited"];
            non_negative(
                &mut errs,
                "spec.limited.nominalConcurrencyShares",
                l.get("nominalConcurrencyShares"),
            );
            percent(
                &mut errs,
                "spec.limited.lendablePercent",
                l.get("lendablePercent"),
            );
            if let Some(b) = l.get("borrowingLimitPercent").filter(|v| !v.is_null()) {
                if b.as_i64().unwrap_or(-1) < 0 {
                    errs.push(FieldError::invalid_value(
                        "spec.limited.borrowingLimitPercent",
                        b,
                        "if specified, must be a non-negative integer",
                    ));
                }
            }
            validate_limit_response(&mut errs, &l["limitResponse"]);
        }
    }
    let fixed = match name(o) {
        "catch-all" => mandatory_spec("PriorityLevelConfiguration", "catch-all").map(|f| {
            (
                f,
                spec.clone(),
                "spec of 'catch-all' must equal the fixed value",
            )
        }),
        "exempt" => mandatory_spec("PriorityLevelConfiguration", "exempt").map(|mut f| {
            let mut have = spec.clone();
            if let (Some(a), Some(b)) = (have.as_object_mut(), f.as_object_mut()) {
                a.remove("exempt");
                b.remove("exempt");
            }
            (
                f,
                have,
                "spec of 'exempt' except the 'spec.exempt' field must equal the fixed value",
            )
        }),
        _ => None,
    };
    if let Some((want, have, message)) = fixed {
        if !same_spec(&have, &want) {
            errs.push(FieldError::invalid_value("spec", &spec, message));
        }
    }
    errs
}

fn validate_limit_response(errs: &mut Vec<FieldError>, r: &Value) {
    let t = r["type"].as_str().unwrap_or("");
    let queuing = r.get("queuing").filter(|q| !q.is_null());
    match t {
        "Reject" => {
            if queuing.is_some() {
                errs.push(FieldError::forbidden(
                    "spec.limited.limitResponse.queuing",
                    "must be nil if limited.limitResponse.type is not Limited",
                ));
            }
        }
        "Queue" => match queuing {
            None => errs.push(FieldError::required(
                "spec.limited.limitResponse.queuing",
                "must not be empty if limited.limitResponse.type is Limited",
            )),
            Some(q) => validate_queuing(errs, q),
        },
        _ => errs.push(FieldError::not_supported(
            "spec.limited.limitResponse.type",
            t,
            &["Queue", "Reject"],
        )),
    }
}

fn validate_queuing(errs: &mut Vec<FieldError>, q: &Value) {
    let at = "spec.limited.limitResponse.queuing";
    let n = |k: &str| q[k].as_i64().unwrap_or(0);
    let (queues, hand, length) = (n("queues"), n("handSize"), n("queueLengthLimit"));
    if length <= 0 {
        errs.push(FieldError::invalid_value(
            format!("{at}.queueLengthLimit"),
            &q["queueLengthLimit"],
            "must be positive",
        ));
    }
    if queues <= 0 {
        errs.push(FieldError::invalid_value(
            format!("{at}.queues"),
            &q["queues"],
            "must be positive",
        ));
    } else if queues > 10_000_000 {
        errs.push(FieldError::invalid_value(
            format!("{at}.queues"),
            &q["queues"],
            "must not be greater than 10000000",
        ));
    }
    if hand <= 0 {
        errs.push(FieldError::invalid_value(
            format!("{at}.handSize"),
            &q["handSize"],
            "must be positive",
        ));
    } else if queues > 0 && hand > queues {
        errs.push(FieldError::invalid_value(
            format!("{at}.handSize"),
            &q["handSize"],
            format!("should not be greater than queues ({queues})"),
        ));
    } else if queues > 0 && ((queues as f64).log2() * hand as f64).ceil() > 60.0 {
        errs.push(FieldError::invalid_value(
            format!("{at}.handSize"),
            &q["handSize"],
            format!("required entropy bits of deckSize {queues} and handSize {hand} should not be greater than 60"),
        ));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::testing::{messages, o};
    use super::*;

    #[test]
    fn defaults_fill_upstreams_values() {
        let mut pl = o(
            json!({"metadata": {"name": "p"}, "spec": {"type": "Limited",
            "limited": {"limitResponse": {"type": "Queue", "queuing": {}}}}}),
        );
        FlowControlHooks::PriorityLevel.defaults(&mut pl);
        assert_eq!(
            Value::Object(pl)["spec"]["limited"],
            json!({"limitResponse": {"type": "Queue", "queuing": {"handSize": 8, "queues": 64, "queueLengthLimit": 50}},
                   "nominalConcurrencyShares": 30, "lendablePercent": 0})
        );
        let mut fs = o(
            json!({"metadata": {"name": "f"}, "spec": {"priorityLevelConfiguration": {"name": "p"}}}),
        );
        FlowControlHooks::FlowSchema.defaults(&mut fs);
        assert_eq!(fs["spec"]["matchingPrecedence"], 1000);
    }

    #[test]
    fn invalid_objects_get_upstreams_messages() {
        let fs = o(
            json!({"metadata": {"name": "f"}, "spec": {"matchingPrecedence": 1,
            "priorityLevelConfiguration": {"name": ""}, "distinguisherMethod": {"type": "ByGroup"},
            "rules": [{"subjects": [{"kind": "User"}], "nonResourceRules": [{"verbs": ["get", "*"], "nonResourceURLs": ["/a*"]}]}]}}),
        );
        let m = messages(&FlowControlHooks::FlowSchema.validate(&fs));
        for want in [
            "spec.matchingPrecedence: Invalid value: 1: only the schema named 'exempt' may have matchingPrecedence 1",
            "spec.distinguisherMethod.type: Unsupported value: \"ByGroup\": supported values: \"ByNamespace\", \"ByUser\"",
            "spec.priorityLevelConfiguration.name: Required value: must reference a priority level",
            "spec.rules[0].subjects[0].user: Required value: user is required when subject kind is 'User'",
            "spec.rules[0].nonResourceRules[0].nonResourceURLs[0]: Invalid value: \"/a*\": wildcard can only do suffix matching",
        ] {
            assert!(m.iter().any(|x| x == want), "{want} not in {m:#?}");
        }
        let pl = o(
            json!({"metadata": {"name": "p"}, "spec": {"type": "Limited", "limited": {
            "lendablePercent": 101, "limitResponse": {"type": "Queue", "queuing": {"queues": 128, "handSize": 10, "queueLengthLimit": 5}}}}}),
        );
        let m = messages(&FlowControlHooks::PriorityLevel.validate(&pl));
        assert!(
            m.iter()
                .any(|x| x.ends_with("must be between 0 and 100, inclusive")),
            "{m:?}"
        );
        assert!(m.iter().any(|x| x.ends_with("required entropy bits of deckSize 128 and handSize 10 should not be greater than 60")), "{m:?}");
        let exempt = o(
            json!({"metadata": {"name": "exempt"}, "spec": {"type": "Limited", "limited": {"limitResponse": {"type": "Reject"}}}}),
        );
        let m = messages(&FlowControlHooks::PriorityLevel.validate(&exempt));
        assert!(
            m.iter()
                .any(|x| x.contains("type must be 'Exempt' if and only if name is 'exempt'")),
            "{m:?}"
        );
        // The bootstrap objects are valid as they are.
        for kind in ["FlowSchema", "PriorityLevelConfiguration"] {
            for mandatory in [true, false] {
                for obj in bootstrap_objects(mandatory, kind) {
                    let hooks = FlowControlHooks::for_kind(kind).unwrap();
                    let errs = hooks.validate(obj.as_object().unwrap());
                    assert!(errs.is_empty(), "{}: {:?}", name(&obj), messages(&errs));
                }
            }
        }
    }
}
