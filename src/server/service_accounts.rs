//! The ServiceAccount controllers upstream runs in kube-controller-manager, here in-process
//! on one shard and through the Store: every active namespace gets the `default`
//! ServiceAccount and the `kube-root-ca.crt` ConfigMap (the CA clients verify the server
//! with), and Secrets of type `kubernetes.io/service-account-token` get a legacy token, the CA
//! and the namespace filled in.

use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use serde_json::{json, Map, Value};

use crate::api::meta::Meta;
use crate::api::object::decode_stored;
use crate::api::status::Status;
use crate::authn::service_account::claims::{self, BoundRef};
use crate::authn::service_account::TokenSettings;
use crate::registry::keys;
use crate::registry::resources::Resource;
use crate::registry::store::{ListOptions, RequestFacts, Store};

/// How often the controllers look.
const SCAN_INTERVAL: Duration = Duration::from_millis(500);

/// The ConfigMap every namespace gets.
pub const ROOT_CA_CONFIGMAP: &str = "kube-root-ca.crt";

/// upstream's description of that ConfigMap.
const ROOT_CA_DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

/// The Secret type tokens are filled into.
const TOKEN_SECRET_TYPE: &str = "kubernetes.io/service-account-token";

/// What the controllers work with.
pub struct Controllers {
    /// The shard's store.
    pub store: Rc<Store>,
    /// The CA bundle (PEM) published in every namespace and in token Secrets.
    pub ca_pem: String,
    /// How tokens are signed.
    pub tokens: Arc<TokenSettings>,
    /// Whether this server runs the controllers now (the elected one of those sharing the
    /// storage).
    pub leadership: Rc<crate::server::leader::Leadership>,
}

fn row(store: &Store, plural: &str) -> Result<Rc<Resource>, Status> {
    crate::server::table_row(store, "", plural)
}

fn objects(listed: crate::registry::store::Listed) -> Vec<Map<String, Value>> {
    listed
        .items
        .iter()
        .filter_map(|i| decode_stored(&i.key, &i.json).ok())
        .collect()
}

/// How often the controllers look even when the replica shows no change (resources not
/// in the replica, such as ConfigMaps with `--watch-cache=false`, change unseen).
const FULL_SCAN_INTERVAL: Duration = Duration::from_secs(10);

/// What the last scan saw: the replica's change markers of the resources the controllers
/// read, and when every namespace was last looked at.
#[derive(Default)]
struct ScanState {
    marker: Vec<(u64, u64)>,
    secrets_marker: Option<(u64, u64)>,
    last_full: Option<Instant>,
}

impl Controllers {
    /// Runs until `stop` completes.
    pub async fn run(self, stop: impl std::future::Future<Output = ()>) {
        let work = async {
            let mut state = ScanState::default();
            loop {
                if !self.leadership.leading() {
                    state = ScanState::default();
                    shards::sleep(SCAN_INTERVAL).await;
                    continue;
                }
                if let Err(e) = self.once(&mut state).await {
                    log::debug!("serviceaccount controllers: {}", e.message);
                    state = ScanState::default();
                }
                shards::sleep(SCAN_INTERVAL).await;
            }
        };
        futures_lite::future::or(work, stop).await;
    }

    fn root(&self, plural: &str) -> Bytes {
        Bytes::from(keys::collection_prefix(self.store.prefix(), plural, None))
    }

    fn key(&self, plural: &str, ns: &str, name: &str) -> Bytes {
        Bytes::from(keys::object_key(
            self.store.prefix(),
            plural,
            Some(ns),
            name,
        ))
    }

    /// One pass. The namespaces, ServiceAccounts and token Secrets are read from the shard's
    /// replica (they are always cached), and only when the replica shows they changed, so an
    /// idle pass costs a few comparisons however many objects the cluster holds.
    async fn once(&self, state: &mut ScanState) -> Result<(), Status> {
        let marker: Vec<(u64, u64)> = ["namespaces", "serviceaccounts", "configmaps"]
            .iter()
            .filter_map(|p| self.store.replica_changes(p))
            .collect();
        let full_due = state
            .last_full
            .is_none_or(|t| t.elapsed() >= FULL_SCAN_INTERVAL);
        if full_due || marker != state.marker {
            self.namespaces().await?;
            state.marker = marker;
            state.last_full = Some(Instant::now());
        }
        let secrets_marker = self.store.replica_changes("secrets");
        if secrets_marker.is_none() || secrets_marker != state.secrets_marker || full_due {
            self.token_secrets().await?;
            state.secrets_marker = secrets_marker;
        }
        Ok(())
    }

