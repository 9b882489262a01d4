//! The server: start-up (PKI, TLS, shards), the per-shard handler, and graceful termination.

pub mod apiserver_leases;
pub mod authorizers;
pub mod csr_signer;
pub mod discovery;
pub mod disruption;
pub mod health;
pub mod instrument;
pub mod leader;
pub mod lifecycle;
pub mod metrics;
pub mod namespaces;
pub mod oidc;
pub mod openapi;
pub mod post_start;
pub mod priority_classes;
pub mod rbac_aggregation;
pub mod routes;
pub mod service_accounts;
pub mod storage_protection;
pub mod tls;
pub mod version;
pub mod watch_cache;

use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use shards::gate::Gate;
use shards::server::{HttpConfig, TlsHttpServer};
use shards::shard::{ExecutorConfig, ShardId, ShardSet};
use tuning::Tuning;

use self::discovery::Discovery;
use self::health::{Health, HealthCheck};
use self::lifecycle::Lifecycle;
use self::routes::ServerChain;
use crate::endpoints::rest::RestApi;
use crate::filters::{ChainState, HandlerChain};
use crate::options::CompletedOptions;
use crate::pki;
use crate::registry::kinds::service::allocator::{IpRange, PortRange, ServiceIps};
use crate::registry::resources::{all_resources, KindsConfig, ResourceTable};
use crate::registry::store::Store;
use crate::storage::cache::{run_feed, CacheConfig, WatchCache};
use crate::storage::embedded::{EmbeddedOptions, EmbeddedStore};
use crate::storage::etcd::{EtcdConfig, EtcdStore};
use crate::storage::lanes::LaneReceiver;
use crate::storage::thread::{StorageClient, StorageConfig, StorageThread};

/// Everything a shard needs to start, shared read-only by all shards.
struct ShardBoot {
    addr: SocketAddr,
    /// This server's identity lease and advertise address (shard 0 keeps them).
    identity: apiserver_leases::Identity,
    tls: rustls::ServerConfig,
    http: HttpConfig,
    lifecycle: Arc<Lifecycle>,
    request_timeout: Duration,
    /// `--min-request-timeout`: the shortest a watch without `timeoutSeconds` lasts.
    min_request_timeout: Duration,
    /// `--audit-policy-file` with its log backend's sink, when auditing.
    auditing: Option<crate::audit::Auditing>,
    /// `--max-requests-inflight` / `--max-mutating-requests-inflight`, shared by every shard.
    in_flight_limits: &'static crate::filters::max_in_flight::InFlightLimits,
    /// API Priority and Fairness's seats, unless `--enable-priority-and-fairness=false`.
    flow_dispatcher: Option<&'static crate::flowcontrol::dispatch::Dispatcher>,
    /// The admission plugins the flags chose (each shard builds its chain from them).
    admission: crate::admission::AdmissionConfig,
    send_retry_after: bool,
    storage: StorageClient,
    storage_prefix: String,
    /// The post-start hooks whose readiness checks every shard serves.
    hooks: Vec<post_start::PostStartHook>,
    max_body: usize,
    /// `--service-cluster-ip-range`.
    service_ip_range: IpRange,
    /// `--service-node-port-range`.
    node_port_range: PortRange,
    /// The watch cache's settings (with `--watch-cache=false` it holds only what the
    /// server itself reads, such as RBAC).
    cache: Option<Arc<CacheConfig>>,
    /// `--anonymous-auth`.
    anonymous_auth: bool,
    /// `--enable-bootstrap-token-auth`.
    bootstrap_token_auth: bool,
    /// `--token-auth-file`, read once.
    token_file: Option<Arc<crate::authn::token_file::TokenFile>>,
    /// `--authorization-mode`.
    authorization_modes: Arc<authorizers::SharedAuthorizers>,
    /// The CA bundle published in namespaces and token Secrets.
    ca_pem: String,
    /// ServiceAccount token keys, issuers and audiences.
    service_account_tokens: Arc<crate::authn::service_account::TokenSettings>,
    /// The CA the CSR signer issues certificates with.
    signing_ca: csr_signer::SigningCa,
    /// How shards reach kubelets (`--kubelet-*`).
    kubelet: Arc<crate::endpoints::connect::KubeletClient>,
    /// `--authentication-token-webhook-config-file`: the webhook thread's handle.
    token_webhook: Option<crate::authn::webhook::WebhookTokenAuthenticator>,
    /// `--authentication-config` / `--oidc-*`: the JWT issuers' state, kept current.
    jwt: Option<crate::authn::jwt::SharedJwtState>,
    /// Each shard takes its own event lane (by shard index) when it starts.
    lanes: std::sync::Mutex<Vec<Option<LaneReceiver>>>,
    ready: crossbeam::channel::Sender<(ShardId, Result<SocketAddr, String>)>,
}

/// Runs the server until it has terminated; returns the process exit code.
pub fn run(opts: CompletedOptions) -> i32 {
    match start_and_wait(opts) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("Error: {e}");
            1
        }
    }
}

