//! `NamespaceLifecycle`: nothing is created in a namespace that does not exist (404) or is
//! being deleted (403), as upstream's plugin of that name refuses it.

use crate::api::meta::Meta;
use crate::api::resources::lookup;
use crate::api::status::Status;
use crate::registry::kinds::{HookFuture, Object};
use crate::registry::store::{AdmissionPlugin, Attributes, Operation};

/// The plugin.
#[derive(Debug, Default)]
pub struct NamespaceLifecycle;

impl AdmissionPlugin for NamespaceLifecycle {
    fn name(&self) -> &'static str {
        "NamespaceLifecycle"
    }

    fn validate<'a>(
        &'a self,
        attrs: Attributes<'a>,
        _obj: Option<&'a Object>,
    ) -> HookFuture<'a, Result<(), Status>> {
        Box::pin(async move {
            let Some(ns) = attrs.request.namespace.as_deref() else {
                return Ok(());
            };
            if attrs.operation != Operation::Create {
                return Ok(());
            }
            let Some(namespaces) = lookup("", "v1", "namespaces") else {
                return Ok(());
            };
            let found = attrs
                .reads
                .get(namespaces, None, ns, attrs.request.deadline)
                .await?
                .ok_or_else(|| Status::not_found("", "namespaces", ns))?;
            if Meta::of(&found).is_deleting() {
                return Err(Status::forbidden(
                    attrs.resource.group,
                    attrs.resource.plural,
                    attrs.name,
                    &format!("unable to create new content in namespace {ns} because it is being terminated"),
                ));
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::rc::Rc;

    use bytes::Bytes;
    use serde_json::json;

    use super::*;
    use crate::registry::store::testing::{body, facts, row, with_store};
    use crate::registry::store::AdmissionChain;
    use crate::storage::kv::Precondition;

    #[test]
    fn creates_need_a_live_namespace() {
        let chain = AdmissionChain::new(vec![Rc::new(NamespaceLifecycle)]);
        with_store(chain, |store, storage| async move {
            let cm = row(&store, "", "configmaps");
            let e = store
                .create(
                    &cm,
                    &facts(Some("nowhere"), ""),
                    body(json!({"metadata": {"name": "a"}})),
                )
                .await
                .unwrap_err();
            assert_eq!(e.code, 404);
            assert_eq!(e.message, "namespaces \"nowhere\" not found");

            let going = json!({"kind": "Namespace", "apiVersion": "v1",
                "metadata": {"name": "going", "deletionTimestamp": "2024-01-01T00:00:00Z"}});
            storage
                .put(
                    Bytes::from_static(b"/registry/namespaces/going"),
                    Bytes::from(serde_json::to_vec(&going).unwrap()),
                    Precondition::Absent,
                )
                .await
                .unwrap();
            let e = store
                .create(
                    &cm,
                    &facts(Some("going"), ""),
                    body(json!({"metadata": {"generateName": "a-"}})),
                )
                .await
                .unwrap_err();
            assert_eq!(e.code, 403);
            assert!(
                e.message.starts_with("configmaps \"a-") && e.message.ends_with(
                    "\" is forbidden: unable to create new content in namespace going because it is being terminated"
                ),
                "names the generated name: {}",
                e.message
            );

            let ns = row(&store, "", "namespaces");
            store
                .create(
                    &ns,
                    &facts(None, ""),
                    body(json!({"metadata": {"name": "live"}})),
                )
                .await
                .unwrap();
            let made = store
                .create(
                    &cm,
                    &facts(Some("live"), ""),
                    body(json!({"metadata": {"name": "a"}})),
                )
                .await
                .unwrap();
            assert_eq!(made.code, 201);
            // Updates and deletes in a terminating namespace go on (finalizers must run).
            assert!(store
                .delete(&cm, &facts(Some("live"), "a"), &Default::default())
                .await
                .is_ok());
        });
    }
}
