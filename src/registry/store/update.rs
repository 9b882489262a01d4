//! update (the object, its `status`, a kind's own subresource) and the optimistic retry loop
//! every update-like write runs in, as upstream's `GuaranteedUpdate`: read the object, compute
//! the new one from it, admit, prepare and validate it, then write at the revision read; a
//! lost race reads again, unless the client pinned a resourceVersion (then 409).

use bytes::Bytes;
use serde_json::{Map, Value};

use super::admission::Operation;
use super::facts::RequestFacts;
use super::ownership;
use super::{answer, decode, encode, Attempt, Store, Stored, UPDATE_RETRIES};
use crate::api::meta::Meta;
use crate::api::object::decode_stored;
use crate::api::resources::Subresource;
use crate::api::status::Status;
use crate::api::Revision;
use crate::registry::fieldmanager::managed::Managed;
use crate::registry::kinds::{HookCtx, Object};
use crate::registry::resources::Resource;
use crate::registry::strategy;

/// What one attempt of the loop computed from the stored object.
pub(super) struct Proposed {
    /// The object to write (before the strategy).
    pub(super) obj: Object,
    /// The client pinned the revision: a lost race is a 409, not a retry.
    pub(super) pinned: bool,
    /// The managed fields an apply computed (None: the write is recorded as an update).
    pub(super) applied: Option<Managed>,
}

/// What the loop did.
pub(super) struct Written {
    /// The object as written (or as it would be, under dry run, or as it is, unchanged).
    pub(super) obj: Object,
    /// Its stored bytes.
    pub(super) bytes: Bytes,
    /// The revision the answer is at: the write's, or the current one when nothing was
    /// written (dry run, no change).
    pub(super) revision: Revision,
}

impl Store {
    /// `update` from a request body: the object itself, its `status`, or a kind's own
    /// subresource (`namespaces/finalize`).
    pub async fn update(
        &self,
        res: &Resource,
        req: &RequestFacts,
        body: Vec<u8>,
    ) -> Result<Stored, Status> {
        if let Some(sub @ Subresource::Finalize) = req.subresource {
            let mut body = body;
            let given = strategy::decode_object(res, &mut body)?;
            let written = self
                .update_loop(res, req, &mut |current, _| {
                    Ok(Proposed {
                        obj: res.hooks.update_subresource(sub, &given, current)?,
                        pinned: false,
                        applied: None,
                    })
                })
                .await?;
            return Ok(Stored::ok(
                answer(&written.bytes, written.revision),
                written.revision,
            ));
        }
        let decoded = decode::body(res, req, body)?;
        let obj = decoded.obj;
        let body_rv: Option<Revision> =
            match Meta::of(&obj).resource_version() {
                None | Some("") => None,
                Some(rv) => Some(rv.parse().map_err(|_| {
                    Status::bad_request(format!("invalid resource version: {rv:?}"))
                })?),
            };
        let written = self
            .update_loop(res, req, &mut |_, revision| {
                if body_rv.is_some_and(|rv| rv != revision) {
                    return Err(Status::conflict_modified(
                        res.api.group,
                        res.api.plural,
                        &req.name,
                    ));
                }
                Ok(Proposed {
                    obj: obj.clone(),
                    pinned: body_rv.is_some(),
                    applied: None,
                })
            })
            .await?;
        Ok(
            Stored::ok(answer(&written.bytes, written.revision), written.revision)
                .with_warnings(decoded.warnings),
        )
    }

    /// An update computed from the stored object (upstream's `GuaranteedUpdate`): `change`
    /// gets the object as stored now and returns what to write; retried on lost races.
    pub async fn guaranteed_update(
        &self,
        res: &Resource,
        req: &RequestFacts,
        change: &mut dyn FnMut(&Object) -> Result<Object, Status>,
    ) -> Result<Stored, Status> {
        let written = self
            .update_loop(res, req, &mut |current, _| {
                Ok(Proposed {
                    obj: change(current)?,
                    pinned: false,
                    applied: None,
                })
            })
            .await?;
        Ok(Stored::ok(
            answer(&written.bytes, written.revision),
            written.revision,
        ))
    }

    /// The retry loop: one read per attempt, `propose` computes the new object from the
    /// stored one and its revision.
    pub(super) async fn update_loop(
        &self,
        res: &Resource,
        req: &RequestFacts,
        propose: &mut dyn FnMut(&Object, Revision) -> Result<Proposed, Status>,
    ) -> Result<Written, Status> {
        for _ in 0..UPDATE_RETRIES {
            let current = self.current(res, req, &req.name).await?;
            let mut old = decode_stored(&current.key, &current.value)?;
            res.normalize(&mut old);
            let Proposed {
                mut obj,
                pinned,
                applied,
            } = propose(&old, current.mod_revision)?;
            let requested = ownership::requested(req, &obj);
            let attrs = self.attributes(Operation::Update, res, req, &req.name, Some(&old));
            self.admission.admit(attrs, Some(&mut obj)).await?;
            let mut new = strategy::prepare_update(
                res,
                obj,
                &old,
                req.namespace.as_deref(),
                &req.name,
                req.subresource,
            )?;
            let fields = ownership::stored(res, req);
            match applied {
                Some(managed) => fields.store(&mut new, managed),
                None => fields.update(Some(&old), &mut new, requested.as_ref()),
            }
            self.admission.validate(attrs, Some(&new)).await?;
            let _held = match req.subresource {
                None => {
                    let ctx = HookCtx {
                        resource: &res.api,
                        reads: self,
                        deadline: req.deadline,
                    };
                    Some(res.hooks.allocate(ctx, &mut new, Some(&old)).await?)
                }
                Some(_) => None,
            };
            let bytes = encode(&new)?;
            if bytes == current.value || req.dry_run {
                // Nothing is written: the answer keeps the current resourceVersion, as
                // upstream's does.
                return Ok(Written {
                    obj: new,
                    bytes,
                    revision: current.mod_revision,
                });
            }
            if let Some(revision) = self
                .write_back(res, req, current.mod_revision, &new, &bytes, pinned)
                .await?
            {
                return Ok(Written {
                    obj: new,
                    bytes,
                    revision,
                });
            }
        }
        Err(Status::conflict_modified(
            res.api.group,
            res.api.plural,
            &req.name,
        ))
    }

    /// One attempt's write: `bytes` (the encoding of `obj`) at the revision read, or a
    /// delete when the object's deletion has finished. None: lost a race, read again.
    async fn write_back(
        &self,
        res: &Resource,
        req: &RequestFacts,
        read_revision: Revision,
        obj: &Map<String, Value>,
        bytes: &Bytes,
        pinned: bool,
    ) -> Result<Option<Revision>, Status> {
        let write = (!deletion_finished(res, obj)).then(|| bytes.clone());
        match self
            .write_at(res, req, &req.name, read_revision, write, pinned)
            .await?
        {
            Attempt::Done(revision) => Ok(Some(revision)),
            Attempt::Retry => Ok(None),
        }
    }
}

/// An object being deleted whose last finalizer (its own, or its kind's) is gone: it goes now.
pub(super) fn deletion_finished(res: &Resource, obj: &Map<String, Value>) -> bool {
    let meta = Meta::of(obj);
    meta.is_deleting() && meta.finalizers().is_empty() && res.hooks.kind_finalizers(obj).is_empty()
}