fn start_and_wait(opts: CompletedOptions) -> Result<(), String> {
    let tuning: Tuning = opts.shards.tuning()?;
    let cpus = opts.shards.cpu_list()?;
    let data_dir = &opts.shards.data_dir;
    std::fs::create_dir_all(data_dir)
        .map_err(|e| format!("--data-dir {}: {e}", data_dir.display()))?;
    let data_dir = data_dir
        .canonicalize()
        .map_err(|e| format!("--data-dir {}: {e}", data_dir.display()))?;
    // The store (its directory lock) first: a second server on this data dir stops here,
    // before it touches the PKI or the kubeconfig.
    let storage_prefix = opts.etcd.etcd_prefix.trim_end_matches('/').to_string();
    let decorator = Arc::new(watch_cache::decorator(
        &ResourceTable::builtin(KindsConfig::default()),
        &storage_prefix,
    ));
    let (storage_thread, storage, lanes) = start_storage(
        &opts,
        &tuning,
        &data_dir,
        cpus.len(),
        Arc::clone(&decorator),
    )?;
    let cache = watch_cache::config(
        &opts.etcd,
        &tuning,
        all_resources(),
        &storage_prefix,
        decorator,
    );
    let cert_dir = opts
        .secure_serving
        .cert_dir
        .clone()
        .unwrap_or_else(|| data_dir.join("pki"));

    // PKI: the user's serving certificate, or the bootstrap one.
    let user_serving = opts
        .secure_serving
        .tls_cert_file
        .clone()
        .zip(opts.secure_serving.tls_private_key_file.clone());
    let bind = opts.secure_serving.bind_address;
    let pki = pki::ensure(&cert_dir, user_serving.is_none(), bind).map_err(|e| e.to_string())?;
    let (cert_file, key_file) = user_serving.clone().unwrap_or((
        pki.paths.serving_cert.clone(),
        pki.paths.serving_key.clone(),
    ));
    let client_ca: PathBuf = opts
        .client_ca_file
        .clone()
        .unwrap_or(pki.paths.ca_cert.clone());
    let tls = tls::server_config(&cert_file, &key_file, &client_ca)?;

    let addr = SocketAddr::new(bind, opts.secure_serving.secure_port);
    // Every shard binds with SO_REUSEPORT, which would let two servers share a port silently.
    // A plain bind first makes "address in use" an error, as it is for kube-apiserver.
    // (std's bind sets SO_REUSEADDR, as the shards' do: a crashed predecessor's connections
    // in TIME_WAIT never fail a restart, only a live listener does.)
    StdListener::bind(addr).map_err(|e| {
        let cause = if e.kind() == std::io::ErrorKind::AddrInUse {
            "bind: address already in use".to_string()
        } else {
            e.to_string()
        };
        format!("failed to create listener: failed to listen on {addr}: listen tcp {addr}: {cause}")
    })?;

    let kubeconfig = data_dir.join("admin.kubeconfig");
    let host = if bind.is_unspecified() || bind.is_loopback() {
        if bind.is_ipv6() {
            "[::1]".to_string()
        } else {
            "127.0.0.1".to_string()
        }
    } else if bind.is_ipv6() {
        format!("[{bind}]")
    } else {
        bind.to_string()
    };
    let url = format!("https://{host}:{}", addr.port());
    let ca_for_kubeconfig = user_serving.is_none().then_some(pki.ca_pem.as_str());
    pki::write_kubeconfig(
        &kubeconfig,
        &url,
        ca_for_kubeconfig,
        &pki.admin_cert_pem,
        &pki.admin_key_pem,
    )
    .map_err(|e| e.to_string())?;

    match shards::rt::limits::ensure_memlock(64 << 20) {
        Ok(l) if (l as usize) < tuning.executor.io_memory_bytes * (cpus.len() + 1) => {
            log::warn!("RLIMIT_MEMLOCK is {l} bytes; io_uring buffer registration may fall back")
        }
        Ok(_) => {}
        Err(e) => log::warn!("cannot read RLIMIT_MEMLOCK: {e}"),
    }

    let mut admission_config = opts.admission.config();
    if admission_config.wants_webhooks() {
        admission_config.webhook_caller =
            Some(crate::webhook::caller::Caller::start("admission-webhooks")?);
    }
    let missing = admission_config.missing();
    if !missing.is_empty() {
        log::info!(
            "admission: enabled plugins kubeshard does not run yet: {}",
            missing.join(", ")
        );
    }
    let service_ip_range = IpRange::parse(&opts.generic.service_cluster_ip_range)?;
    let system_namespaces = namespaces::start_system_namespaces(
        &storage,
        &storage_prefix,
        namespaces::kubernetes_service(&storage_prefix, service_ip_range.kubernetes(), addr.port())
            .into_iter()
            .collect(),
    );
    let rbac_bootstrap = {
        let (storage, prefix) = (storage.clone(), storage_prefix.clone());
        post_start::PostStartHook::start("poststarthook/rbac/bootstrap-roles", move || {
            let (created, updated) = futures_lite::future::block_on(
                crate::authz::rbac::bootstrap::reconcile(&storage, &prefix),
            )?;
            if created + updated > 0 {
                log::info!("rbac bootstrap policy: {created} created, {updated} updated");
            }
            Ok(())
        })
    };
    // The OpenAPI documents (and the schemas field validation uses), built once, off the
    // request path; the v2 document from them on a thread of its own, so serving starts
    // without waiting for it (~50 ms) and no shard stalls on the first request. Its scratch
    // (~6 MiB of parsed documents) goes back to the OS once it is done.
    let _ = crate::openapi::get();
    if let Err(e) = std::thread::Builder::new()
        .name("openapi-v2".into())
        .spawn(|| {
            let _ = crate::openapi::swagger();
            shards::rt::limits::release_free_memory();
        })
    {
        log::warn!("cannot start the /openapi/v2 builder thread ({e}); built on first request");
    }
    let lifecycle = Lifecycle::new(cpus.len());
    // Before anything is announced: a SIGTERM right after "serving on" must start graceful
    // termination, not kill the process with the default action.
    install_signal_handler(Arc::clone(&lifecycle))?;
    let priority_hook = priority_classes::start(&storage, &storage_prefix);
    let apf_hook = opts
        .generic
        .enable_priority_and_fairness
        .then(|| apf_config_producer(&storage, &storage_prefix, &lifecycle));
    let (ready_tx, ready_rx) = crossbeam::channel::bounded(cpus.len());
    let authz_chain = opts.authorization.chain()?;
    let audit_backend = start_audit(&opts.audit)?;
    let boot = Arc::new(ShardBoot {
        addr,
        identity: apiserver_leases::Identity::new(
            advertise_address(opts.generic.advertise_address, bind),
            addr.port(),
        ),
        tls,
        http: HttpConfig {
            handshake_timeout: tuning.http.tls_handshake_timeout,
            header_read_timeout: tuning.http.header_read_timeout,
            max_header_bytes: tuning.http.max_header_bytes,
            http2_max_concurrent_streams: tuning.http.http2_max_streams_per_connection,
            http2_keepalive_interval: (!tuning.http.http2_keepalive_interval.is_zero())
                .then_some(tuning.http.http2_keepalive_interval),
            goaway_chance: opts.generic.goaway_chance,
        },
        lifecycle: Arc::clone(&lifecycle),
        request_timeout: opts.generic.request_timeout,
        min_request_timeout: Duration::from_secs(
            u64::try_from(opts.generic.min_request_timeout).unwrap_or(0),
        ),
        auditing: audit_backend.as_ref().map(|(auditing, _)| auditing.clone()),
        flow_dispatcher: opts.generic.enable_priority_and_fairness.then(|| {
            crate::flowcontrol::dispatcher(
                u32::try_from(opts.generic.max_requests_inflight).unwrap_or(0),
                u32::try_from(opts.generic.max_mutating_requests_inflight).unwrap_or(0),
            )
        }),
        in_flight_limits: crate::filters::max_in_flight::InFlightLimits::new(
            usize::try_from(opts.generic.max_requests_inflight).unwrap_or(0),
            usize::try_from(opts.generic.max_mutating_requests_inflight).unwrap_or(0),
        ),
        send_retry_after: opts.generic.shutdown_send_retry_after,
        storage,
        storage_prefix: storage_prefix.clone(),
        admission: admission_config,
        hooks: [system_namespaces, rbac_bootstrap, priority_hook]
            .into_iter()
            .chain(apf_hook)
            .collect(),
        max_body: tuning.http.max_request_body_bytes,
        service_ip_range,
        node_port_range: PortRange::parse(&opts.generic.service_node_port_range)?,
        cache,
        anonymous_auth: anonymous_auth(&opts, &authz_chain),
        bootstrap_token_auth: opts.authentication.enable_bootstrap_token_auth,
        token_file: match &opts.authentication.token_auth_file {
            Some(p) => Some(Arc::new(crate::authn::token_file::TokenFile::read(p)?)),
            None => None,
        },
        authorization_modes: authorizers::SharedAuthorizers::start(
            &authz_chain,
            opts.authorization.authorization_config.clone(),
        )?,
        jwt: match opts.authentication.jwt_config()? {
            Some(cfg) => Some(crate::authn::jwt::start(
                cfg,
                opts.authentication.authentication_config.clone(),
            )?),
            None => None,
        },
        token_webhook: match &opts.authentication.authentication_token_webhook_config_file {
            Some(p) => {
                let target = crate::webhook::WebhookTarget::read(p)?;
                Some(crate::authn::webhook::WebhookTokenAuthenticator::start(
                    target,
                    &opts.authentication.authentication_token_webhook_version,
                    opts.authentication.audiences(),
                    opts.authentication.authentication_token_webhook_cache_ttl,
                )?)
            }
            None => None,
        },
        kubelet: Arc::new(crate::endpoints::connect::KubeletClient::new(
            &opts.kubelet,
        )?),
        signing_ca: csr_signer::SigningCa {
            cert: pki.paths.ca_cert.clone(),
            key: pki.paths.ca_key.clone(),
        },
        service_account_tokens: Arc::new(service_account_tokens(
            &opts,
            &pki.paths,
            &storage_prefix,
        )?),
        ca_pem: match &opts.client_ca_file {
            Some(p) if user_serving.is_some() => std::fs::read_to_string(p).unwrap_or_default(),
            _ => pki.ca_pem.clone(),
        },
        lanes: std::sync::Mutex::new(lanes.into_iter().map(Some).collect()),
        ready: ready_tx,
    });
    let exec = ExecutorConfig {
        io_memory: tuning.executor.io_memory_bytes,
        ring_depth: tuning.executor.ring_depth,
        spin_before_park: tuning.executor.spin_before_park,
        preempt_timer: tuning.executor.preempt_timer,
    };
    let shard_boot = Arc::clone(&boot);
    let set = ShardSet::start(&cpus, &exec, move |id| {
        shard_main(id, Arc::clone(&shard_boot))
    })
    .map_err(|e| format!("cannot start shards: {e}"))?;
    drop(boot);

    // Every shard reports its bind before we announce anything.
    let mut problems = Vec::new();
    for _ in 0..cpus.len() {
        match ready_rx.recv_timeout(Duration::from_secs(30)) {
            Ok((_, Ok(_))) => {}
            Ok((id, Err(e))) => problems.push(format!("shard-{}: {e}", id.cpu)),
            Err(_) => problems.push("a shard did not start within 30s".into()),
        }
    }
    if !problems.is_empty() {
        lifecycle.stop_listening.fire();
        lifecycle.force_close.fire();
        let _ = set.join();
        return Err(problems.join("; "));
    }

    println!(
        "kubeshard: serving on https://{addr} with {} shard(s) on CPUs {cpus}",
        cpus.len()
    );
    println!(
        "kubeshard: admin kubeconfig written to {}",
        kubeconfig.display()
    );
    println!("    export KUBECONFIG={}", kubeconfig.display());

    let coordinator = glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .name("coordinator")
        .io_memory(64 << 10)
        .make()
        .map_err(|e| format!("cannot start the coordinator: {e}"))?;
    let lc = Arc::clone(&lifecycle);
    coordinator.run(async move {
        lc.run_termination(
            opts.generic.shutdown_delay_duration,
            opts.generic.request_timeout,
            opts.generic.shutdown_send_retry_after,
        )
        .await
    });

    let mut failed = Vec::new();
    let joined = set.join();
    // Shards are done: nothing can ask storage for anything any more, and every audit event
    // has been handed to the writer.
    storage_thread.stop();
    if let Some((auditing, backends)) = audit_backend {
        drop(auditing);
        backends.close();
    }
    for (id, r) in joined {
        if let Err(e) = r {
            failed.push(format!("shard-{}: {e}", id.cpu));
        }
    }
    if failed.is_empty() {
        log::info!("[graceful-termination] apiserver is exiting");
        Ok(())
    } else {
        Err(failed.join("; "))
    }
}

