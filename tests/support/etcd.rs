//! A real etcd for tests: started from the `etcd` binary on free loopback ports with a
//! temporary data dir, stoppable and restartable on the same port and data dir, killed on drop.
//!
//! With [`EtcdServer::start_new_tls`] it serves HTTPS and requires client certificates, from a
//! CA generated for the test ([`EtcdTls`]).
//!
//! The binary is `$KUBESHARD_ETCD_BINARY`, else `/usr/bin/etcd`, else `etcd` on `PATH`. When it
//! is missing the test fails (scripts/test.sh installs it); it never passes silently.
//! fsync stays on: these tests measure and exercise etcd as it runs in production.

// Each test binary that includes `mod support;` uses a different part of this harness, and the
// module is private to that binary.
#![allow(dead_code, unreachable_pub)]

use super::server::free_port_for_restarts;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long etcd may take to answer `/health` after it was started.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running (or stopped) single-member etcd owned by one test.
pub struct EtcdServer {
    binary: PathBuf,
    dir: tempfile::TempDir,
    client_port: u16,
    peer_port: u16,
    /// Plain-HTTP `/health` (and `/metrics`) listener, also when clients need TLS.
    metrics_port: u16,
    tls: Option<EtcdTls>,
    extra_args: Vec<String>,
    child: Option<Child>,
    /// The member name.
    name: String,
    /// `--initial-cluster` (this member alone unless part of an [`EtcdCluster`]).
    initial_cluster: String,
}

impl EtcdServer {
    /// Starts a fresh etcd and waits until it is healthy. Panics with the reason (and etcd's
    /// log) when it cannot: missing binary, no free port, etcd exiting or not answering in time.
    pub fn start_new() -> EtcdServer {
        Self::start_new_with(&[])
    }

    /// Like [`EtcdServer::start_new`], with extra etcd flags (kept for restarts), e.g.
    /// `--experimental-watch-progress-notify-interval=500ms`.
    pub fn start_new_with(extra_args: &[&str]) -> EtcdServer {
        Self::start_inner(extra_args, false)
    }

    /// Starts a fresh etcd that serves clients over HTTPS only and requires a client
    /// certificate signed by a CA generated for this test (see [`EtcdServer::tls`]).
    pub fn start_new_tls() -> EtcdServer {
        Self::start_inner(&[], true)
    }

    fn start_inner(extra_args: &[&str], tls: bool) -> EtcdServer {
        let mut server = Self::unstarted(extra_args, tls, "kubeshard-test".into());
        server.start();
        server
    }

