//! create: decode, mutating admission, the kind's strategy, validating admission, the kind's
//! allocations, then one write that must find the key absent (409 AlreadyExists otherwise).

use serde_json::{Map, Value};

use super::admission::Operation;
use super::facts::RequestFacts;
use super::ownership;
use super::{answer, decode, encode, storage_call, Store, Stored};
use crate::api::meta::Meta;
use crate::api::status::Status;
use crate::registry::fieldmanager::managed::Managed;
use crate::registry::kinds::HookCtx;
use crate::registry::resources::Resource;
use crate::registry::strategy;
use crate::storage::kv::{Precondition, WriteOutcome};

impl Store {
    /// `create` from a request body.
    pub async fn create(
        &self,
        res: &Resource,
        req: &RequestFacts,
        body: Vec<u8>,
    ) -> Result<Stored, Status> {
        let decoded = decode::body(res, req, body)?;
        let stored = self.create_object(res, req, decoded.obj).await?;
        Ok(stored.with_warnings(decoded.warnings))
    }

    /// `create` of an object already decoded (in the stored form).
    pub async fn create_object(
        &self,
        res: &Resource,
        req: &RequestFacts,
        obj: Map<String, Value>,
    ) -> Result<Stored, Status> {
        self.create_owned(res, req, obj, None).await
    }

    /// `create`, its managed fields recorded as an update by the request's manager, or
    /// (`applied`) as an apply computed them.
    pub(super) async fn create_owned(
        &self,
        res: &Resource,
        req: &RequestFacts,
        mut obj: Map<String, Value>,
        applied: Option<Managed>,
    ) -> Result<Stored, Status> {
        let requested = ownership::requested(req, &obj);
        let given_name = Meta::of(&obj).name().unwrap_or_default().to_string();
        let attrs = self.attributes(Operation::Create, res, req, &given_name, None);
        self.admission.admit(attrs, Some(&mut obj)).await?;
        res.hooks.stamp_requester(&mut obj, &req.user);
        let mut obj = strategy::prepare_create(res, obj, req.namespace.as_deref())?;
        let fields = ownership::stored(res, req);
        match applied {
            Some(managed) => fields.store(&mut obj, managed),
            None => fields.update(None, &mut obj, requested.as_ref()),
        }
        let name = Meta::of(&obj).name().unwrap_or_default().to_string();
        let attrs = self.attributes(Operation::Create, res, req, &name, None);
        self.admission.validate(attrs, Some(&obj)).await?;
        let ctx = HookCtx {
            resource: &res.api,
            reads: self,
            deadline: req.deadline,
        };
        // Held until the write is done, whichever way it ends.
        let _held = res.hooks.allocate(ctx, &mut obj, None).await?;
        let bytes = encode(&obj)?;
        if req.dry_run {
            return Ok(Stored::created(bytes, 0));
        }
        let key = self.key(res, req.namespace.as_deref(), &name);
        match storage_call(
            req.deadline,
            self.storage.put(key, bytes.clone(), Precondition::Absent),
        )
        .await?
        {
            WriteOutcome::Applied { revision, .. } => {
                self.settle(req, revision).await;
                Ok(Stored::created(answer(&bytes, revision), revision))
            }
            WriteOutcome::PreconditionFailed { .. } => {
                Err(Status::already_exists(res.api.group, res.api.plural, &name))
            }
        }
    }
}