/// The running audit backends, closed once the shards are done.
struct AuditBackends(Vec<crate::audit::BackendThread>);

impl AuditBackends {
    fn close(self) {
        for b in self.0 {
            b.close(Duration::from_secs(10));
        }
    }
}

/// The audit policy and its backends (`--audit-policy-file`, `--audit-log-*`,
/// `--audit-webhook-*`), when a policy and at least one backend are given: a policy that does
/// not load stops the start.
fn start_audit(
    opts: &crate::options::AuditOptions,
) -> Result<Option<(crate::audit::Auditing, AuditBackends)>, String> {
    use crate::audit::{start_log, start_webhook, Plugin, Sink};
    let Some(policy_file) = &opts.policy_file else {
        return Ok(None);
    };
    if opts.log_path.is_none() && opts.webhook_config_file.is_none() {
        return Ok(None);
    }
    let policy = crate::audit::Policy::read(policy_file)?;
    let counters = Arc::new(crate::audit::AuditCounters::default());
    let count = |v: i64| usize::try_from(v).unwrap_or(1);
    let mut targets = Vec::new();
    let mut backends = AuditBackends(Vec::new());
    if let Some(path) = &opts.log_path {
        let mb = |v: i64| u64::try_from(v).unwrap_or(0);
        let (backend, tx) = start_log(crate::audit::LogSettings {
            path: path.clone(),
            max_size: mb(opts.log_max_size) * 1024 * 1024,
            max_backups: usize::try_from(opts.log_max_backup).unwrap_or(0),
            max_age: Duration::from_secs(mb(opts.log_max_age) * 24 * 3600),
            compress: opts.log_compress,
            buffer: count(opts.log_batch_buffer_size),
            batch: count(opts.log_batch_max_size),
        })?;
        backends.0.push(backend);
        targets.push((Plugin::Log, tx));
    }
    if let Some(file) = &opts.webhook_config_file {
        let target = crate::webhook::WebhookTarget::read(file)?;
        let (backend, tx) = start_webhook(
            crate::audit::WebhookSettings {
                target,
                buffer: count(opts.webhook_batch_buffer_size),
                batching: crate::audit::webhook::Batching {
                    max_batch: count(opts.webhook_batch_max_size),
                    max_wait: opts.webhook_batch_max_wait,
                    initial_backoff: opts.webhook_initial_backoff,
                },
            },
            Arc::clone(&counters),
        )?;
        backends.0.push(backend);
        targets.push((Plugin::Webhook, tx));
    }
    let auditing = crate::audit::Auditing {
        policy: Arc::new(policy),
        sink: Sink::new(targets, counters),
        strict: opts.log_mode == "blocking-strict",
    };
    Ok(Some((auditing, backends)))
}

