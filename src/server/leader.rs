//! Leader election among the servers sharing one storage, for the in-process controllers
//! (namespace finalizer, ServiceAccount and token controllers, ClusterRole aggregation): the
//! holder of the `kube-system/kubeshard-controllers` Lease runs them, as kube-controller-manager
//! instances elect theirs (client-go's leaderelection over a Lease). The holder renews every
//! [`RETRY_PERIOD`]; another server takes over once the lease has not been renewed for
//! [`LEASE_DURATION`]. Every takeover is a compare-and-swap on the Lease's resourceVersion,
//! so two servers never both win one term.
//!
//! A server's candidate name is its identity lease's name, stable across restarts: a server
//! restarted after a crash finds its own lease and leads again at once.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::api::status::{Reason, Status};
use crate::registry::store::{RequestFacts, Store};
use crate::registry::strategy::{age_of, now_micro_rfc3339};
use crate::server::table_row;

/// The Lease the controllers' leader holds.
pub const LEASE_NAME: &str = "kubeshard-controllers";

/// How long a lease lasts without renewal (client-go's default for controllers: 15 s).
pub const LEASE_DURATION: Duration = Duration::from_secs(15);

/// How often the leader renews and the others try (client-go's retry period: 2 s).
pub const RETRY_PERIOD: Duration = Duration::from_secs(2);

/// Whether this server leads now; read by the controllers before each pass.
#[derive(Debug, Default)]
pub struct Leadership {
    leading: Cell<bool>,
}

impl Leadership {
    /// True while this server holds the lease.
    pub fn leading(&self) -> bool {
        self.leading.get()
    }
}

/// Whether the lease `spec` was last renewed longer ago than it lasts (or never).
fn expired(spec: &Value) -> bool {
    let lasts = spec["leaseDurationSeconds"]
        .as_u64()
        .map_or(LEASE_DURATION, Duration::from_secs);
    spec["renewTime"]
        .as_str()
        .and_then(age_of)
        .is_none_or(|age| age > lasts)
}

/// Tries for the lease, or renews it, every [`RETRY_PERIOD`] until `stop`; `leadership`
/// follows the outcome. At `stop` a leader gives the lease up (its renewTime in the past), so
/// another server takes over at once rather than after [`LEASE_DURATION`].
pub async fn run(
    store: Rc<Store>,
    candidate: String,
    leadership: Rc<Leadership>,
    stop: impl std::future::Future<Output = ()>,
) {
    let work = async {
        loop {
            let leading = match try_lead(&store, &candidate, false).await {
                Ok(l) => l,
                Err(e) => {
                    log::debug!("leader election: {}", e.message);
                    false
                }
            };
            if leading != leadership.leading() {
                log::info!(
                    "leader election: {candidate} {} the lease kube-system/{LEASE_NAME}",
                    if leading { "acquired" } else { "lost" }
                );
            }
            leadership.leading.set(leading);
            shards::sleep(RETRY_PERIOD).await;
        }
    };
    futures_lite::future::or(work, stop).await;
    if leadership.leading() {
        leadership.leading.set(false);
        let _ = try_lead(&store, &candidate, true).await;
    }
}

/// One round: true when `candidate` holds the lease afterwards. With `release`, a held lease
/// is given up instead.
async fn try_lead(store: &Store, candidate: &str, release: bool) -> Result<bool, Status> {
    let leases = table_row(store, "coordination.k8s.io", "leases")?;
    let deadline = Instant::now() + Duration::from_secs(5);
    let facts = RequestFacts::internal(Some("kube-system"), LEASE_NAME, deadline);
    let now = now_micro_rfc3339();
    let mut won = false;
    let updated = store
        .guaranteed_update(&leases, &facts, &mut |current| {
            let spec = current.get("spec").cloned().unwrap_or(json!({}));
            let holder = spec["holderIdentity"].as_str().unwrap_or_default();
            let mine = holder == candidate;
            if !mine && !expired(&spec) {
                won = false;
                return Err(Status::new(Reason::Conflict, format!("held by {holder}")));
            }
            let mut next = current.clone();
            let mut s = spec.as_object().cloned().unwrap_or_default();
            if release {
                if !mine {
                    return Err(Status::new(Reason::Conflict, "not ours"));
                }
                s.insert(
                    "renewTime".into(),
                    Value::from("1970-01-01T00:00:00.000000Z"),
                );
                s.insert("leaseDurationSeconds".into(), Value::from(1));
            } else {
                if !mine {
                    s.insert("holderIdentity".into(), Value::from(candidate));
                    s.insert("acquireTime".into(), Value::from(now.clone()));
                    let transitions = s
                        .get("leaseTransitions")
                        .and_then(Value::as_i64)
                        .unwrap_or(0);
                    s.insert("leaseTransitions".into(), Value::from(transitions + 1));
                }
                s.insert("renewTime".into(), Value::from(now.clone()));
                s.insert(
                    "leaseDurationSeconds".into(),
                    Value::from(LEASE_DURATION.as_secs()),
                );
            }
            next.insert("spec".into(), Value::Object(s));
            won = !release;
            Ok(next)
        })
        .await;
    match updated {
        Ok(_) => Ok(won),
        Err(e) if e.code == 404 && !release => {
            let lease = json!({
                "metadata": {"name": LEASE_NAME},
                "spec": {"holderIdentity": candidate, "leaseDurationSeconds": LEASE_DURATION.as_secs(),
                         "acquireTime": now, "renewTime": now, "leaseTransitions": 0},
            });
            match store
                .create(&leases, &facts, lease.to_string().into_bytes())
                .await
            {
                Ok(_) => Ok(true),
                Err(e) if e.code == 409 => Ok(false),
                Err(e) => Err(e),
            }
        }
        Err(e) if e.code == 409 => Ok(false),
        Err(e) => Err(e),
    }
}
