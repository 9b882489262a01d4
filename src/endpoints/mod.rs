//! HTTP endpoints: response builders (every error a `metav1.Status`) and the REST verbs.
//!
//! Invariant: no object lifecycle here — routes, bodies, negotiation and rendering only.

pub mod compression;
pub mod connect;
pub mod observed;
pub mod response;
pub mod rest;