/// Opens the storage backend on its own thread: etcd with `--etcd-servers`, otherwise the
/// embedded store under `<data-dir>/store`.
fn start_storage(
    opts: &CompletedOptions,
    tuning: &Tuning,
    data_dir: &std::path::Path,
    shards: usize,
    decorator: Arc<crate::storage::cache::object::Decorator>,
) -> Result<(StorageThread, StorageClient, Vec<LaneReceiver>), String> {
    let prefix = opts.etcd.etcd_prefix.trim_end_matches('/').to_string();
    let cfg = StorageConfig {
        request_queue_capacity: tuning.storage.request_queue_capacity,
        event_lane_capacity: tuning.storage.event_lane_capacity,
        op_timeout: opts.generic.request_timeout,
        compaction_interval: opts.etcd.etcd_compaction_interval,
        health_interval: tuning.storage.health_interval,
        watch_prefix: bytes::Bytes::from(format!("{prefix}/")),
        decorator,
    };
    let started = if opts.etcd.etcd_servers.is_empty() {
        let dir = data_dir.join("store");
        log::info!("storage: embedded store in {}", dir.display());
        StorageThread::start(
            move || async move { EmbeddedStore::open(&dir, EmbeddedOptions::default()) },
            cfg,
            shards,
        )
    } else {
        let mut etcd = EtcdConfig::new(opts.etcd.etcd_servers.clone());
        etcd.prefix = prefix;
        etcd.ca_file = opts.etcd.etcd_cafile.clone();
        etcd.cert_file = opts.etcd.etcd_certfile.clone();
        etcd.key_file = opts.etcd.etcd_keyfile.clone();
        etcd.request_timeout = opts.generic.request_timeout;
        log::info!("storage: etcd at {}", opts.etcd.etcd_servers.join(","));
        StorageThread::start(move || EtcdStore::connect(etcd), cfg, shards)
    };
    started.map_err(|e| format!("storage: {e}"))
}

