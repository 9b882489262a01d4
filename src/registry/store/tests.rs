//! The Store against the embedded store in a temporary directory, on a glommio executor as a
//! shard runs it: create/update/delete, finalizers, preconditions, dry run, deletecollection,
//! conflict retries, admission, and stored data that does not decode.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::Cell;
use std::rc::Rc;

use bytes::Bytes;
use serde_json::{json, Value};

use super::testing::{body, facts, parsed, row, with_store};
use super::*;
use crate::api::resources::Subresource;
use crate::registry::kinds::{HookFuture, Object};
use crate::registry::patch::PatchType;
use crate::request::Query;
use crate::storage::kv::Precondition;

#[test]
fn create_get_update_and_conflicts() {
    with_store(AdmissionChain::default(), |store, _| async move {
        let cm = row(&store, "", "configmaps");
        let made = store
            .create(
                &cm,
                &facts(Some("ns"), ""),
                body(json!({"metadata": {"name": "a", "bogus": 1}, "data": {"k": "v"}})),
            )
            .await
            .unwrap();
        assert_eq!(made.code, 201);
        assert_eq!(made.warnings, ["unknown field \"metadata.bogus\""]);
        let v = parsed(&made);
        assert_eq!(v["metadata"]["resourceVersion"], made.revision.to_string());
        assert_eq!(v["metadata"]["namespace"], "ns");

        let again = store
            .create(
                &cm,
                &facts(Some("ns"), ""),
                body(json!({"metadata": {"name": "a"}})),
            )
            .await
            .unwrap_err();
        assert_eq!((again.code, again.reason), (409, Reason::AlreadyExists));

        let got = store.get(&cm, &facts(Some("ns"), "a"), "").await.unwrap();
        assert_eq!(got.revision, made.revision);

        // A stale resourceVersion is a conflict; the current one writes.
        let stale =
            json!({"metadata": {"name": "a", "resourceVersion": "999"}, "data": {"k": "w"}});
        let e = store
            .update(&cm, &facts(Some("ns"), "a"), body(stale))
            .await
            .unwrap_err();
        assert_eq!(e.code, 409);
        let current = json!({"metadata": {"name": "a", "resourceVersion": made.revision.to_string()},
            "data": {"k": "w"}});
        let updated = store
            .update(&cm, &facts(Some("ns"), "a"), body(current))
            .await
            .unwrap();
        assert!(updated.revision > made.revision);
        assert_eq!(parsed(&updated)["data"]["k"], "w");
        // Unchanged: nothing written, the same revision.
        let same = store
            .update(
                &cm,
                &facts(Some("ns"), "a"),
                body(json!({"metadata": {"name": "a"}, "data": {"k": "w"}})),
            )
            .await
            .unwrap();
        assert_eq!(same.revision, updated.revision);

        // Dry run answers but writes nothing.
        let dry = RequestFacts {
            dry_run: true,
            ..facts(Some("ns"), "a")
        };
        let answered = store
            .update(
                &cm,
                &dry,
                body(json!({"metadata": {"name": "a"}, "data": {"k": "dry"}})),
            )
            .await
            .unwrap();
        assert_eq!(parsed(&answered)["data"]["k"], "dry");
        assert_eq!(
            answered.revision, updated.revision,
            "current resourceVersion"
        );
        let after = store.get(&cm, &facts(Some("ns"), "a"), "").await.unwrap();
        assert_eq!(parsed(&after)["data"]["k"], "w");
        let none = store
            .create(
                &cm,
                &RequestFacts {
                    dry_run: true,
                    ..facts(Some("ns"), "")
                },
                body(json!({"metadata": {"name": "dry"}})),
            )
            .await
            .unwrap();
        assert_eq!(none.code, 201);
        let e = store
            .get(&cm, &facts(Some("ns"), "dry"), "")
            .await
            .unwrap_err();
        assert_eq!(e.code, 404);
    });
}

