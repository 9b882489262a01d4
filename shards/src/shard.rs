//! Shards: one OS thread per CPU, named `shard-<cpu>`, each running a glommio executor pinned
//! to that CPU.

use std::future::Future;
use std::io;
use std::thread::JoinHandle;
use std::time::Duration;

use glommio::{LocalExecutorBuilder, Placement};

use crate::cpus::CpuList;

/// Executor settings every shard uses (from the tuning profile).
#[derive(Clone, Debug)]
pub struct ExecutorConfig {
    /// Bytes of io_uring registered buffers per shard (needs RLIMIT_MEMLOCK).
    pub io_memory: usize,
    /// io_uring submission queue depth.
    pub ring_depth: usize,
    /// Busy-poll this long before parking an idle shard (0: park at once).
    pub spin_before_park: Duration,
    /// How long a task queue may run before the executor checks for preemption.
    pub preempt_timer: Duration,
}

/// Who a shard is, handed to the future it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShardId {
    /// Position of the shard in the set (0..n).
    pub index: usize,
    /// The CPU it is pinned to.
    pub cpu: usize,
}

/// Running shards; join them to wait for each one's future to finish.
#[derive(Debug)]
pub struct ShardSet<T> {
    threads: Vec<(ShardId, JoinHandle<io::Result<T>>)>,
}

impl<T: Send + 'static> ShardSet<T> {
    /// Starts one pinned shard per CPU of `cpus`, each running `main(id)` to completion.
    pub fn start<F, Fut>(cpus: &CpuList, cfg: &ExecutorConfig, main: F) -> io::Result<Self>
    where
        F: Fn(ShardId) -> Fut + Send + Clone + 'static,
        Fut: Future<Output = T> + 'static,
    {
        let mut threads = Vec::with_capacity(cpus.len());
        for (index, &cpu) in cpus.ids().iter().enumerate() {
            let id = ShardId { index, cpu };
            let main = main.clone();
            let cfg = cfg.clone();
            let handle = std::thread::Builder::new()
                .name(format!("shard-{cpu}"))
                .spawn(move || -> io::Result<T> {
                    let mut builder = LocalExecutorBuilder::new(Placement::Fixed(cpu))
                        .name(&format!("shard-{cpu}"))
                        .io_memory(cfg.io_memory)
                        .ring_depth(cfg.ring_depth)
                        .preempt_timer(cfg.preempt_timer);
                    if !cfg.spin_before_park.is_zero() {
                        builder = builder.spin_before_park(cfg.spin_before_park);
                    }
                    let ex = builder
                        .make()
                        .map_err(|e| io::Error::other(e.to_string()))?;
                    Ok(ex.run(main(id)))
                })?;
            threads.push((id, handle));
        }
        Ok(Self { threads })
    }

    /// The shards, in start order.
    pub fn ids(&self) -> Vec<ShardId> {
        self.threads.iter().map(|(id, _)| *id).collect()
    }

    /// Waits for every shard's future; a shard that failed to start or panicked is an error.
    pub fn join(self) -> Vec<(ShardId, io::Result<T>)> {
        self.threads
            .into_iter()
            .map(|(id, h)| {
                let r = h.join().unwrap_or_else(|_| {
                    Err(io::Error::other(format!("shard-{} panicked", id.cpu)))
                });
                (id, r)
            })
            .collect()
    }
}