/// upstream's `etcd` health check: is the storage backend reachable.
/// The row of `group/v1/plural` in `store`'s table, for the in-process controllers (a 500 when
/// the table lacks it).
pub(crate) fn table_row(
    store: &crate::registry::store::Store,
    group: &str,
    plural: &str,
) -> Result<Rc<crate::registry::resources::Resource>, crate::api::status::Status> {
    store
        .table()
        .get(group, "v1", plural)
        .ok_or_else(|| crate::api::status::Status::internal(format!("no {plural}")))
}

/// `--advertise-address`, else the bind address, else (bound to every interface) the address
/// of the interface the default route leaves by, else loopback.
fn advertise_address(flag: Option<std::net::IpAddr>, bind: std::net::IpAddr) -> std::net::IpAddr {
    if let Some(ip) = flag {
        return ip;
    }
    if !bind.is_unspecified() {
        return bind;
    }
    // Connecting a UDP socket sends nothing; it only asks the kernel for the route.
    std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| s.connect("192.0.2.1:9").map(|()| s))
        .and_then(|s| s.local_addr())
        .map(|a| a.ip())
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST))
}

/// upstream's `priority-and-fairness-config-producer`: the APF bootstrap objects ensured
/// once storage answers (the hook), then kept every minute, and the FlowSchemas' `Dangling`
/// conditions every second, on an `apf-config` thread until the server stops accepting
/// requests.
fn apf_config_producer(
    storage: &StorageClient,
    prefix: &str,
    lifecycle: &Arc<Lifecycle>,
) -> post_start::PostStartHook {
    use crate::flowcontrol::bootstrap;
    let hook = {
        let (storage, prefix) = (storage.clone(), prefix.to_string());
        post_start::PostStartHook::start(
            "poststarthook/priority-and-fairness-config-producer",
            move || {
                let done = futures_lite::future::block_on(bootstrap::ensure(&storage, &prefix))?;
                if done.created + done.updated + done.deleted > 0 {
                    log::info!(
                        "APF bootstrap configuration: {} created, {} updated, {} deleted",
                        done.created,
                        done.updated,
                        done.deleted
                    );
                }
                Ok(())
            },
        )
    };
    let (storage, prefix) = (storage.clone(), prefix.to_string());
    let stop = Arc::clone(&lifecycle.not_accepting_new_requests);
    let spawned = std::thread::Builder::new()
        .name("apf-config".into())
        .spawn(move || {
            let mut tick: u64 = 0;
            while !stop.is_fired() {
                std::thread::sleep(Duration::from_secs(1));
                tick += 1;
                futures_lite::future::block_on(async {
                    if tick % 60 == 0 {
                        if let Err(e) = bootstrap::ensure(&storage, &prefix).await {
                            log::warn!(
                                "APF bootstrap ensurer ran into error, will retry later: {e}"
                            );
                        }
                    }
                    if let Err(e) = bootstrap::write_status(&storage, &prefix).await {
                        log::warn!("APF FlowSchema status: {e}");
                    }
                });
            }
        });
    if let Err(e) = spawned {
        log::warn!("cannot start the apf-config thread ({e}); FlowSchema status is not kept");
    }
    hook
}

