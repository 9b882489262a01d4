//! The handler chain: one list of filters, in the order they run (see `chain.rs`), each in its
//! own file with one job.

pub mod audit;
pub mod authentication;
pub mod authorization;
pub mod chain;
pub mod impersonation;
pub mod in_flight;
pub mod max_in_flight;
pub mod panic_recovery;
pub mod priority_and_fairness;
pub mod retry_after;

pub use chain::{ChainState, HandlerChain};
