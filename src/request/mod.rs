//! What a request is about: `RequestInfo` parsed from the path, and the typed `RequestCtx`
//! that carries request facts down the handler chain.

pub mod ctx;
pub mod info;
pub mod selector;

pub use ctx::RequestCtx;
pub use info::RequestInfo;
