//! Glue between hyper and glommio, plus the few OS calls a shard needs.
//!
//! Every `unsafe` block of kubeshard lives under this module, each with a `SAFETY:` note.

pub(crate) mod affinity;
mod exec;
mod io;
pub mod limits;
mod timer;

pub use exec::LocalExec;
pub use io::{HyperIo, ShardIo};
pub use timer::ShardTimer;