fn storage_check(storage: StorageClient) -> HealthCheck {
    HealthCheck::new("etcd", move || {
        if storage.healthy() {
            Ok(())
        } else {
            Err("storage backend is unreachable".into())
        }
    })
}

/// First SIGTERM/SIGINT starts graceful termination; a second one exits 1 at once.
fn install_signal_handler(lifecycle: Arc<Lifecycle>) -> Result<(), String> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT])
        .map_err(|e| format!("signals: {e}"))?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                if lifecycle.shutdown_initiated.fire() {
                    log::info!("received signal {sig}, shutting down gracefully");
                } else {
                    eprintln!("received a second signal {sig}, exiting immediately");
                    std::process::exit(1);
                }
            }
        })
        .map_err(|e| format!("signals: {e}"))?;
    Ok(())
}

/// The ServiceAccount token settings: the signing key (flag, else the bootstrap PKI's), the
/// verification keys (flags, else the signing key), issuers and audiences.
fn service_account_tokens(
    opts: &CompletedOptions,
    paths: &pki::PkiPaths,
    prefix: &str,
) -> Result<crate::authn::service_account::TokenSettings, String> {
    use crate::authn::service_account::keys;
    let a = &opts.authentication;
    let signing_path = a
        .service_account_signing_key_file
        .clone()
        .unwrap_or_else(|| paths.service_account_key.clone());
    let signing_key = keys::signing_key_from_file(&signing_path)
        .map_err(|e| format!("--service-account-signing-key-file: {e}"))?;
    let mut verify_keys = Vec::new();
    for f in &a.service_account_key_file {
        verify_keys.extend(
            keys::verify_keys_from_file(f)
                .map_err(|e| format!("--service-account-key-file: {e}"))?,
        );
    }
    if verify_keys.is_empty() {
        verify_keys.push(signing_key.public.clone());
    }
    Ok(crate::authn::service_account::TokenSettings {
        issuers: a.service_account_issuer.clone(),
        audiences: a.audiences(),
        verify_keys,
        signing_key,
        max_expiration: a.service_account_max_token_expiration,
        prefix: prefix.to_string(),
    })
}

/// `--anonymous-auth`, which upstream turns off (with a warning) under `AlwaysAllow`: every
/// anonymous request would otherwise be allowed.
fn anonymous_auth(opts: &CompletedOptions, chain: &[crate::authz::config::AuthorizerSpec]) -> bool {
    let always_allow = chain
        .iter()
        .any(|m| *m == crate::authz::config::AuthorizerSpec::Builtin("AlwaysAllow".into()));
    if opts.authentication.anonymous_auth && always_allow {
        log::warn!(
            "AnonymousAuth is not allowed with the AlwaysAllow authorizer. Resetting AnonymousAuth to false. You should use a different authorizer"
        );
        return false;
    }
    opts.authentication.anonymous_auth
}

/// The authenticator union of one shard.
fn authentication(boot: &ShardBoot, cache: Option<&WatchCache>) -> crate::authn::Authentication {
    let mut tokens: Vec<Rc<dyn crate::authn::TokenAuthenticator>> = Vec::new();
    if let Some(f) = &boot.token_file {
        tokens.push(Rc::new(Arc::clone(f)));
    }
    if let Some(c) = cache {
        tokens.push(Rc::new(
            crate::authn::service_account::ServiceAccountTokens::new(
                Arc::clone(&boot.service_account_tokens),
                c.clone(),
            ),
        ));
        if let Some(state) = &boot.jwt {
            tokens.push(Rc::new(crate::authn::jwt::JwtTokens::new(Arc::clone(
                state,
            ))));
        }
        if boot.bootstrap_token_auth {
            tokens.push(Rc::new(
                crate::authn::bootstrap_token::BootstrapTokens::new(
                    c.clone(),
                    &boot.service_account_tokens.prefix,
                ),
            ));
        }
    }
    let mut authn = crate::authn::Authentication::new(true, tokens, boot.anonymous_auth);
    if let Some(state) = &boot.jwt {
        authn = authn.with_jwt_state(Arc::clone(state));
    }
    match &boot.token_webhook {
        Some(hook) => authn.with_webhook(hook.clone()),
        None => authn,
    }
}

