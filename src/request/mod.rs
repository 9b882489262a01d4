//! What a request is about: `RequestInfo` parsed from the path, its query, who asks
//! (`UserInfo`), and the typed `RequestCtx` that carries request facts down the handler chain.

pub mod ctx;
pub mod info;
pub mod query;
pub mod selector;
pub mod user;

pub use ctx::RequestCtx;
pub use info::RequestInfo;
pub use query::Query;
pub use user::UserInfo;
