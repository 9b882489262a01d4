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
    /// Serve reads and watches from each shard's watch cache. Off: every read goes to the
    /// backend.
    #[arg(
        long = "watch-cache",
        value_name = "bool",
        default_value_t = true,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    pub watch_cache: bool,
    /// Events of history each resource's watch cache keeps at least (it grows to cover the
    /// last 75 seconds of changes, as upstream's does).
    #[arg(
        long = "default-watch-cache-size",
        value_name = "int",
        default_value_t = 100
    )]
    pub default_watch_cache_size: usize,
    /// Per-resource watch cache sizes, comma separated, each `resource[.group]#size` (group
    /// left out for the core group, e.g. `pods#1000,deployments.apps#500`). Size 0 turns the
    /// cache off for that resource: its reads go to the backend.
    #[arg(
        long = "watch-cache-sizes",
        value_name = "strings",
        value_delimiter = ','
    )]
    pub watch_cache_sizes: Vec<String>,
}

/// One `--watch-cache-sizes` entry, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchCacheSize {
    /// The resource's plural name.
    pub resource: String,
    /// Its API group ("" for core).
    pub group: String,
    /// The history size; 0 disables the cache for the resource.
    pub size: usize,
}

/// Parses one `resource[.group]#size` entry.
pub fn parse_watch_cache_size(entry: &str) -> Result<WatchCacheSize, String> {
    let (name, size) = entry
        .split_once('#')
        .ok_or_else(|| format!("invalid value of watch cache size: {entry}"))?;
    let size = size
        .parse::<usize>()
        .map_err(|_| format!("invalid size of watch cache size: {entry}"))?;
    let (resource, group) = name.split_once('.').unwrap_or((name, ""));
    if resource.is_empty() {
        return Err(format!("invalid value of watch cache size: {entry}"));
    }
    Ok(WatchCacheSize {
        resource: resource.to_string(),
        group: group.to_string(),
        size,
    })
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
        for entry in &self.watch_cache_sizes {
            if let Err(e) = parse_watch_cache_size(entry) {
                errs.push(format!("--watch-cache-sizes: {e}"));
            }
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
