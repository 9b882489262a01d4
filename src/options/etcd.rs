//! Storage flags (kube-apiserver's etcd group).

use std::path::PathBuf;
use std::time::Duration;

use tuning::parse_duration;

/// Which storage backend, and how to reach etcd when it is the one.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Etcd flags")]
pub struct EtcdOptions {
    /// List of etcd servers to connect with (scheme://ip:port), comma separated. Without it,
    /// kubeshard uses its embedded store under --data-dir.
    #[arg(long = "etcd-servers", value_name = "strings", value_delimiter = ',')]
    pub etcd_servers: Vec<String>,
    /// The prefix to prepend to all resource paths in etcd.
    #[arg(
        long = "etcd-prefix",
        value_name = "string",
        default_value = "/registry"
    )]
    pub etcd_prefix: String,
    /// SSL Certificate Authority file used to secure etcd communication.
    #[arg(long = "etcd-cafile", value_name = "string")]
    pub etcd_cafile: Option<PathBuf>,
    /// SSL certification file used to secure etcd communication.
    #[arg(long = "etcd-certfile", value_name = "string")]
    pub etcd_certfile: Option<PathBuf>,
    /// SSL key file used to secure etcd communication.
    #[arg(long = "etcd-keyfile", value_name = "string")]
    pub etcd_keyfile: Option<PathBuf>,
    /// The interval of compaction requests. If 0, the compaction request from apiserver is
    /// disabled.
    #[arg(long = "etcd-compaction-interval", value_name = "duration", default_value = "5m0s", value_parser = parse_duration)]
    pub etcd_compaction_interval: Duration,
    /// The storage backend for persistence. Options: 'etcd3' (default).
    #[arg(
        long = "storage-backend",
        value_name = "string",
        default_value = "etcd3"
    )]
    pub storage_backend: String,
}

impl EtcdOptions {
    /// Problems with these flags.
    pub fn validate(&self) -> Vec<String> {
        let mut errs = Vec::new();
        if self.storage_backend != "etcd3" {
            errs.push("--storage-backend invalid, allowed values: etcd3. If not specified, it will default to 'etcd3'".to_string());
        }
        for s in &self.etcd_servers {
            if !(s.starts_with("http://") || s.starts_with("https://")) {
                errs.push(format!(
                    "--etcd-servers: {s:?} is not a URL (scheme://ip:port)"
                ));
            }
        }
        if !self.etcd_prefix.starts_with('/') {
            errs.push(format!(
                "--etcd-prefix {:?} must start with /",
                self.etcd_prefix
            ));
        }
        for (flag, f) in [
            ("--etcd-cafile", &self.etcd_cafile),
            ("--etcd-certfile", &self.etcd_certfile),
            ("--etcd-keyfile", &self.etcd_keyfile),
        ] {
            if let Some(p) = f {
                if !p.is_file() {
                    errs.push(format!("{flag} {}: no such file", p.display()));
                }
            }
        }
        errs
    }
}
