//! Successful token authentications, cached per shard (upstream caches token authenticator
//! answers too) so that a JWT signature is verified once per token and TTL, not per request.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::request::UserInfo;

/// How long a successful answer is reused (upstream's cached token authenticator: 10 s).
const TTL: Duration = Duration::from_secs(10);

/// Entries kept at most; past that the cache is emptied (a flood of distinct tokens costs
/// only itself).
const MAX_ENTRIES: usize = 4096;

/// The cache of one shard.
/// Keyed by the token itself with foldhash's seeded hasher: one fast pass over the token
/// per request (a SHA-256 of a 1 KiB JWT cost more than the rest of authentication).
#[derive(Debug, Default)]
pub struct TokenCache {
    entries: RefCell<HashMap<Box<str>, (Instant, UserInfo), foldhash::fast::RandomState>>,
}

impl TokenCache {
    /// The user `token` authenticated as within the TTL.
    pub fn get(&self, token: &str) -> Option<UserInfo> {
        let entries = self.entries.borrow();
        let (at, user) = entries.get(token)?;
        (at.elapsed() < TTL).then(|| user.clone())
    }

    /// Remembers a successful authentication.
    pub fn put(&self, token: &str, user: &UserInfo) {
        let mut entries = self.entries.borrow_mut();
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(token.into(), (Instant::now(), user.clone()));
    }
}
