//! The field manager of one write ([`crate::registry::fieldmanager`]) as the Store runs it:
//! which schema and apiVersion, which manager, and what part of the object it may own.

use serde_json::{Map, Value};

use super::facts::RequestFacts;
use crate::api::resources::Subresource;
use crate::openapi::{kind_schema, KindSchema};
use crate::registry::fieldmanager::{FieldManager, Reach};
use crate::registry::resources::Resource;
use crate::registry::strategy;

/// The manager of writes the server makes itself (controllers, bootstrap).
const SERVER: &str = "kube-apiserver";

fn reach(res: &Resource, req: &RequestFacts) -> Reach {
    match req.subresource {
        Some(Subresource::Status) => Reach::StatusOnly,
        _ if res.api.has_status_subresource() => Reach::AllButStatus,
        _ => Reach::Whole,
    }
}

fn subresource(req: &RequestFacts) -> &'static str {
    req.subresource.map_or("", Subresource::name)
}

/// The field manager of an update-like write, over objects in the stored form.
pub(super) fn stored(res: &Resource, req: &RequestFacts) -> FieldManager {
    let gvk = &res.api.storage;
    of(res, req, kind_schema(gvk.group, gvk.version, gvk.kind))
}

/// The field manager of an apply, over objects as served.
pub(super) fn served(res: &Resource, req: &RequestFacts) -> FieldManager {
    of(
        res,
        req,
        kind_schema(res.api.group, res.api.version, res.api.kind),
    )
}

fn of(res: &Resource, req: &RequestFacts, schema: Option<KindSchema<'static>>) -> FieldManager {
    FieldManager::new(
        schema.as_ref(),
        &res.api.api_version(),
        req.field_manager.as_deref().unwrap_or(SERVER),
        subresource(req),
        reach(res, req),
        strategy::now_rfc3339(),
    )
}

/// The `managedFields` a request's object carries, before the strategy drops them; None
/// for a subresource write, which continues the stored ones whatever its body says.
pub(super) fn requested(req: &RequestFacts, obj: &Map<String, Value>) -> Option<Value> {
    if req.subresource.is_some() {
        return None;
    }
    obj.get("metadata")?.get("managedFields").cloned()
}

/// Records a write the server makes straight to storage (bootstrap objects: the system
/// namespaces, the `kubernetes` Service, the RBAC and API Priority and Fairness defaults) as
/// the Store records its own writes: an Update by `manager` (`old` None: a create; else
/// `new` carries `old`'s managedFields, as it does when it is the stored object changed).
pub fn record_server_write(
    res: &Resource,
    old: Option<&Map<String, Value>>,
    new: &mut Map<String, Value>,
    manager: &str,
) {
    let gvk = &res.api.storage;
    let reach = if res.api.has_status_subresource() {
        Reach::AllButStatus
    } else {
        Reach::Whole
    };
    FieldManager::new(
        kind_schema(gvk.group, gvk.version, gvk.kind).as_ref(),
        &res.api.api_version(),
        manager,
        "",
        reach,
        strategy::now_rfc3339(),
    )
    .update(old, new, None);
}
