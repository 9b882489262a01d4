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
#[derive(Debug, Default)]
pub struct TokenCache {
    entries: RefCell<HashMap<[u8; 32], (Instant, UserInfo)>>,
}

fn key(token: &str) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    let mut k = [0u8; 32];
    k.copy_from_slice(d.as_ref());
    k
}

impl TokenCache {
    /// The user `token` authenticated as within the TTL.
    pub fn get(&self, token: &str) -> Option<UserInfo> {
        let entries = self.entries.borrow();
        let (at, user) = entries.get(&key(token))?;
        (at.elapsed() < TTL).then(|| user.clone())
    }

    /// Remembers a successful authentication.
    pub fn put(&self, token: &str, user: &UserInfo) {
        let mut entries = self.entries.borrow_mut();
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key(token), (Instant::now(), user.clone()));
    }
}