    fn unstarted(extra_args: &[&str], tls: bool, name: String) -> EtcdServer {
        let binary = etcd_binary();
        let dir = tempfile::Builder::new()
            .prefix("kubeshard-etcd-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temporary etcd data dir: {e}"));
        let tls = tls.then(|| EtcdTls::generate(&dir.path().join("tls")));
        // etcd restarts on the same ports: below the ephemeral range, where no outgoing
        // connection can take one meanwhile.
        let (client_port, peer_port, metrics_port) = (
            free_port_for_restarts(),
            free_port_for_restarts(),
            free_port_for_restarts(),
        );
        EtcdServer {
            binary,
            dir,
            client_port,
            peer_port,
            metrics_port,
            tls,
            extra_args: extra_args.iter().map(|a| (*a).to_owned()).collect(),
            child: None,
            initial_cluster: format!("{name}=http://127.0.0.1:{peer_port}"),
            name,
        }
    }

    /// The client URL, e.g. `http://127.0.0.1:41234` (`https://` when started with TLS).
    pub fn endpoint(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.client_port)
    }

    /// The TLS files (CA, server and client certificates) when started with TLS.
    pub fn tls(&self) -> Option<&EtcdTls> {
        self.tls.as_ref()
    }

    /// The client port.
    pub fn client_port(&self) -> u16 {
        self.client_port
    }

    /// The data dir (survives `stop()`; removed on drop).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// etcd's log file (stdout and stderr of every run, appended).
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("etcd.log")
    }

    /// The process id while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether etcd is running (started and not stopped).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Starts etcd (again) on the same ports and data dir and waits until it is healthy.
    /// Does nothing when it is already running.
    pub fn start(&mut self) {
        if self.child.is_some() {
            return;
        }
        self.spawn();
        self.wait_healthy();
    }

    /// Starts the process without waiting for it to be healthy.
    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap_or_else(|e| panic!("cannot open the etcd log file: {e}"));
        let log_err = log
            .try_clone()
            .unwrap_or_else(|e| panic!("cannot clone the etcd log file handle: {e}"));
        let client = self.endpoint();
        let metrics = format!("http://127.0.0.1:{}", self.metrics_port);
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let mut command = Command::new(&self.binary);
        command
            .arg(format!("--name={}", self.name))
            .arg(format!("--data-dir={}", self.data_dir().display()))
            .arg(format!("--listen-client-urls={client}"))
            .arg(format!("--advertise-client-urls={client}"))
            .arg(format!("--listen-metrics-urls={metrics}"))
            .arg(format!("--listen-peer-urls={peer}"))
            .arg(format!("--initial-advertise-peer-urls={peer}"))
            .arg(format!("--initial-cluster={}", self.initial_cluster))
            .arg("--initial-cluster-state=new")
            .arg("--logger=zap")
            .arg("--log-outputs=stderr")
            .arg("--log-level=warn")
            .args(&self.extra_args)
            .args(
                self.tls
                    .as_ref()
                    .map(EtcdTls::server_args)
                    .unwrap_or_default(),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err));
        // etcd refuses to start on architectures it does not officially support.
        if !matches!(std::env::consts::ARCH, "x86_64" | "aarch64") {
            command.env("ETCD_UNSUPPORTED_ARCH", std::env::consts::ARCH);
        }
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start etcd {}: {e}", self.binary.display()));
        self.child = Some(child);
    }

    /// Kills etcd (SIGKILL, like a crash; fsync is on, so acknowledged writes survive) and
    /// waits for it to exit. The ports and data dir are kept for `start()`.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Kills exactly our child, by its PID.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes etcd (SIGSTOP): it keeps its connections but answers nothing, like a hung or
    /// partitioned server. `resume()` lets it continue.
    pub fn pause(&self) {
        self.signal("-STOP");
        // The signal is delivered asynchronously: wait until every thread has stopped, or a
        // request sent right after `pause()` could still be answered.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !self.all_threads_stopped() {
            assert!(Instant::now() < deadline, "etcd did not stop after SIGSTOP");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Whether every thread of etcd is in state `T` (stopped), per `/proc/<pid>/task/*/stat`.
    fn all_threads_stopped(&self) -> bool {
        let Some(pid) = self.pid() else { return false };
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            return false;
        };
        tasks.flatten().all(|task| {
            std::fs::read_to_string(task.path().join("stat"))
                .ok()
                .and_then(|stat| {
                    // `pid (comm) state ...`; comm may contain spaces, so split after ')'.
                    let rest = &stat[stat.rfind(')')? + 1..];
                    rest.split_whitespace().next().map(|state| state == "T")
                })
                .unwrap_or(false)
        })
    }

    /// Continues a paused etcd (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let pid = self
            .pid()
            .unwrap_or_else(|| panic!("etcd is not running; cannot send {signal}"));
        let status = Command::new("kill")
            .arg(signal)
            .arg(pid.to_string())
            .status()
            .unwrap_or_else(|e| panic!("cannot run kill {signal} {pid}: {e}"));
        assert!(status.success(), "kill {signal} {pid} failed: {status}");
    }

    /// Waits until etcd answers healthy; panics with its log after 20 s.
    pub fn wait_healthy(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    panic!(
                        "etcd exited during start-up ({status}); its log:\n{}",
                        self.log_tail()
                    );
                }
            }
            if health_ok(self.metrics_port) {
                return;
            }
            if Instant::now() >= deadline {
                self.stop();
                panic!(
                    "etcd did not become healthy within {START_TIMEOUT:?}; its log:\n{}",
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let start = log.len().saturating_sub(4000);
        let start = (start..log.len())
            .find(|i| log.is_char_boundary(*i))
            .unwrap_or(log.len());
        log[start..].to_owned()
    }
}

impl Drop for EtcdServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A CA, etcd's serving certificate (for `127.0.0.1` and `localhost`) and a client
/// certificate, as PEM files, generated for one test.
pub struct EtcdTls {
    /// The CA certificate (`--etcd-cafile`; etcd's `--trusted-ca-file`).
    pub ca_file: PathBuf,
    /// etcd's serving certificate.
    pub server_cert_file: PathBuf,
    /// etcd's serving key.
    pub server_key_file: PathBuf,
    /// A client certificate signed by the CA (`--etcd-certfile`).
    pub client_cert_file: PathBuf,
    /// Its key (`--etcd-keyfile`).
    pub client_key_file: PathBuf,
}