#[test]
fn status_and_scale_write_only_their_part() {
    with_store(AdmissionChain::default(), |store, _| async move {
        let deploy = row(&store, "apps", "deployments");
        let d = json!({"metadata": {"name": "web"}, "spec": {"replicas": 1,
            "selector": {"matchLabels": {"a": "b"}},
            "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}},
            "status": {"replicas": 9}});
        let made = store
            .create(&deploy, &facts(Some("ns"), ""), body(d))
            .await
            .unwrap();
        let v = parsed(&made);
        assert_eq!(v["status"], json!({}), "status is reset on create");
        assert_eq!(v["metadata"]["generation"], 1);

        let status = RequestFacts {
            subresource: Some(Subresource::Status),
            ..facts(Some("ns"), "web")
        };
        let mut changed = v.clone();
        changed["status"] = json!({"replicas": 3});
        changed["spec"]["replicas"] = json!(7);
        let s = store.update(&deploy, &status, body(changed)).await.unwrap();
        let s = parsed(&s);
        assert_eq!(s["status"]["replicas"], 3);
        assert_eq!(s["spec"]["replicas"], 1, "status writes only status");

        let scale = RequestFacts {
            subresource: Some(Subresource::Scale),
            ..facts(Some("ns"), "web")
        };
        let scaled = store
            .update_scale(&deploy, &scale, &body(json!({"spec": {"replicas": 4}})))
            .await
            .unwrap();
        assert_eq!(parsed(&scaled)["spec"]["replicas"], 4);
        let got = parsed(
            &store
                .get(&deploy, &facts(Some("ns"), "web"), "")
                .await
                .unwrap(),
        );
        assert_eq!(got["spec"]["replicas"], 4);
        assert_eq!(got["metadata"]["generation"], 2, "a scale changes the spec");
        let patched = store
            .patch(
                &deploy,
                &scale,
                PatchType::Merge,
                br#"{"spec":{"replicas":-1}}"#,
            )
            .await
            .unwrap_err();
        assert_eq!(patched.code, 422);
    });
}

#[test]
fn finalizers_hold_a_delete_until_they_are_gone() {
    with_store(AdmissionChain::default(), |store, _| async move {
        let cm = row(&store, "", "configmaps");
        let f = facts(Some("ns"), "held");
        let made = store
            .create(
                &cm,
                &facts(Some("ns"), ""),
                body(json!({"metadata": {"name": "held", "finalizers": ["example.com/x"]}})),
            )
            .await
            .unwrap();
        let uid = parsed(&made)["metadata"]["uid"]
            .as_str()
            .unwrap()
            .to_string();

        // Preconditions that do not hold are 409s, and nothing changes.
        let wrong_uid = DeleteOptions {
            preconditions: Some(Preconditions {
                uid: Some("other".into()),
                resource_version: None,
            }),
            ..DeleteOptions::default()
        };
        let e = store.delete(&cm, &f, &wrong_uid).await.unwrap_err();
        assert_eq!(e.code, 409);
        assert!(
            e.message.contains("UID in precondition: other"),
            "{}",
            e.message
        );
        let wrong_rv = DeleteOptions {
            preconditions: Some(Preconditions {
                uid: None,
                resource_version: Some("999".into()),
            }),
            ..DeleteOptions::default()
        };
        assert_eq!(
            store.delete(&cm, &f, &wrong_rv).await.unwrap_err().code,
            409
        );

        let right = DeleteOptions {
            preconditions: Some(Preconditions {
                uid: Some(uid),
                resource_version: None,
            }),
            ..DeleteOptions::default()
        };
        let marked = parsed(&store.delete(&cm, &f, &right).await.unwrap());
        assert!(marked["metadata"]["deletionTimestamp"].is_string());
        // Deleting again changes nothing.
        let again = parsed(
            &store
                .delete(&cm, &f, &DeleteOptions::default())
                .await
                .unwrap(),
        );
        assert_eq!(
            again["metadata"]["resourceVersion"],
            marked["metadata"]["resourceVersion"]
        );
        // No new finalizer while deleting.
        let mut more = marked.clone();
        more["metadata"]["finalizers"] = json!(["example.com/x", "example.com/y"]);
        assert_eq!(
            store.update(&cm, &f, body(more)).await.unwrap_err().code,
            422
        );
        // The last finalizer removed: the object goes.
        let mut done = marked.clone();
        done["metadata"]["finalizers"] = json!([]);
        store.update(&cm, &f, body(done)).await.unwrap();
        assert_eq!(store.get(&cm, &f, "").await.unwrap_err().code, 404);

        // Foreground propagation adds its finalizer.
        store
            .create(
                &cm,
                &facts(Some("ns"), ""),
                body(json!({"metadata": {"name": "fg"}})),
            )
            .await
            .unwrap();
        let fg = DeleteOptions {
            propagation: Some(Propagation::Foreground),
            ..DeleteOptions::default()
        };
        let fgd = parsed(
            &store
                .delete(&cm, &facts(Some("ns"), "fg"), &fg)
                .await
                .unwrap(),
        );
        assert_eq!(fgd["metadata"]["finalizers"], json!(["foregroundDeletion"]));
    });
}

#[test]
fn deletecollection_deletes_what_the_selector_selects() {
    with_store(AdmissionChain::default(), |store, _| async move {
        let cm = row(&store, "", "configmaps");
        for (name, tier) in [("a", "web"), ("b", "web"), ("c", "db")] {
            store
                .create(
                    &cm,
                    &facts(Some("ns"), ""),
                    body(json!({"metadata": {"name": name, "labels": {"tier": tier}}})),
                )
                .await
                .unwrap();
        }
        let list =
            ListOptions::from_query(&Query::parse(Some("labelSelector=tier%3Dweb"))).unwrap();
        let deleted = store
            .delete_collection(
                &cm,
                &facts(Some("ns"), ""),
                &list,
                &DeleteOptions::default(),
            )
            .await
            .unwrap();
        assert_eq!(deleted.items.len(), 2);
        let left = store
            .list(&cm, &facts(Some("ns"), ""), &ListOptions::default())
            .await
            .unwrap();
        let names: Vec<String> = left
            .items
            .iter()
            .map(|i| {
                serde_json::from_slice::<Value>(&i.json).unwrap()["metadata"]["name"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(names, ["c"]);
    });
}

/// A plugin that, the first time it admits an update, writes the object behind the Store's
/// back (another writer winning the race), then counts its calls.
struct Racer {
    storage: StorageClient,
    calls: Cell<usize>,
}

impl AdmissionPlugin for Racer {
    fn name(&self) -> &'static str {
        "Racer"
    }

    fn admit<'a>(
        &'a self,
        attrs: Attributes<'a>,
        _obj: Option<&'a mut Object>,
    ) -> HookFuture<'a, Result<(), Status>> {
        Box::pin(async move {
            if attrs.operation != Operation::Update {
                return Ok(());
            }
            self.calls.set(self.calls.get() + 1);
            if self.calls.get() == 1 {
                let mut other = attrs.old.cloned().unwrap();
                other["metadata"]["labels"] = json!({"other": "writer"});
                self.storage
                    .put(
                        Bytes::from_static(b"/registry/configmaps/ns/raced"),
                        Bytes::from(serde_json::to_vec(&other).unwrap()),
                        Precondition::None,
                    )
                    .await
                    .unwrap();
            }
            Ok(())
        })
    }
}

#[test]
fn a_lost_race_is_retried_with_a_fresh_read() {
    with_store(AdmissionChain::default(), |store, storage| async move {
        let racer = Rc::new(Racer {
            storage: storage.clone(),
            calls: Cell::new(0),
        });
        let racing = Store::new(
            Rc::clone(store.table()),
            storage,
            "/registry".into(),
            None,
            AdmissionChain::new(vec![racer.clone() as Rc<dyn AdmissionPlugin>]),
            shards::signal::Signal::new("test-stopping"),
        );
        let cm = row(&racing, "", "configmaps");
        racing
            .create(
                &cm,
                &facts(Some("ns"), ""),
                body(json!({"metadata": {"name": "raced"}})),
            )
            .await
            .unwrap();
        // A merge patch: the loop reads, loses to the other writer, reads again, applies.
        let patched = racing
            .patch(
                &cm,
                &facts(Some("ns"), "raced"),
                PatchType::Merge,
                br#"{"data":{"k":"v"}}"#,
            )
            .await
            .unwrap();
        assert_eq!(
            racer.calls.get(),
            2,
            "one read and one admission per attempt"
        );
        let v = parsed(&patched);
        assert_eq!(v["data"]["k"], "v");
        assert_eq!(
            v["metadata"]["labels"]["other"], "writer",
            "the other write is kept"
        );
        // A patch that pins the resourceVersion is not retried: 409.
        racer.calls.set(0);
        let pinned = format!(
            r#"{{"metadata":{{"resourceVersion":"{}"}},"data":{{"k":"x"}}}}"#,
            patched.revision
        );
        let e = racing
            .patch(
                &cm,
                &facts(Some("ns"), "raced"),
                PatchType::Merge,
                pinned.as_bytes(),
            )
            .await
            .unwrap_err();
        assert_eq!(e.code, 409);
        assert_eq!(racer.calls.get(), 1);
    });
}

/// A plugin that refuses every create.
struct Refuse;

impl AdmissionPlugin for Refuse {
    fn name(&self) -> &'static str {
        "Refuse"
    }

    fn validate<'a>(
        &'a self,
        attrs: Attributes<'a>,
        _obj: Option<&'a Object>,
    ) -> HookFuture<'a, Result<(), Status>> {
        Box::pin(async move {
            match attrs.operation {
                Operation::Create => {
                    Err(Status::new(Reason::Forbidden, format!("no {}", attrs.name)))
                }
                _ => Ok(()),
            }
        })
    }
}

