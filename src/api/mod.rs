//! The ground floor: what every layer above shares and that needs nothing else of the crate.
//! `metav1.Status` errors, media types, stored bytes <-> objects, a typed metadata view,
//! apimachinery's name and label validation, and the built-in API's resources as data.
//!
//! Invariant: nothing here imports another module of the crate.

pub mod intern;
pub mod media;
pub mod meta;
pub mod object;
pub mod resources;
pub mod status;
pub mod validation;

pub use meta::{Meta, MetaMut};
pub use object::Revision;
pub use status::{Reason, Status, StatusCause};
