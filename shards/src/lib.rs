//! The thread-per-core substrate of kubeshard. It knows nothing of Kubernetes.
//!
//! - [`cpus`]: which CPUs to run on (`0,1`, `0-3`, or the process's affinity mask).
//! - [`shard`]: one OS thread per CPU, each running one pinned glommio executor.
//! - [`server`]: per shard, an io_uring TCP listener (SO_REUSEPORT) that terminates TLS with
//!   rustls and serves HTTP/1.1 and HTTP/2 with hyper, then drains on request.
//! - [`outbound`]: HTTP/1.1 to a backend from a shard, and the splice of upgraded connections.
//! - [`signal`]: lock-free one-shot signals that cross shards (lifecycle steps).
//! - [`gate`]: shard-local counters of work in flight, to wait for drains.
//! - [`rt`]: the glue hyper needs on glommio (IO traits, executor, timer).
//!
//! glommio is stale upstream; it stays behind this crate's small interface so that it can be
//! patched or swapped without touching the server above.
#![deny(unsafe_code)]

pub mod cpus;
pub mod gate;
pub mod outbound;
pub mod rt;
pub mod server;
pub mod shard;
pub mod signal;

pub use glommio::spawn_local;
pub use glommio::timer::sleep;