/// One shard: bind, serve until told to stop, report each lifecycle step it owns.
async fn shard_main(id: ShardId, boot: Arc<ShardBoot>) {
    crate::metrics::set_shard(id.index);
    let server = match TlsHttpServer::bind(boot.addr, &boot.tls, boot.http.clone(), id) {
        Ok(s) => s,
        Err(e) => {
            let _ = boot
                .ready
                .send((id, Err(format!("failed to listen on {}: {e}", boot.addr))));
            return;
        }
    };
    let lc = Arc::clone(&boot.lifecycle);
    let lane = boot
        .lanes
        .lock()
        .ok()
        .and_then(|mut l| l.get_mut(id.index).and_then(Option::take));
    // The replica, fed by this shard's lane. Without a cache (or a lane), reads go to the
    // backend; the lane is then dropped, which costs the storage thread one overflow.
    let cache = match (&boot.cache, lane) {
        (Some(cfg), Some(lane)) => {
            let cache = WatchCache::new(Arc::clone(cfg));
            let stop = Arc::clone(&lc.shard_stopped[id.index]);
            shards::spawn_local(run_feed(
                cache.clone(),
                lane,
                boot.storage.clone(),
                bytes::Bytes::from(format!("{}/", boot.storage_prefix)),
                async move { stop.wait().await },
            ))
            .detach();
            Some(cache)
        }
        _ => None,
    };
    // Serving is announced once the replica holds what authorization reads (bounded: a
    // backend that is down must not keep the server from starting; RBAC then denies).
    if let Some(c) = &cache {
        if !c.wait_for(0, Duration::from_secs(10)).await {
            log::warn!("shard-{}: the watch cache is not ready yet", id.cpu);
        }
    }
    let _ = boot
        .ready
        .send((id, server.local_addr().map_err(|e| e.to_string())));
    // This shard's resource table: the built-in rows, their hooks holding this shard's stripe
    // of the Service allocators.
    let table = Rc::new(ResourceTable::builtin(KindsConfig {
        service_ips: Some(
            ServiceIps::new(boot.service_ip_range, id.index, lc.shard_drained.len())
                .with_node_ports(boot.node_port_range),
        ),
    }));
    // One RBAC index per shard, shared by the authorizer chain and the escalation check.
    let rbac = cache.as_ref().and_then(|c| {
        crate::authz::rbac::RbacAuthorizer::new(c.clone(), &boot.storage_prefix).map(Rc::new)
    });
    let authz = Rc::new(crate::authz::AuthorizerChain::following(Rc::new(
        authorizers::ShardModes {
            shared: Arc::clone(&boot.authorization_modes),
            rbac: rbac.clone(),
            cache: cache.clone(),
            prefix: boot.storage_prefix.clone(),
        },
    )));
    let escalation = crate::authz::rbac::escalation::EscalationCheck::new(Rc::clone(&authz), rbac);
    let admission = boot.admission.chain(&crate::admission::ShardReads {
        cache: cache.clone(),
        prefix: boot.storage_prefix.clone(),
        webhook_observer: Some(Rc::new(instrument::WebhookMetrics)),
    });
    let store = Rc::new(Store::new(
        table,
        boot.storage.clone(),
        boot.storage_prefix.clone(),
        cache,
        admission
            .with(Rc::new(escalation))
            .observed_by(Rc::new(instrument::AdmissionMetrics)),
        Arc::clone(&lc.not_accepting_new_requests),
    ));
    let authn = Rc::new(authentication(&boot, store.cache()));
    let reviewers = Rc::new(crate::endpoints::rest::reviews::Reviewers {
        authn: Rc::clone(&authn),
        authz: Rc::clone(&authz),
        tokens: Arc::clone(&boot.service_account_tokens),
    });
    let in_flight = Gate::new();
    let auditing = boot.auditing.as_ref().map(|a| Rc::new(a.for_shard()));
    if let Some(a) = &auditing {
        // Hands the shard's buffered audit events to the writer every FLUSH_INTERVAL; the
        // rest when the shard stops.
        let (a, stop) = (Rc::clone(a), Arc::clone(&lc.shard_stopped[id.index]));
        shards::spawn_local(async move {
            while !stop.is_fired() {
                shards::sleep(crate::audit::log::FLUSH_INTERVAL).await;
                a.buffer.flush();
            }
        })
        .detach();
    }
    let state = Rc::new(ChainState {
        auditing: auditing.clone(),
        authn,
        authz,
        lifecycle: Arc::clone(&lc),
        in_flight: in_flight.clone(),
        limits: boot.in_flight_limits,
        flow_control: boot.flow_dispatcher.map(|d| {
            Rc::new(crate::flowcontrol::ShardFlowControl::new(
                d,
                store.cache().cloned(),
                &boot.storage_prefix,
            ))
        }),
        request_timeout: boot.request_timeout,
        send_retry_after: boot.send_retry_after,
        server: ServerChain::new(
            Health::new(
                Arc::clone(&lc),
                vec![storage_check(boot.storage.clone())]
                    .into_iter()
                    .chain(
                        boot.hooks
                            .iter()
                            .map(post_start::PostStartHook::readiness_check),
                    )
                    .collect(),
            ),
            Discovery::new(&boot.addr.to_string()),
            RestApi::new(Rc::clone(&store), boot.max_body)
                .with_min_request_timeout(boot.min_request_timeout)
                .with_reviewers(reviewers)
                .with_connect(Rc::new(crate::endpoints::connect::ConnectApi::new(
                    Rc::clone(&store),
                    Arc::clone(&boot.kubelet),
                ))),
        )
        .with_cache_metrics(boot.cache.as_ref().map(|c| Arc::clone(&c.metrics)))
        .with_audit(boot.auditing.as_ref().map(|a| a.sink.clone()))
        .with_in_flight_limits(boot.in_flight_limits)
        .with_flow_dispatcher(boot.flow_dispatcher)
        .with_storage(
            boot.storage.clone(),
            &boot.storage_prefix,
            store.cache().cloned(),
        )
        .with_issuer_discovery(oidc::IssuerDiscovery::new(&boot.service_account_tokens)),
    });
    if id.index == 0 {
        let leadership = Rc::new(leader::Leadership::default());
        let stop = Arc::clone(&lc.not_accepting_new_requests);
        shards::spawn_local(leader::run(
            Rc::clone(&store),
            boot.identity.lease_name.clone(),
            Rc::clone(&leadership),
            async move { stop.wait().await },
        ))
        .detach();
        let stop = Arc::clone(&lc.not_accepting_new_requests);
        shards::spawn_local(namespaces::run_finalizer(
            Rc::clone(&store),
            Rc::clone(&leadership),
            async move { stop.wait().await },
        ))
        .detach();
        let stop = Arc::clone(&lc.not_accepting_new_requests);
        let controllers = service_accounts::Controllers {
            store: Rc::clone(&store),
            ca_pem: boot.ca_pem.clone(),
            tokens: Arc::clone(&boot.service_account_tokens),
            leadership: Rc::clone(&leadership),
        };
        shards::spawn_local(controllers.run(async move { stop.wait().await })).detach();
        let stop = Arc::clone(&lc.not_accepting_new_requests);
        shards::spawn_local(apiserver_leases::run(
            Rc::clone(&store),
            boot.identity.clone(),
            async move { stop.wait().await },
        ))
        .detach();
        let stop = Arc::clone(&lc.not_accepting_new_requests);
        shards::spawn_local(rbac_aggregation::run(
            Rc::clone(&store),
            Rc::clone(&leadership),
            async move { stop.wait().await },
        ))
        .detach();
        let stop = Arc::clone(&lc.not_accepting_new_requests);
        shards::spawn_local(csr_signer::run(
            Rc::clone(&store),
            Rc::clone(&leadership),
            boot.signing_ca.clone(),
            {
                let stop = Arc::clone(&lc.not_accepting_new_requests);
                async move { stop.wait().await }
            },
        ))
        .detach();
        shards::spawn_local(disruption::run(
            Rc::clone(&store),
            Rc::clone(&leadership),
            async move { stop.wait().await },
        ))
        .detach();
        let stop = Arc::clone(&lc.not_accepting_new_requests);
        shards::spawn_local(storage_protection::run(
            Rc::clone(&store),
            Rc::clone(&leadership),
            async move { stop.wait().await },
        ))
        .detach();
    }
    // Not detached: the server may stop (no connections left) before this task has run, and
    // the shard must still report its drain before its executor ends.
    let drain_lc = Arc::clone(&lc);
    let drained = shards::spawn_local(async move {
        drain_lc.not_accepting_new_requests.wait().await;
        in_flight.idle().await;
        drain_lc.shard_drained[id.index].fire();
    });
    let connections = Arc::new(shards::server::ConnCounts::default());
    crate::metrics::recorder::set_connections(Arc::clone(&connections));
    let summary = server
        .serve(
            HandlerChain::build(state),
            Arc::clone(&lc.stop_listening),
            Arc::clone(&lc.force_close),
            Arc::clone(&lc.shard_listener_closed[id.index]),
            connections,
        )
        .await;
    drained.await;
    log::debug!(
        "shard-{}: stopped after {} connections ({} forced)",
        id.cpu,
        summary.accepted,
        summary.forced
    );
    // What the shard still buffers of its audit events goes to the backends now: the
    // backends are closed once every shard has stopped.
    if let Some(a) = &auditing {
        a.buffer.flush();
    }
    lc.shard_stopped[id.index].fire();
}