#[test]
fn admission_runs_before_storage() {
    let chain = AdmissionChain::new(vec![Rc::new(Refuse)]);
    with_store(chain, |store, storage| async move {
        let cm = row(&store, "", "configmaps");
        let e = store
            .create(
                &cm,
                &facts(Some("ns"), ""),
                body(json!({"metadata": {"name": "b"}})),
            )
            .await
            .unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (403, "no b"));
        let (kv, _) = storage
            .get(Bytes::from_static(b"/registry/configmaps/ns/b"), 0)
            .await
            .unwrap();
        assert!(kv.is_none(), "refused before storage");
    });
}

#[test]
fn stored_data_that_does_not_decode_is_a_500_never_overwritten() {
    with_store(AdmissionChain::default(), |store, storage| async move {
        let key = Bytes::from_static(b"/registry/configmaps/ns/broken");
        storage
            .put(
                key.clone(),
                Bytes::from_static(b"\x00not json"),
                Precondition::Absent,
            )
            .await
            .unwrap();
        let cm = row(&store, "", "configmaps");
        let f = facts(Some("ns"), "broken");
        let e = store
            .update(
                &cm,
                &f,
                body(json!({"metadata": {"name": "broken"}, "data": {"k": "v"}})),
            )
            .await
            .unwrap_err();
        assert_eq!(e.code, 500);
        assert!(
            e.message.contains("/registry/configmaps/ns/broken"),
            "{}",
            e.message
        );
        assert_eq!(
            store
                .delete(&cm, &f, &DeleteOptions::default())
                .await
                .unwrap_err()
                .code,
            500
        );
        let patch = store
            .patch(&cm, &f, PatchType::Merge, b"{}")
            .await
            .unwrap_err();
        assert_eq!(patch.code, 500);
        let (kv, _) = storage.get(key, 0).await.unwrap();
        assert_eq!(&kv.unwrap().value[..], b"\x00not json", "left as it was");
    });
}
