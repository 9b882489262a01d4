//! Starts the real `kubeshard` binary on a free loopback port with a temporary data dir, and
//! gives tests clients for it. The process is ended by PID when the handle drops.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A running kubeshard process.
pub struct Kubeshard {
    child: Option<Child>,
    /// The secure port it serves on (127.0.0.1).
    pub port: u16,
    /// Its `--data-dir` (kept alive by `_dir` unless given by the caller).
    pub data_dir: PathBuf,
    _dir: Option<tempfile::TempDir>,
    /// Lines the process printed on stdout and stderr, as they arrive.
    pub output: mpsc::Receiver<String>,
}

/// A free loopback TCP port (bound then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A free loopback port below the kernel's ephemeral range, for a server restarted on the same
/// port: a port of the ephemeral range may meanwhile become the local end of some outgoing
/// connection (this test's, etcd's), which no listener can then bind.
pub fn free_port_for_restarts() -> u16 {
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let seed = u64::from(std::process::id())
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
    let span = u64::from(low.saturating_sub(10_000)).max(1);
    (0..2000u64)
        .map(|i| 10_000 + ((seed.wrapping_mul(2_654_435_761) + i * 7919) % span) as u16)
        .find(|p| TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .expect("a free port below the ephemeral range")
}

/// Path of the built server binary.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_kubeshard")
}

/// Starts the binary on loopback with `data_dir` and `args`, expecting it to refuse to start:
/// its standard error.
pub fn refused_start(data_dir: &Path, args: &[&str]) -> String {
    let out = Command::new(binary())
        .arg("--bind-address=127.0.0.1")
        .arg(format!("--secure-port={}", free_port()))
        .arg(format!("--data-dir={}", data_dir.display()))
        .args(args)
        .output()
        .expect("run kubeshard");
    assert!(!out.status.success(), "kubeshard started with {args:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

impl Kubeshard {
    /// Starts kubeshard with `args` on a fresh data dir and waits until it serves.
    pub fn start(args: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let data_dir = dir.path().join("data");
        Self::start_in(&data_dir, args, Some(dir))
    }

    /// Starts kubeshard on `data_dir` (reused across restarts by the caller).
    pub fn start_in(data_dir: &Path, args: &[&str], dir: Option<tempfile::TempDir>) -> Self {
        Self::start_on(free_port(), data_dir, args, dir)
    }

    /// Starts kubeshard on `port` and `data_dir` (both reused across restarts by the caller).
    pub fn start_on(
        port: u16,
        data_dir: &Path,
        args: &[&str],
        dir: Option<tempfile::TempDir>,
    ) -> Self {
        let mut cmd = Command::new(binary());
        cmd.arg(format!("--secure-port={port}"))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--data-dir={}", data_dir.display()))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn kubeshard");
        let (tx, rx) = mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().expect("stderr")),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    eprintln!("[kubeshard] {line}");
                    let _ = tx.send(line);
                }
            });
        }
        let mut ks = Kubeshard {
            child: Some(child),
            port,
            data_dir: data_dir.to_path_buf(),
            _dir: dir,
            output: rx,
        };
        ks.wait_for_line("kubeshard: serving on", Duration::from_secs(60));
        ks
    }

    /// Waits until a printed line contains `needle`; panics after `limit`.
    pub fn wait_for_line(&mut self, needle: &str, limit: Duration) -> String {
        let end = Instant::now() + limit;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.output.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(_) => {
                    let status = self
                        .child
                        .as_mut()
                        .and_then(|c| c.try_wait().ok().flatten());
                    panic!(
                        "no line containing {needle:?} within {limit:?} (exit status: {status:?})"
                    );
                }
            }
        }
    }

    /// The process id.
    pub fn pid(&self) -> i32 {
        self.child.as_ref().map(|c| c.id() as i32).expect("running")
    }

    /// Sends a signal to the server process.
    pub fn signal(&self, sig: i32) {
        // The kill command keeps the tests free of unsafe code.
        let st = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill");
        assert!(st.success(), "kill -{sig} {}", self.pid());
    }

    /// Waits for the process to exit, at most `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let end = Instant::now() + limit;
        let child = self.child.as_mut()?;
        while Instant::now() < end {
            if let Ok(Some(st)) = child.try_wait() {
                self.child = None;
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// `https://127.0.0.1:<port>`.
    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }

    /// The bootstrap CA certificate (PEM).
    pub fn ca_pem(&self) -> Vec<u8> {
        std::fs::read(self.data_dir.join("pki/ca.crt")).expect("ca.crt")
    }

    /// The admin kubeconfig path.
    pub fn kubeconfig(&self) -> PathBuf {
        self.data_dir.join("admin.kubeconfig")
    }

    /// A client trusting the bootstrap CA; `admin` adds the admin client certificate;
    /// `http2` lets ALPN pick (h2), otherwise HTTP/1.1 only.
    pub fn client(&self, admin: bool, http2: bool) -> reqwest::Client {
        self.client_with_timeout(admin, http2, Some(Duration::from_secs(20)))
    }

    /// Like [`Kubeshard::client`], with no bound on a whole request (for long watches).
    pub fn watch_client(&self, admin: bool, http2: bool) -> reqwest::Client {
        self.client_with_timeout(admin, http2, None)
    }

    /// A client with no client certificate that sends `token` (if any) as a bearer token.
    pub fn token_client(&self, token: Option<&str>) -> reqwest::Client {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(t) = token {
            let value = format!("Bearer {t}").parse().expect("header value");
            headers.insert(reqwest::header::AUTHORIZATION, value);
        }
        self.builder(false, true, Some(Duration::from_secs(20)))
            .default_headers(headers)
            .build()
            .expect("client")
    }

    /// An admin HTTP/1.1 client that does not follow redirects (to see a 301 itself).
    pub fn no_redirect_client(&self) -> reqwest::Client {
        self.builder(true, false, Some(Duration::from_secs(20)))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
    }

    fn client_with_timeout(
        &self,
        admin: bool,
        http2: bool,
        timeout: Option<Duration>,
    ) -> reqwest::Client {
        self.builder(admin, http2, timeout).build().expect("client")
    }

    fn builder(
        &self,
        admin: bool,
        http2: bool,
        timeout: Option<Duration>,
    ) -> reqwest::ClientBuilder {
        let ca = reqwest::Certificate::from_pem(&self.ca_pem()).expect("ca");
        let mut b = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(ca);
        if let Some(t) = timeout {
            b = b.timeout(t);
        }
        if admin {
            let mut pem = std::fs::read(self.data_dir.join("pki/admin.crt")).expect("admin.crt");
            pem.extend(std::fs::read(self.data_dir.join("pki/admin.key")).expect("admin.key"));
            b = b.identity(reqwest::Identity::from_pem(&pem).expect("identity"));
        }
        if !http2 {
            b = b.http1_only();
        }
        b
    }

    /// RSS of the server process in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }
}

impl Drop for Kubeshard {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
