//! networking.k8s.io's ServiceCIDR and IPAddress, the objects Service address allocation is
//! recorded in, with the rules of upstream's `pkg/apis/networking/validation` for them: a
//! ServiceCIDR holds one or two canonical CIDRs, one per IP family, and may only grow from
//! single- to dual-stack; an IPAddress is named by its canonical address and points at the
//! object holding it, which never changes.

use serde_json::Value;

use super::fields::{at, immutable_fields};
use super::{KindHooks, Object};
use crate::api::resources::Subresource;
use crate::api::validation::{self, FieldError};

/// The hooks of `ServiceCIDR` and `IPAddress`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressHooks {
    /// `ServiceCIDR`.
    ServiceCidr,
    /// `IPAddress` (its name is checked by the row's name rule).
    IpAddress,
}

impl KindHooks for AddressHooks {
    fn validate(&self, o: &Object) -> Vec<FieldError> {
        match self {
            Self::ServiceCidr => validate_cidrs(o),
            Self::IpAddress => validate_parent_ref(o),
        }
    }

    fn validate_update(
        &self,
        sub: Option<Subresource>,
        o: &Object,
        old: &Object,
    ) -> Vec<FieldError> {
        if sub.is_some() {
            return Vec::new();
        }
        match self {
            Self::IpAddress => {
                immutable_fields(o, old, &[&["spec", "parentRef"]], |path| path.join("."))
            }
            Self::ServiceCidr => {
                let (new, before) = (cidrs(o), cidrs(old));
                let same_length = new.len() == before.len();
                // The one change of length allowed: a single-stack range gains its other family.
                if same_length || (before.len() == 1 && new.len() == 2) {
                    return new
                        .iter()
                        .zip(&before)
                        .enumerate()
                        .filter(|(_, (n, b))| n != b)
                        .map(|(i, (n, _))| {
                            FieldError::immutable(
                                format!("spec.cidrs[{i}]"),
                                Some(&Value::from(*n)),
                            )
                        })
                        .collect();
                }
                vec![FieldError::immutable(
                    "spec.cidrs",
                    at(o, &["spec", "cidrs"]),
                )]
            }
        }
    }
}

