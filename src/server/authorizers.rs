//! The authorizer chain every shard builds, from `--authorization-mode` and its flags or from
//! `--authorization-config`. The list is shared by the shards with a generation: when the
//! configuration file changes, an `authz-config` thread reads it again (webhook clients
//! started anew), publishes the new list, and each shard rebuilds its chain on its next
//! decision. A file that does not read keeps the last good chain.

use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use crate::authz::config::AuthorizerSpec;
use crate::authz::rbac::RbacAuthorizer;
use crate::authz::webhook::{WebhookAuthorizer, WebhookSettings};
use crate::authz::{AlwaysAllow, AlwaysDeny, Authorizer, Mode, ModeSource};
use crate::storage::cache::WatchCache;

/// How often the configuration file is looked at.
const FILE_POLL: Duration = Duration::from_secs(10);

/// One authorizer of the chain, as the shards build it.
#[derive(Clone)]
pub enum BootAuthorizer {
    /// A built-in mode by name.
    Builtin(String),
    /// A webhook, its client started.
    Webhook(WebhookSettings),
}

/// The list every shard builds its chain from, and its generation.
pub struct SharedAuthorizers {
    generation: AtomicU64,
    list: RwLock<Arc<Vec<BootAuthorizer>>>,
}

fn start_all(specs: &[AuthorizerSpec]) -> Result<Vec<BootAuthorizer>, String> {
    specs
        .iter()
        .map(|spec| match spec {
            AuthorizerSpec::Builtin(m) => Ok(BootAuthorizer::Builtin(m.clone())),
            AuthorizerSpec::Webhook(w) => WebhookSettings::start(w).map(BootAuthorizer::Webhook),
        })
        .collect()
}

impl SharedAuthorizers {
    /// The list `specs` describe (webhook clients started); with `file`, kept current with it.
    pub fn start(specs: &[AuthorizerSpec], file: Option<PathBuf>) -> Result<Arc<Self>, String> {
        let shared = Arc::new(Self {
            generation: AtomicU64::new(1),
            list: RwLock::new(Arc::new(start_all(specs)?)),
        });
        if let Some(file) = file {
            let watched = Arc::clone(&shared);
            let mtime = |p: &PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
            let mut seen: Option<SystemTime> = mtime(&file);
            std::thread::Builder::new()
                .name("authz-config".into())
                .spawn(move || loop {
                    std::thread::sleep(FILE_POLL);
                    let now = mtime(&file);
                    if now == seen {
                        continue;
                    }
                    seen = now;
                    match crate::authz::config::read(&file).and_then(|s| start_all(&s)) {
                        Ok(list) => {
                            if let Ok(mut w) = watched.list.write() {
                                *w = Arc::new(list);
                            }
                            watched.generation.fetch_add(1, Ordering::Release);
                            log::info!("--authorization-config {}: reloaded", file.display());
                        }
                        Err(e) => log::error!(
                            "--authorization-config: kept the last good configuration: {e}"
                        ),
                    }
                })
                .map_err(|e| e.to_string())?;
        }
        Ok(shared)
    }

    fn list(&self) -> Arc<Vec<BootAuthorizer>> {
        self.list.read().map(|l| Arc::clone(&l)).unwrap_or_default()
    }
}

/// One shard's view: the shared list built into modes over the shard's replica.
pub struct ShardModes {
    /// The shared list.
    pub shared: Arc<SharedAuthorizers>,
    /// The shard's RBAC index.
    pub rbac: Option<Rc<RbacAuthorizer>>,
    /// The shard's replica (the Node mode reads it).
    pub cache: Option<WatchCache>,
    /// The storage prefix.
    pub prefix: String,
}

impl ModeSource for ShardModes {
    fn generation(&self) -> u64 {
        self.shared.generation.load(Ordering::Acquire)
    }

    fn modes(&self) -> Vec<Mode> {
        let mut modes = Vec::new();
        for m in self.shared.list().iter() {
            let name = match m {
                BootAuthorizer::Webhook(w) => {
                    modes.push(Mode::Webhook(Rc::new(WebhookAuthorizer::new(w.clone()))));
                    continue;
                }
                BootAuthorizer::Builtin(name) => name.as_str(),
            };
            match name {
                "AlwaysAllow" => modes.push(Mode::Local(Rc::new(AlwaysAllow))),
                "AlwaysDeny" => modes.push(Mode::Local(Rc::new(AlwaysDeny))),
                "RBAC" => match &self.rbac {
                    Some(rbac) => modes.push(Mode::Local(Rc::clone(rbac) as Rc<dyn Authorizer>)),
                    None => {
                        log::error!("RBAC needs the watch cache's RBAC resources; it denies all")
                    }
                },
                "Node" => modes.push(Mode::Local(Rc::new(
                    crate::authz::node::NodeAuthorizer::new(self.cache.clone(), &self.prefix),
                ))),
                other => log::error!("unknown authorization mode {other}"),
            }
        }
        modes
    }
}
