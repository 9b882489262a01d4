//! delete and deletecollection: preconditions, then either the object goes at once, or (with
//! finalizers, its own or its kind's, or a propagation policy that adds one) it is marked
//! with a deletionTimestamp and stays until they are gone, as upstream's graceful deletion.

use serde_json::Value;

use super::admission::Operation;
use super::facts::RequestFacts;
use super::list::{Listed, Selectors};
use super::options::{DeleteOptions, ListOptions, Preconditions, Propagation};
use super::{answer, encode, Attempt, Store, Stored, UPDATE_RETRIES};
use crate::api::meta::{Meta, MetaMut};
use crate::api::object::decode_stored;
use crate::api::status::Status;
use crate::registry::resources::Resource;
use crate::registry::strategy::now_rfc3339;

impl Store {
    /// `delete` of the object the request names.
    pub async fn delete(
        &self,
        res: &Resource,
        req: &RequestFacts,
        opts: &DeleteOptions,
    ) -> Result<Stored, Status> {
        if opts.dry_run || req.dry_run {
            let current = self.current(res, req, &req.name).await?;
            return Ok(Stored::ok(
                answer(&current.value, current.mod_revision),
                current.mod_revision,
            ));
        }
        self.delete_one(res, req, &req.name, opts).await
    }

    /// `deletecollection`: deletes every object `list` selects; answers with what it deleted.
    pub async fn delete_collection(
        &self,
        res: &Resource,
        req: &RequestFacts,
        list: &ListOptions,
        opts: &DeleteOptions,
    ) -> Result<Listed, Status> {
        let sel = Selectors::new(res, list)?;
        let page = self.read_page(res, req, list, &sel, 0, None).await?;
        let dry_run = opts.dry_run || req.dry_run;
        let mut deleted = Vec::new();
        let one = DeleteOptions {
            preconditions: None,
            ..opts.clone()
        };
        for item in page.items {
            if dry_run {
                deleted.push(item);
                continue;
            }
            let name = String::from_utf8_lossy(&item.key)
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string();
            match self.delete_one(res, req, &name, &one).await {
                Ok(_) => deleted.push(item),
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Listed {
            items: deleted,
            revision: page.revision,
            continue_token: None,
        })
    }

    /// Deletes `name`: at once without finalizers, else marks it deleting.
    pub(super) async fn delete_one(
        &self,
        res: &Resource,
        req: &RequestFacts,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Stored, Status> {
        for _ in 0..UPDATE_RETRIES {
            let current = self.current(res, req, name).await?;
            let mut obj = decode_stored(&current.key, &current.value)?;
            res.normalize(&mut obj);
            let uid = Meta::of(&obj).uid().unwrap_or_default().to_string();
            if let Some(p) = &opts.preconditions {
                check_preconditions(res, name, p, &uid, current.mod_revision)?;
            }
            let attrs = self.attributes(Operation::Delete, res, req, name, Some(&obj));
            self.admission.admit(attrs, None).await?;
            self.admission.validate(attrs, None).await?;
            let mut fins = Meta::of(&obj).finalizers();
            let add = match opts.propagation {
                Some(Propagation::Foreground) => Some("foregroundDeletion"),
                Some(Propagation::Orphan) => Some("orphan"),
                Some(Propagation::Background) | None => None,
            };
            if let Some(f) = add.filter(|f| !fins.iter().any(|have| have == f)) {
                fins.push(f.to_string());
            }
            if fins.is_empty() && res.hooks.kind_finalizers(&obj).is_empty() {
                match self
                    .write_at(res, req, name, current.mod_revision, None, false)
                    .await?
                {
                    Attempt::Done(revision) => {
                        return Ok(Stored::ok(success(res, name, &uid), revision))
                    }
                    Attempt::Retry => continue,
                }
            }
            if Meta::of(&obj).is_deleting() {
                return Ok(Stored::ok(
                    answer(&current.value, current.mod_revision),
                    current.mod_revision,
                ));
            }
            if let Some(mut m) = MetaMut::of(&mut obj) {
                m.set("deletionTimestamp", now_rfc3339());
                m.set("deletionGracePeriodSeconds", 0);
                if !fins.is_empty() {
                    m.set_finalizers(&fins);
                }
            }
            res.hooks.mark_deleting(&mut obj);
            let bytes = encode(&obj)?;
            match self
                .write_at(
                    res,
                    req,
                    name,
                    current.mod_revision,
                    Some(bytes.clone()),
                    false,
                )
                .await?
            {
                Attempt::Done(revision) => {
                    return Ok(Stored::ok(answer(&bytes, revision), revision))
                }
                Attempt::Retry => continue,
            }
        }
        Err(Status::conflict_modified(
            res.api.group,
            res.api.plural,
            name,
        ))
    }
}

/// upstream's 409s for a delete whose preconditions the object does not meet.
fn check_preconditions(
    res: &Resource,
    name: &str,
    p: &Preconditions,
    uid: &str,
    revision: i64,
) -> Result<(), Status> {
    if let Some(want) = p.uid.as_deref().filter(|u| !u.is_empty() && *u != uid) {
        return Err(Status::conflict(
            res.api.group,
            res.api.plural,
            name,
            &format!("Precondition failed: UID in precondition: {want}, UID in object meta: {uid}"),
        ));
    }
    if let Some(want) = p
        .resource_version
        .as_deref()
        .filter(|r| !r.is_empty() && *r != revision.to_string())
    {
        return Err(Status::conflict(
            res.api.group,
            res.api.plural,
            name,
            &format!("Precondition failed: ResourceVersion in precondition: {want}, ResourceVersion in object meta: {revision}"),
        ));
    }
    Ok(())
}

/// upstream's answer to a delete that removed the object: a Success Status.
fn success(res: &Resource, name: &str, uid: &str) -> bytes::Bytes {
    let mut details = serde_json::json!({"name": name, "kind": res.api.plural, "uid": uid});
    if !res.api.group.is_empty() {
        details["group"] = Value::String(res.api.group.to_string());
    }
    let body = serde_json::json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    });
    // A JSON value always serializes.
    bytes::Bytes::from(serde_json::to_vec(&body).unwrap_or_default())
}