fn cidrs(o: &Object) -> Vec<&str> {
    o.get("spec")
        .and_then(|s| s.get("cidrs"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| c.as_str().unwrap_or(""))
        .collect()
}

fn validate_cidrs(o: &Object) -> Vec<FieldError> {
    let list = cidrs(o);
    if list.is_empty() {
        return vec![FieldError::required(
            "spec.cidrs",
            "at least one CIDR required",
        )];
    }
    if list.len() > 2 {
        return vec![FieldError::invalid_value(
            "spec.cidrs",
            o.get("spec").unwrap_or(&Value::Null),
            "may only hold up to 2 values",
        )];
    }
    let mut errs = Vec::new();
    for (i, c) in list.iter().enumerate() {
        for msg in validation::cidr(c) {
            errs.push(FieldError::invalid(format!("spec.cidrs[{i}]"), c, msg));
        }
    }
    if errs.is_empty() && list.len() == 2 && list[0].contains(':') == list[1].contains(':') {
        errs.push(FieldError::invalid_value(
            "spec.cidrs",
            at(o, &["spec", "cidrs"]).unwrap_or(&Value::Null),
            "may specify no more than one IP for each IP family, i.e 192.168.0.0/24 and 2001:db8::/64",
        ));
    }
    errs
}

fn validate_parent_ref(o: &Object) -> Vec<FieldError> {
    let Some(parent) = at(o, &["spec", "parentRef"]) else {
        return vec![FieldError::required("spec.parentRef", "")];
    };
    let field = |k: &str| parent.get(k).and_then(Value::as_str).unwrap_or("");
    let mut errs = Vec::new();
    // Resource and name are required, and with the namespace path segments; the group, when
    // set, is a DNS subdomain.
    for (k, required) in [
        ("group", false),
        ("resource", true),
        ("namespace", false),
        ("name", true),
    ] {
        let v = field(k);
        let at = format!("spec.parentRef.{k}");
        if v.is_empty() {
            if required {
                errs.push(FieldError::required(at, ""));
            }
            continue;
        }
        let problems = match k {
            "group" => validation::dns1123_subdomain(v),
            _ => validation::path_segment(v),
        };
        errs.extend(problems.into_iter().map(|m| FieldError::invalid(&at, v, m)));
    }
    errs
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;
    use crate::registry::kinds::testing::{messages, o};

    #[test]
    fn cidrs_canonical_one_per_family() {
        let v = |c: Value| {
            messages(&AddressHooks::ServiceCidr.validate(&o(json!({"spec": {"cidrs": c}}))))
        };
        assert!(v(json!(["10.96.0.0/12", "fd00:10:96::/112"])).is_empty());
        assert_eq!(
            v(json!([])),
            ["spec.cidrs: Required value: at least one CIDR required"]
        );
        assert_eq!(
            v(json!(["10.96.0.1/12"])),
            ["spec.cidrs[0]: Invalid value: \"10.96.0.1/12\": must not have bits set beyond the prefix length"]
        );
        assert_eq!(
            v(json!(["fd00:0::/64"])),
            ["spec.cidrs[0]: Invalid value: \"fd00:0::/64\": must be in canonical form (\"fd00::/64\")"]
        );
        assert_eq!(
            v(json!(["010.0.0.0/8"])),
            ["spec.cidrs[0]: Invalid value: \"010.0.0.0/8\": must not have leading 0s in IP or prefix length"]
        );
        assert_eq!(
            v(json!(["nope"])),
            ["spec.cidrs[0]: Invalid value: \"nope\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"]
        );
        assert_eq!(
            v(json!(["10.0.0.0/24", "10.1.0.0/24"])),
            ["spec.cidrs: Invalid value: [\"10.0.0.0/24\",\"10.1.0.0/24\"]: may specify no more than one IP for each IP family, i.e 192.168.0.0/24 and 2001:db8::/64"]
        );
        assert!(v(json!(["10.0.0.0/24", "fd00::/64", "10.1.0.0/24"]))[0]
            .ends_with("may only hold up to 2 values"));
    }

    #[test]
    fn cidrs_only_grow_to_dual_stack() {
        let old = o(json!({"spec": {"cidrs": ["10.96.0.0/12"]}}));
        let grown = o(json!({"spec": {"cidrs": ["10.96.0.0/12", "fd00::/108"]}}));
        let moved = o(json!({"spec": {"cidrs": ["10.97.0.0/16"]}}));
        assert!(AddressHooks::ServiceCidr
            .validate_update(None, &grown, &old)
            .is_empty());
        assert_eq!(
            messages(&AddressHooks::ServiceCidr.validate_update(None, &moved, &old)),
            ["spec.cidrs[0]: Invalid value: \"10.97.0.0/16\": field is immutable"]
        );
        assert_eq!(
            messages(&AddressHooks::ServiceCidr.validate_update(None, &old, &grown)),
            ["spec.cidrs: Invalid value: [\"10.96.0.0/12\"]: field is immutable"]
        );
    }

    #[test]
    fn ipaddress_parent_ref_required_and_fixed() {
        let ok = o(
            json!({"spec": {"parentRef": {"group": "", "resource": "services", "namespace": "default", "name": "web"}}}),
        );
        assert!(AddressHooks::IpAddress.validate(&ok).is_empty());
        assert_eq!(
            messages(&AddressHooks::IpAddress.validate(&o(json!({"spec": {}})))),
            ["spec.parentRef: Required value"]
        );
        assert_eq!(
            messages(
                &AddressHooks::IpAddress
                    .validate(&o(json!({"spec": {"parentRef": {"resource": "services"}}})))
            ),
            ["spec.parentRef.name: Required value"]
        );
        let mut other = ok.clone();
        other["spec"]["parentRef"]["name"] = json!("db");
        let got = messages(&AddressHooks::IpAddress.validate_update(None, &other, &ok));
        assert!(
            got[0].starts_with("spec.parentRef: Invalid value: {")
                && got[0].ends_with("field is immutable")
        );
    }
}
