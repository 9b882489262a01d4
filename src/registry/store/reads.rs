//! `get`, and the reads hooks and admission plugins make while a write runs.

use std::time::Instant;

use bytes::Bytes;
use serde_json::Value;

use super::cached::{freshness, Freshness};
use super::facts::RequestFacts;
use super::{served, storage_call, Store, Stored};
use crate::api::object::decode_stored;
use crate::api::resources::ApiResource;
use crate::api::status::Status;
use crate::registry::keys;
use crate::registry::kinds::{HookFuture, Object, ObjectReads};
use crate::registry::resources::Resource;
use crate::storage::kv::{ListRequest, Precondition, WriteOutcome};

impl Store {
    /// `get`: the object the request names, at the freshness `resource_version` asks for
    /// ("" consistent, "0" any, N not older than N).
    pub async fn get(
        &self,
        res: &Resource,
        req: &RequestFacts,
        resource_version: &str,
    ) -> Result<Stored, Status> {
        let key = self.key(res, req.namespace.as_deref(), &req.name);
        if let Some((cache, _)) = self.cache_for(&res.api) {
            let want = freshness(resource_version)?;
            if self.cache_fresh(req, cache, want).await? {
                let (obj, _) = cache.get(&key);
                let obj =
                    obj.ok_or_else(|| Status::not_found(res.api.group, res.api.plural, &req.name))?;
                return Ok(Stored::ok(obj.json.clone(), obj.revision));
            }
        }
        let (kv, _) = storage_call(req.deadline, self.storage.get(key, 0)).await?;
        let kv = kv.ok_or_else(|| Status::not_found(res.api.group, res.api.plural, &req.name))?;
        Ok(Stored::ok(
            served(res, &kv.value, kv.mod_revision),
            kv.mod_revision,
        ))
    }

    /// Every object under `res`'s root now: from the replica when it is current, else from
    /// the backend.
    async fn list_all_now(
        &self,
        res: &ApiResource,
        deadline: Instant,
    ) -> Result<Vec<Value>, Status> {
        let root = keys::collection_prefix(&self.prefix, res.key_segment, None);
        let req = RequestFacts::internal(None, "", deadline);
        let cached = match self.cache_for(res) {
            Some((cache, _)) if self.cache_fresh(&req, cache, Freshness::Consistent).await? => {
                let (objects, _) = cache.snapshot();
                Some(
                    objects
                        .range(Bytes::from(root.clone())..)
                        .take_while(|(k, _)| k.starts_with(root.as_bytes()))
                        .map(|(_, o)| o.json.clone())
                        .collect::<Vec<Bytes>>(),
                )
            }
            _ => None,
        };
        let values = match cached {
            Some(v) => v,
            None => storage_call(
                deadline,
                self.storage.list(ListRequest {
                    prefix: Bytes::from(root),
                    start_after: None,
                    limit: 0,
                    revision: 0,
                }),
            )
            .await?
            .items
            .into_iter()
            .map(|kv| kv.value)
            .collect(),
        };
        Ok(values
            .iter()
            .filter_map(|v| serde_json::from_slice::<Value>(v).ok())
            .collect())
    }
}

impl ObjectReads for Store {
    fn list_all<'a>(
        &'a self,
        res: &'a ApiResource,
        deadline: Instant,
    ) -> HookFuture<'a, Result<Vec<Value>, Status>> {
        Box::pin(self.list_all_now(res, deadline))
    }

    fn get<'a>(
        &'a self,
        res: &'a ApiResource,
        namespace: Option<&'a str>,
        name: &'a str,
        deadline: Instant,
    ) -> HookFuture<'a, Result<Option<Object>, Status>> {
        Box::pin(async move {
            let key = keys::object_key(&self.prefix, res.key_segment, namespace, name);
            let (kv, _) = storage_call(deadline, self.storage.get(Bytes::from(key), 0)).await?;
            kv.map(|kv| decode_stored(&kv.key, &kv.value)).transpose()
        })
    }

    fn claim<'a>(
        &'a self,
        key: &'a str,
        value: Vec<u8>,
        deadline: Instant,
    ) -> HookFuture<'a, Result<bool, Status>> {
        Box::pin(async move {
            let key = Bytes::from(format!("{}/{key}", self.prefix));
            let put = self
                .storage
                .put(key, Bytes::from(value), Precondition::Absent);
            Ok(matches!(
                storage_call(deadline, put).await?,
                WriteOutcome::Applied { .. }
            ))
        })
    }

    fn read_claim<'a>(
        &'a self,
        key: &'a str,
        deadline: Instant,
    ) -> HookFuture<'a, Result<Option<Object>, Status>> {
        Box::pin(async move {
            let key = Bytes::from(format!("{}/{key}", self.prefix));
            let (kv, _) = storage_call(deadline, self.storage.get(key, 0)).await?;
            kv.map(|kv| decode_stored(&kv.key, &kv.value)).transpose()
        })
    }

    fn release<'a>(
        &'a self,
        key: &'a str,
        deadline: Instant,
    ) -> HookFuture<'a, Result<(), Status>> {
        Box::pin(async move {
            let key = Bytes::from(format!("{}/{key}", self.prefix));
            storage_call(deadline, self.storage.delete(key, Precondition::None)).await?;
            Ok(())
        })
    }
}
