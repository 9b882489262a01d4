//! Connection settings of the etcd backend, mirroring kube-apiserver's `--etcd-*` flags.

use std::path::PathBuf;
use std::time::Duration;

use etcd_client::{Certificate, ConnectOptions, Identity, TlsOptions};

use crate::storage::kv::StorageError;

/// kube-apiserver's default `--etcd-prefix`.
pub const DEFAULT_PREFIX: &str = "/registry";

/// Default bound on one etcd request (kube-apiserver uses a similar order of magnitude for its
/// etcd dial and request timeouts; a request that waits longer is answered with a 5xx).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// HTTP/2 keep-alive ping interval. Detects a dead or frozen member (a host that vanished
/// without a RST, a stopped process whose kernel keeps the connection open), so the balancer
/// stops sending requests there. kube-apiserver pings every 30 s and waits 10 s; with that, a
/// frozen member of a 3-member cluster stalled a third of kubeshard's requests for 40 s
/// (tests/etcd_faults.rs). 6 s stays above etcd's `--grpc-keepalive-min-time` (5 s), below which
/// etcd closes the connection for pinging too often.
pub const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(6);

/// How long a keep-alive ping may go unanswered before the connection is dropped.
pub const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(3);

/// The largest response accepted from etcd. gRPC's default (4 MiB) is far below what a list
/// of a big resource returns; like kube-apiserver's etcd client (`MaxCallRecvMsgSize =
/// math.MaxInt32`), accept anything up to 2 GiB.
pub const MAX_RESPONSE_BYTES: usize = i32::MAX as usize;

/// Where and how to reach etcd. Field names follow the kube-apiserver flags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EtcdConfig {
    /// `--etcd-servers`: client URLs, e.g. `http://127.0.0.1:2379` or `https://etcd:2379`.
    pub endpoints: Vec<String>,
    /// `--etcd-prefix`: the key prefix all resources live under (used by the layer above and by
    /// the one upstream watch).
    pub prefix: String,
    /// `--etcd-cafile`: PEM bundle of the CA(s) that signed etcd's serving certificate.
    pub ca_file: Option<PathBuf>,
    /// `--etcd-certfile`: PEM client certificate presented to etcd.
    pub cert_file: Option<PathBuf>,
    /// `--etcd-keyfile`: PEM private key of `cert_file`.
    pub key_file: Option<PathBuf>,
    /// Bound on every request (and on connecting): past it, the request fails `Unavailable`.
    pub request_timeout: Duration,
}

impl Default for EtcdConfig {
    fn default() -> Self {
        Self {
            endpoints: vec!["http://127.0.0.1:2379".to_owned()],
            prefix: DEFAULT_PREFIX.to_owned(),
            ca_file: None,
            cert_file: None,
            key_file: None,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }
}

impl EtcdConfig {
    /// A config for `endpoints` with every other field at its default.
    pub fn new(endpoints: Vec<String>) -> Self {
        Self {
            endpoints,
            ..Self::default()
        }
    }

    /// Checks the fields and builds etcd-client's connect options (reads the TLS files).
    pub(crate) fn connect_options(&self) -> Result<ConnectOptions, StorageError> {
        if self.endpoints.is_empty() {
            return Err(invalid("no etcd endpoints given (--etcd-servers)"));
        }
        if self.request_timeout.is_zero() {
            return Err(invalid("the etcd request timeout must be positive"));
        }
        let options = ConnectOptions::new()
            .with_connect_timeout(self.request_timeout)
            .with_keep_alive(KEEP_ALIVE_INTERVAL, KEEP_ALIVE_TIMEOUT)
            .with_keep_alive_while_idle(true);
        match self.tls_options()? {
            Some(tls) => Ok(options.with_tls(tls)),
            None => Ok(options),
        }
    }

    /// The TLS settings, when a CA or a client certificate is configured.
    fn tls_options(&self) -> Result<Option<TlsOptions>, StorageError> {
        if self.ca_file.is_none() && self.cert_file.is_none() && self.key_file.is_none() {
            return Ok(None);
        }
        let mut tls = TlsOptions::new();
        if let Some(ca) = &self.ca_file {
            tls = tls.ca_certificate(Certificate::from_pem(read(ca, "--etcd-cafile")?));
        }
        match (&self.cert_file, &self.key_file) {
            (Some(cert), Some(key)) => {
                let cert = read(cert, "--etcd-certfile")?;
                let key = read(key, "--etcd-keyfile")?;
                tls = tls.identity(Identity::from_pem(cert, key));
            }
            (None, None) => {}
            _ => {
                return Err(invalid(
                    "--etcd-certfile and --etcd-keyfile must be given together",
                ))
            }
        }
        Ok(Some(tls))
    }
}

fn read(path: &PathBuf, flag: &str) -> Result<Vec<u8>, StorageError> {
    std::fs::read(path).map_err(|e| invalid(&format!("cannot read {flag} {}: {e}", path.display())))
}

fn invalid(msg: &str) -> StorageError {
    StorageError::Internal(format!("invalid etcd configuration: {msg}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_kube_apiserver() {
        let config = EtcdConfig::default();
        assert_eq!(config.prefix, "/registry");
        assert!(config.connect_options().is_ok());
    }

    #[test]
    fn bad_configurations_are_refused() {
        let mut config = EtcdConfig::new(Vec::new());
        assert!(config.connect_options().is_err(), "no endpoints");
        config.endpoints = vec!["http://127.0.0.1:2379".to_owned()];
        config.request_timeout = Duration::ZERO;
        assert!(config.connect_options().is_err(), "zero timeout");
        config.request_timeout = DEFAULT_REQUEST_TIMEOUT;
        config.cert_file = Some(PathBuf::from("/nonexistent/client.crt"));
        assert!(config.connect_options().is_err(), "certificate without key");
        config.key_file = Some(PathBuf::from("/nonexistent/client.key"));
        assert!(config.connect_options().is_err(), "unreadable files");
    }
}
