//! The object lifecycle, never touching HTTP: the resource table (what each resource is and
//! how its kind behaves), the generic [`store::Store`] that runs every verb for every row,
//! the per-kind hooks (`kinds/`), the shared strategies, patches and version conversions.
//!
//! Invariants: nothing here knows the HTTP types (requests arrive as typed facts, answers
//! leave as bytes plus a code); per-kind behaviour is chosen once, when a row is built, never
//! by matching kind names on the request path.

pub mod conversion;
pub mod fieldmanager;
pub mod keys;
pub mod kinds;
pub mod patch;
pub mod quantity;
pub mod resources;
pub mod store;
pub mod strategy;
