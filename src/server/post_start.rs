//! Post-start hooks, as kube-apiserver runs them: work that must happen once storage answers
//! (system namespaces, the bootstrap RBAC policy), tried at once for a short while so that the
//! first requests find it done, then retried in the background until it succeeds. Each hook
//! has a readiness check named `poststarthook/<name>` that turns green when it is done.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::health::HealthCheck;

/// How long start-up waits for a hook's first attempts before going on without it.
const FIRST_ATTEMPT: Duration = Duration::from_secs(3);

/// One hook started: its name and whether it is done.
#[derive(Clone, Debug)]
pub struct PostStartHook {
    name: &'static str,
    done: Arc<AtomicBool>,
}

impl PostStartHook {
    /// Runs `attempt` on a thread of its own until it succeeds (a second apart), waiting up
    /// to a few seconds for it here. `name` is the readiness check's, e.g.
    /// `poststarthook/rbac/bootstrap-roles`.
    pub fn start(
        name: &'static str,
        mut attempt: impl FnMut() -> Result<(), String> + Send + 'static,
    ) -> Self {
        let done = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&done);
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name(
                name.rsplit('/')
                    .next()
                    .unwrap_or(name)
                    .chars()
                    .take(15)
                    .collect(),
            )
            .spawn(move || loop {
                match attempt() {
                    Ok(()) => {
                        flag.store(true, Ordering::Release);
                        let _ = done_tx.send(());
                        return;
                    }
                    Err(e) => {
                        log::warn!("{name}: {e}; retrying");
                        std::thread::sleep(Duration::from_secs(1));
                    }
                }
            });
        match spawned {
            Ok(_) => {
                let _ = done_rx.recv_timeout(FIRST_ATTEMPT);
            }
            Err(e) => log::error!("cannot start {name}: {e}"),
        }
        Self { name, done }
    }

    /// The hook's readiness check, named as upstream names it.
    pub fn readiness_check(&self) -> HealthCheck {
        let done = Arc::clone(&self.done);
        HealthCheck::new(self.name, move || {
            if done.load(Ordering::Acquire) {
                Ok(())
            } else {
                Err("not finished".into())
            }
        })
    }
}
