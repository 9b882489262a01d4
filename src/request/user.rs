//! Who is asking: upstream's `user.Info` (name, uid, groups, extra), set by authentication and
//! carried to authorization, admission, the Store and audit.

use std::collections::BTreeMap;

/// An authenticated (or anonymous) user.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserInfo {
    /// The user name (`system:serviceaccount:ns:name`, a certificate's CN, ...).
    pub name: String,
    /// A unique id, when the authenticator knows one.
    pub uid: String,
    /// Groups the user is in.
    pub groups: Vec<String>,
    /// Extra facts an authenticator attaches (scopes, the ServiceAccount token's pod, ...).
    pub extra: BTreeMap<String, Vec<String>>,
}

impl UserInfo {
    /// Whether the user is in `group`.
    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }
}
