//! Columns for the kinds that record what is handed out: Service address ranges and addresses
//! (networking.k8s.io ServiceCIDR, IPAddress) and devices (resource.k8s.io DeviceClass,
//! ResourceClaim, ResourceClaimTemplate, ResourceSlice), as upstream's printers fill them.

use serde_json::Value;

use super::columns::{age_cell, joined, name, s, st, text, Cells, Col};

/// The columns and cells for the kinds this file prints, `None` for the others.
pub(super) fn for_kind(group: &str, kind: &str) -> Option<(&'static [Col], Cells)> {
    Some(match (group, kind) {
        ("networking.k8s.io", "ServiceCIDR") => (SERVICECIDR, servicecidr),
        ("networking.k8s.io", "IPAddress") => (IPADDRESS, ipaddress),
        ("resource.k8s.io", "DeviceClass" | "ResourceClaimTemplate") => (NAME_AGE, name_age),
        ("resource.k8s.io", "ResourceClaim") => (RESOURCECLAIM, resourceclaim),
        ("resource.k8s.io", "ResourceSlice") => (RESOURCESLICE, resourceslice),
        _ => return None,
    })
}

const NAME_AGE: &[Col] = &[("Name", "string", 0), ("Age", "string", 0)];
fn name_age(o: &Value) -> Vec<Value> {
    vec![name(o), age_cell(o)]
}

const SERVICECIDR: &[Col] = &[
    ("Name", "string", 0),
    ("CIDRs", "string", 0),
    ("Age", "string", 0),
];
fn servicecidr(o: &Value) -> Vec<Value> {
    vec![name(o), text(joined(o, &["spec", "cidrs"])), age_cell(o)]
}

/// upstream defines two columns for IPAddresses and fills three cells (the third is the age);
/// clients print the defined columns, and the row is kept as upstream sends it.
const IPADDRESS: &[Col] = &[("Name", "string", 0), ("ParentRef", "string", 0)];
fn ipaddress(o: &Value) -> Vec<Value> {
    let parent = s(o, &["spec", "parentRef"]);
    let parent = if parent.is_object() {
        let (group, resource) = (st(parent, &["group"]), st(parent, &["resource"]));
        let mut ref_ = if group.is_empty() {
            resource.to_lowercase()
        } else {
            format!("{resource}.{group}").to_lowercase()
        };
        let namespace = st(parent, &["namespace"]);
        if !namespace.is_empty() {
            ref_ = format!("{ref_}/{namespace}");
        }
        format!("{ref_}/{}", st(parent, &["name"]))
    } else {
        "<none>".to_string()
    };
    vec![name(o), text(parent), age_cell(o)]
}

const RESOURCECLAIM: &[Col] = &[
    ("Name", "string", 0),
    ("State", "string", 0),
    ("Age", "string", 0),
];
fn resourceclaim(o: &Value) -> Vec<Value> {
    let mut state = Vec::new();
    let deleting = !s(o, &["metadata", "deletionTimestamp"]).is_null();
    if deleting {
        state.push("deleted");
    }
    if s(o, &["status", "allocation"]).is_null() {
        if !deleting {
            state.push("pending");
        }
    } else {
        state.push("allocated");
        if s(o, &["status", "reservedFor"])
            .as_array()
            .is_some_and(|r| !r.is_empty())
        {
            state.push("reserved");
        }
    }
    vec![name(o), text(state.join(",")), age_cell(o)]
}

const RESOURCESLICE: &[Col] = &[
    ("Name", "string", 0),
    ("Node", "string", 0),
    ("Driver", "string", 0),
    ("Pool", "string", 0),
    ("Age", "string", 0),
];
fn resourceslice(o: &Value) -> Vec<Value> {
    vec![
        name(o),
        text(st(o, &["spec", "nodeName"])),
        text(st(o, &["spec", "driver"])),
        text(st(o, &["spec", "pool", "name"])),
        age_cell(o),
    ]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use serde_json::json;

    use super::*;

    fn cells(group: &str, kind: &str, o: Value) -> Vec<Value> {
        let (_, f) = for_kind(group, kind).expect("printed kind");
        f(&o)
    }

    #[test]
    fn ipaddress_parent_ref_as_upstream_prints_it() {
        let (cols, _) = for_kind("networking.k8s.io", "IPAddress").unwrap();
        assert_eq!(cols.len(), 2);
        let c = cells(
            "networking.k8s.io",
            "IPAddress",
            json!({"metadata": {"name": "10.96.0.10"},
                "spec": {"parentRef": {"group": "", "resource": "Services", "namespace": "kube-system", "name": "dns"}}}),
        );
        assert_eq!(c.len(), 3, "upstream's third cell, the age");
        assert_eq!(c[1], "services/kube-system/dns");
        let c = cells(
            "networking.k8s.io",
            "IPAddress",
            json!({"metadata": {"name": "10.0.0.1"},
                "spec": {"parentRef": {"group": "Gateway.Networking.k8s.io", "resource": "gateways", "name": "gw"}}}),
        );
        assert_eq!(c[1], "gateways.gateway.networking.k8s.io/gw");
        let c = cells(
            "networking.k8s.io",
            "IPAddress",
            json!({"metadata": {"name": "x"}}),
        );
        assert_eq!(c[1], "<none>");
    }

    #[test]
    fn resourceclaim_state_in_upstreams_order() {
        let claim = |o: Value| cells("resource.k8s.io", "ResourceClaim", o)[1].clone();
        assert_eq!(claim(json!({"metadata": {"name": "c"}})), "pending");
        let deleted = json!({"deletionTimestamp": "2026-01-01T00:00:00Z"});
        assert_eq!(claim(json!({"metadata": deleted})), "deleted");
        assert_eq!(
            claim(json!({"status": {"allocation": {}, "reservedFor": [{"name": "p"}]}})),
            "allocated,reserved"
        );
        assert_eq!(
            claim(json!({"metadata": deleted, "status": {"allocation": {}}})),
            "deleted,allocated"
        );
    }

    #[test]
    fn servicecidr_and_slice() {
        let c = cells(
            "networking.k8s.io",
            "ServiceCIDR",
            json!({"metadata": {"name": "kubernetes"}, "spec": {"cidrs": ["10.96.0.0/12", "fd00::/108"]}}),
        );
        assert_eq!(c[1], "10.96.0.0/12,fd00::/108");
        let c = cells(
            "resource.k8s.io",
            "ResourceSlice",
            json!({"metadata": {"name": "s"}, "spec": {"nodeName": "n1", "driver": "gpu.example.com", "pool": {"name": "p"}}}),
        );
        assert_eq!(c[1..4], [json!("n1"), json!("gpu.example.com"), json!("p")]);
    }
}
