//! REST endpoints and how they answer: `metav1.Status` errors and response helpers.

pub(crate) mod accept;
pub mod response;
pub mod rest;
pub mod status;