impl EtcdTls {
    /// Generates the CA and both certificates (ECDSA P-256) into `dir`.
    pub fn generate(dir: &Path) -> EtcdTls {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
            KeyPair, KeyUsagePurpose,
        };
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("cannot create {dir:?}: {e}"));
        let key = || KeyPair::generate().unwrap_or_else(|e| panic!("key generation: {e}"));
        let params = |sans: &[&str], cn: &str| {
            let sans: Vec<String> = sans.iter().map(|s| (*s).to_owned()).collect();
            let mut p = CertificateParams::new(sans).unwrap_or_else(|e| panic!("params: {e}"));
            p.distinguished_name.push(DnType::CommonName, cn);
            p
        };
        let write = |name: &str, pem: String| {
            let path = dir.join(name);
            std::fs::write(&path, pem).unwrap_or_else(|e| panic!("cannot write {path:?}: {e}"));
            path
        };

        let ca_key = key();
        let mut ca = params(&[], "kubeshard-test-etcd-ca");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca
            .self_signed(&ca_key)
            .unwrap_or_else(|e| panic!("CA certificate: {e}"));
        let issuer = Issuer::new(ca, ca_key);

        let server_key = key();
        // The last name is a Service's, for admission webhooks reached through one.
        let mut server = params(&["127.0.0.1", "localhost", "hook.webhooks.svc"], "etcd");
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = server
            .signed_by(&server_key, &issuer)
            .unwrap_or_else(|e| panic!("server certificate: {e}"));

        let client_key = key();
        let mut client = params(&[], "kube-apiserver-etcd-client");
        client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client_cert = client
            .signed_by(&client_key, &issuer)
            .unwrap_or_else(|e| panic!("client certificate: {e}"));

        EtcdTls {
            ca_file: write("ca.crt", ca_cert.pem()),
            server_cert_file: write("server.crt", server_cert.pem()),
            server_key_file: write("server.key", server_key.serialize_pem()),
            client_cert_file: write("client.crt", client_cert.pem()),
            client_key_file: write("client.key", client_key.serialize_pem()),
        }
    }

    fn server_args(&self) -> Vec<String> {
        vec![
            format!("--cert-file={}", self.server_cert_file.display()),
            format!("--key-file={}", self.server_key_file.display()),
            format!("--trusted-ca-file={}", self.ca_file.display()),
            "--client-cert-auth=true".to_owned(),
        ]
    }
}

/// The etcd binary to run; panics with instructions when there is none.
fn etcd_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("KUBESHARD_ETCD_BINARY") {
        let path = PathBuf::from(path);
        if is_executable(&path) {
            return path;
        }
        panic!(
            "KUBESHARD_ETCD_BINARY={} is not an executable file",
            path.display()
        );
    }
    let system = Path::new("/usr/bin/etcd");
    if is_executable(system) {
        return system.to_owned();
    }
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let candidate = dir.join("etcd");
            if is_executable(&candidate) {
                return candidate;
            }
        }
    }
    panic!(
        "the etcd binary was not found (looked at $KUBESHARD_ETCD_BINARY, /usr/bin/etcd and PATH). \
         These tests need a real etcd: run scripts/test.sh, or `apt-get install -y etcd-server`."
    )
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Whether etcd answers `GET /health` with `"health":"true"` on its metrics port.
fn health_ok(port: u16) -> bool {
    http_get(port, "/health").is_some_and(|response| {
        response.starts_with("HTTP/1.1 200") && response.contains("\"health\":\"true\"")
    })
}

/// A plain-HTTP GET on a loopback port: the whole response, or None when nothing answered.
fn http_get(port: u16, path: &str) -> Option<String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    (!response.is_empty()).then_some(response)
}

/// A cluster of etcd members on loopback, each stoppable, pausable and restartable.
pub struct EtcdCluster {
    /// The members, in the order of `--initial-cluster`.
    pub members: Vec<EtcdServer>,
}

impl EtcdCluster {
    /// Starts a new cluster of `n` members and waits until every member is healthy.
    pub fn start_new(n: usize) -> EtcdCluster {
        let mut members: Vec<EtcdServer> = (0..n)
            .map(|i| EtcdServer::unstarted(&[], false, format!("member-{i}")))
            .collect();
        let initial = members
            .iter()
            .map(|m| format!("{}=http://127.0.0.1:{}", m.name, m.peer_port))
            .collect::<Vec<_>>()
            .join(",");
        for m in &mut members {
            m.initial_cluster = initial.clone();
            m.spawn();
        }
        let mut cluster = EtcdCluster { members };
        cluster.wait_healthy();
        cluster
    }

    /// `--etcd-servers` for every member.
    pub fn endpoints(&self) -> String {
        self.members
            .iter()
            .map(EtcdServer::endpoint)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The index of the member that is leader now, if one is.
    pub fn leader(&self) -> Option<usize> {
        self.members.iter().position(|m| {
            m.is_running()
                && http_get(m.metrics_port, "/metrics")
                    .is_some_and(|r| r.lines().any(|l| l == "etcd_server_is_leader 1"))
        })
    }

    /// Waits until some member is leader; panics after 20 s.
    pub fn wait_leader(&self) -> usize {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(l) = self.leader() {
                return l;
            }
            assert!(
                Instant::now() < deadline,
                "no etcd leader within {START_TIMEOUT:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills every member (SIGKILL).
    pub fn stop_all(&mut self) {
        for m in &mut self.members {
            m.stop();
        }
    }

    /// Starts every stopped member at once (a lone member of a new quorum cannot become
    /// healthy by itself), then waits until all are healthy.
    pub fn start_all(&mut self) {
        for m in &mut self.members {
            if !m.is_running() {
                m.spawn();
            }
        }
        self.wait_healthy();
    }

    /// Waits until etcd answers healthy; panics with its log after 20 s.
    pub fn wait_healthy(&mut self) {
        for m in &mut self.members {
            m.wait_healthy();
        }
    }
}
