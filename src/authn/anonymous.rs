//! The anonymous user of requests without credentials (`--anonymous-auth`).

use crate::request::UserInfo;

/// upstream's anonymous user name.
pub const ANONYMOUS: &str = "system:anonymous";

/// upstream's group of anonymous requests.
pub const UNAUTHENTICATED: &str = "system:unauthenticated";

/// The anonymous user.
pub fn user() -> UserInfo {
    UserInfo {
        name: ANONYMOUS.into(),
        groups: vec![UNAUTHENTICATED.into()],
        ..UserInfo::default()
    }
}