    /// Whether `name` exists in `ns` (the replica when it holds the resource, else storage).
    async fn exists(&self, res: &Resource, ns: &str, name: &str) -> Result<bool, Status> {
        if let Some(cache) = self.store.cache() {
            if cache
                .resource_index(&self.root(res.api.key_segment))
                .is_some()
            {
                return Ok(cache
                    .get(&self.key(res.api.key_segment, ns, name))
                    .0
                    .is_some());
            }
        }
        let facts =
            RequestFacts::controller(Some(ns), name, Instant::now() + Duration::from_secs(30));
        match self.store.get(res, &facts, "").await {
            Ok(_) => Ok(true),
            Err(e) if e.code == 404 => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Every active namespace gets its `default` ServiceAccount and root CA ConfigMap.
    async fn namespaces(&self) -> Result<(), Status> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let store = &self.store;
        let (namespaces, sas, configmaps) = (
            row(store, "namespaces")?,
            row(store, "serviceaccounts")?,
            row(store, "configmaps")?,
        );
        let all = RequestFacts::controller(None, "", deadline);
        for ns in objects(
            store
                .list(&namespaces, &all, &ListOptions::default())
                .await?,
        ) {
            let meta = Meta::of(&ns);
            if meta.is_deleting() {
                continue;
            }
            let Some(name) = meta.name() else { continue };
            let facts = RequestFacts::controller(Some(name), "", deadline);
            if !self.exists(&sas, name, "default").await? {
                let sa = json!({"metadata": {"name": "default"}});
                ignore_exists(
                    store
                        .create(&sas, &facts, sa.to_string().into_bytes())
                        .await,
                )?;
            }
            if !self.exists(&configmaps, name, ROOT_CA_CONFIGMAP).await? {
                let cm = json!({"metadata": {"name": ROOT_CA_CONFIGMAP,
                    "annotations": {"kubernetes.io/description": ROOT_CA_DESCRIPTION}},
                    "data": {"ca.crt": self.ca_pem}});
                ignore_exists(
                    store
                        .create(&configmaps, &facts, cm.to_string().into_bytes())
                        .await,
                )?;
            }
        }
        Ok(())
    }

    /// Secrets of type `kubernetes.io/service-account-token` without a token get one.
    async fn token_secrets(&self) -> Result<(), Status> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let (sas, secrets) = (
            row(&self.store, "serviceaccounts")?,
            row(&self.store, "secrets")?,
        );
        let candidates: Vec<Map<String, Value>> = match self.store.cache() {
            Some(cache) if cache.resource_index(&self.root("secrets")).is_some() => cache
                .objects_under(&self.root("secrets"))
                .iter()
                // Only token Secrets are decoded.
                .filter(|o| memchr::memmem::find(&o.json, TOKEN_SECRET_TYPE.as_bytes()).is_some())
                .filter_map(|o| decode_stored(&o.key, &o.json).ok())
                .collect(),
            _ => {
                let all = RequestFacts::controller(None, "", deadline);
                objects(
                    self.store
                        .list(&secrets, &all, &ListOptions::default())
                        .await?,
                )
            }
        };
        for secret in candidates {
            if secret.get("type").and_then(Value::as_str) != Some(TOKEN_SECRET_TYPE) {
                continue;
            }
            let has_token = secret.get("data").and_then(|d| d.get("token")).is_some();
            if has_token {
                continue;
            }
            self.fill_token(&secret, &sas, &secrets, deadline).await?;
        }
        Ok(())
    }

    async fn fill_token(
        &self,
        secret: &Map<String, Value>,
        sas: &Resource,
        secrets: &Resource,
        deadline: Instant,
    ) -> Result<(), Status> {
        let meta = Meta::of(secret);
        let (Some(ns), Some(name)) = (meta.namespace(), meta.name()) else {
            return Ok(());
        };
        let Some(sa_name) = meta
            .annotations()
            .and_then(|a| a.get("kubernetes.io/service-account.name"))
            .and_then(Value::as_str)
        else {
            return Ok(());
        };
        let sa_facts = RequestFacts::controller(Some(ns), sa_name, deadline);
        let sa = match self.store.get(sas, &sa_facts, "").await {
            Ok(s) => s,
            Err(e) if e.code == 404 => return Ok(()),
            Err(e) => return Err(e),
        };
        let sa: Value = serde_json::from_slice(&sa.body).unwrap_or(Value::Null);
        let sa_ref = BoundRef {
            name: sa_name.to_string(),
            uid: sa["metadata"]["uid"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        };
        let token = claims::sign(&self.tokens.signing_key, &claims::legacy(ns, &sa_ref, name))
            .map_err(Status::internal)?;
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let (token, ca, namespace) = (b64(&token), b64(&self.ca_pem), b64(ns));
        let uid = sa_ref.uid.clone();
        let facts = RequestFacts::controller(Some(ns), name, deadline);
        let written = self
            .store
            .guaranteed_update(secrets, &facts, &mut |current| {
                let mut next = current.clone();
                let data = next.entry("data").or_insert_with(|| json!({}));
                if let Some(d) = data.as_object_mut() {
                    d.insert("token".into(), json!(token));
                    d.insert("ca.crt".into(), json!(ca));
                    d.insert("namespace".into(), json!(namespace));
                }
                if let Some(m) = next.get_mut("metadata").and_then(Value::as_object_mut) {
                    let a = m.entry("annotations").or_insert_with(|| json!({}));
                    if let Some(a) = a.as_object_mut() {
                        a.insert("kubernetes.io/service-account.uid".into(), json!(uid));
                    }
                }
                Ok(next)
            })
            .await;
        match written {
            Ok(_) => Ok(()),
            Err(e) if e.code == 404 => Ok(()),
            Err(e) => Err(e),
        }
    }
}

fn ignore_exists<T>(r: Result<T, Status>) -> Result<(), Status> {
    match r {
        Ok(_) => Ok(()),
        // Made meanwhile, or the namespace is going away.
        Err(e) if matches!(e.code, 403 | 404 | 409) => Ok(()),
        Err(e) => Err(e),
    }
}
