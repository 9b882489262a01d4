//! A real etcd for tests: started from the `etcd` binary on free loopback ports with a
//! temporary data dir, stoppable and restartable on the same port and data dir, killed on drop.
//!
//! The binary is `$KUBESHARD_ETCD_BINARY`, else `/usr/bin/etcd`, else `etcd` on `PATH`. When it
//! is missing the test fails (scripts/test.sh installs it); it never passes silently.
//! fsync stays on: these tests measure and exercise etcd as it runs in production.

// Each test binary that includes `mod support;` uses a different part of this harness, and the
// module is private to that binary.
#![allow(dead_code, unreachable_pub)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
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
    extra_args: Vec<String>,
    child: Option<Child>,
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
        let binary = etcd_binary();
        let dir = tempfile::Builder::new()
            .prefix("kubeshard-etcd-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temporary etcd data dir: {e}"));
        let (client_port, peer_port) = (free_port(), free_port());
        let mut server = EtcdServer {
            binary,
            dir,
            client_port,
            peer_port,
            extra_args: extra_args.iter().map(|a| (*a).to_owned()).collect(),
            child: None,
        };
        server.start();
        server
    }

    /// The client URL, e.g. `http://127.0.0.1:41234`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
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
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap_or_else(|e| panic!("cannot open the etcd log file: {e}"));
        let log_err = log
            .try_clone()
            .unwrap_or_else(|e| panic!("cannot clone the etcd log file handle: {e}"));
        let client = format!("http://127.0.0.1:{}", self.client_port);
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let mut command = Command::new(&self.binary);
        command
            .arg("--name=kubeshard-test")
            .arg(format!("--data-dir={}", self.data_dir().display()))
            .arg(format!("--listen-client-urls={client}"))
            .arg(format!("--advertise-client-urls={client}"))
            .arg(format!("--listen-peer-urls={peer}"))
            .arg(format!("--initial-advertise-peer-urls={peer}"))
            .arg(format!("--initial-cluster=kubeshard-test={peer}"))
            .arg("--initial-cluster-state=new")
            .arg("--logger=zap")
            .arg("--log-outputs=stderr")
            .arg("--log-level=warn")
            .args(&self.extra_args)
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
        self.wait_healthy();
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

    fn wait_healthy(&mut self) {
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
            if health_ok(self.client_port) {
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

/// A port that was free a moment ago (the OS picks it; the listener is closed again).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0")
        .unwrap_or_else(|e| panic!("cannot bind a loopback port: {e}"));
    listener
        .local_addr()
        .unwrap_or_else(|e| panic!("cannot read the bound port: {e}"))
        .port()
}

/// Whether etcd answers `GET /health` with `"health":"true"` on its client port.
fn health_ok(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    let request =
        format!("GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.starts_with("HTTP/1.1 200") && response.contains("\"health\":\"true\"")
}
