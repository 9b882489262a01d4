//! Authentication: who a request comes from, as kube-apiserver's authenticator union decides.
//! A verified client certificate wins (user = CN, groups = O); otherwise a bearer token is
//! offered to each token authenticator in upstream's order (token file, ServiceAccount
//! tokens, bootstrap tokens); the first that knows it decides. Every authenticated user is in
//! `system:authenticated`. A request with no credential is `system:anonymous` when
//! `--anonymous-auth` allows it; a credential that fails is a 401, never anonymous.
//!
//! Successful token checks are cached per shard for a short time, so a JWT's signature is
//! not verified on every request.

pub mod anonymous;
pub mod bootstrap_token;
pub mod cache;
pub mod jwt;
pub mod service_account;

pub mod token_file;
pub mod webhook;
pub mod x509;

use std::rc::Rc;

use rustls_pki_types::CertificateDer;

use crate::api::status::Status;
use crate::request::UserInfo;

/// The group every authenticated user is in.
pub const SYSTEM_AUTHENTICATED: &str = "system:authenticated";

/// What one authenticator made of a credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The credential is this user's.
    User(UserInfo),
    /// Not a credential this authenticator knows (the next one is asked).
    Unknown,
    /// A credential this authenticator knows, and it is not valid: 401.
    Invalid(String),
}

/// One bearer-token authenticator (token file, ServiceAccount JWTs, bootstrap tokens, ...).
pub trait TokenAuthenticator {
    /// The authenticator's name, for logs.
    fn name(&self) -> &'static str;

    /// What the token is.
    fn authenticate(&self, token: &str) -> Outcome;

    /// Whether a successful answer may be cached for the cache's lifetime (false for
    /// authenticators whose answer depends on state that can change at any time and is
    /// cheap to look up, like bound ServiceAccount tokens' objects).
    fn cacheable(&self) -> bool {
        true
    }
}

impl<T: TokenAuthenticator> TokenAuthenticator for std::sync::Arc<T> {
    fn name(&self) -> &'static str {
        (**self).name()
    }

    fn authenticate(&self, token: &str) -> Outcome {
        (**self).authenticate(token)
    }

    fn cacheable(&self) -> bool {
        (**self).cacheable()
    }
}

/// The request facts authentication reads.
#[derive(Clone, Copy, Debug)]
pub struct Credentials<'a> {
    /// The verified client certificate chain, leaf first (empty: none).
    pub certificates: &'a [CertificateDer<'static>],
    /// The `Authorization` header, if any.
    pub authorization: Option<&'a str>,
    /// The request's path (the `anonymous` section of `--authentication-config` may allow
    /// anonymous requests only for some).
    pub path: &'a str,
}

/// The authenticator union of one shard.
pub struct Authentication {
    x509: bool,
    tokens: Vec<Rc<dyn TokenAuthenticator>>,
    anonymous: bool,
    cache: cache::TokenCache,
    /// `--authentication-config`'s state, whose `anonymous` section, when it has one,
    /// decides anonymous requests instead of `--anonymous-auth`.
    jwt: Option<jwt::SharedJwtState>,
    /// Users of client certificates seen on this shard, by the certificate's bytes (parsing a
    /// certificate on every request cost more than the rest of authentication).
    certificate_users: std::cell::RefCell<
        std::collections::HashMap<Box<[u8]>, Option<UserInfo>, foldhash::fast::RandomState>,
    >,
    /// The token webhook, asked last, with this shard's cache of its answers.
    webhook: Option<(webhook::WebhookTokenAuthenticator, webhook::WebhookCache)>,
}

impl std::fmt::Debug for Authentication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.tokens.iter().map(|t| t.name()).collect();
        f.debug_struct("Authentication")
            .field("x509", &self.x509)
            .field("tokens", &names)
            .field("anonymous", &self.anonymous)
            .finish()
    }
}

impl Authentication {
    /// The union: client certificates when `x509`, then `tokens` in order, anonymous last
    /// when allowed.
    pub fn new(x509: bool, tokens: Vec<Rc<dyn TokenAuthenticator>>, anonymous: bool) -> Self {
        Self {
            x509,
            tokens,
            anonymous,
            cache: cache::TokenCache::default(),
            jwt: None,
            certificate_users: Default::default(),
            webhook: None,
        }
    }

    /// The user of a verified leaf certificate, parsed once per shard.
    fn certificate_user(&self, leaf: &CertificateDer<'_>) -> Option<UserInfo> {
        if let Some(known) = self.certificate_users.borrow().get(leaf.as_ref()) {
            return known.clone();
        }
        let user = x509::user(leaf);
        let mut known = self.certificate_users.borrow_mut();
        if known.len() >= 1024 {
            known.clear();
        }
        known.insert(leaf.as_ref().into(), user.clone());
        user
    }

    /// The union reading `--authentication-config`'s anonymous section from `state`.
    pub fn with_jwt_state(mut self, state: jwt::SharedJwtState) -> Self {
        self.jwt = Some(state);
        self
    }

    /// Whether a request without credentials for `path` is anonymous.
    fn anonymous_allowed(&self, path: &str) -> bool {
        let configured = self
            .jwt
            .as_ref()
            .and_then(|s| s.read().ok().and_then(|s| s.anonymous.clone()));
        match configured {
            Some(a) => {
                a.enabled
                    && (a.conditions.is_empty() || a.conditions.iter().any(|c| c.path == path))
            }
            None => self.anonymous,
        }
    }

    /// The union with the token webhook asked after every other token authenticator.
    pub fn with_webhook(mut self, hook: webhook::WebhookTokenAuthenticator) -> Self {
        self.webhook = Some((hook, webhook::WebhookCache::default()));
        self
    }

    /// The request's user, or upstream's 401.
    pub async fn authenticate(&self, c: Credentials<'_>) -> Result<UserInfo, Status> {
        if self.x509 {
            if let Some(user) = c
                .certificates
                .first()
                .and_then(|l| self.certificate_user(l))
            {
                return Ok(authenticated(user));
            }
        }
        if let Some(token) = c.authorization.and_then(bearer_token) {
            let mut out = self.token(token);
            if let (Outcome::Unknown | Outcome::Invalid(_), Some((hook, cache))) =
                (&out, &self.webhook)
            {
                out = match cache.get(token, hook.ttl) {
                    Some(cached) => cached,
                    None => {
                        let answer = hook.authenticate(token).await;
                        if let Outcome::Invalid(why) = &answer {
                            log::debug!("token webhook: {why}");
                        }
                        cache.put(token, &answer);
                        answer
                    }
                };
            }
            return match out {
                Outcome::User(user) => Ok(authenticated(user)),
                Outcome::Unknown | Outcome::Invalid(_) => Err(Status::unauthorized()),
            };
        }
        if self.anonymous_allowed(c.path) {
            return Ok(anonymous::user());
        }
        Err(Status::unauthorized())
    }

    fn token(&self, token: &str) -> Outcome {
        if let Some(user) = self.cache.get(token) {
            return Outcome::User(user);
        }
        let mut invalid = None;
        for a in &self.tokens {
            match a.authenticate(token) {
                Outcome::User(user) => {
                    if a.cacheable() {
                        self.cache.put(token, &user);
                    }
                    return Outcome::User(user);
                }
                Outcome::Unknown => {}
                Outcome::Invalid(why) => {
                    log::debug!("{}: {why}", a.name());
                    invalid.get_or_insert(why);
                }
            }
        }
        match invalid {
            Some(why) => Outcome::Invalid(why),
            None => Outcome::Unknown,
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
pub fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// `user` with `system:authenticated` added.
fn authenticated(mut user: UserInfo) -> UserInfo {
    if !user.in_group(SYSTEM_AUTHENTICATED) {
        user.groups.push(SYSTEM_AUTHENTICATED.into());
    }
    user
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed;

    impl TokenAuthenticator for Fixed {
        fn name(&self) -> &'static str {
            "fixed"
        }

        fn authenticate(&self, token: &str) -> Outcome {
            match token {
                "good" => Outcome::User(UserInfo {
                    name: "alice".into(),
                    ..UserInfo::default()
                }),
                t if t.starts_with("fixed.") => Outcome::Invalid("bad".into()),
                _ => Outcome::Unknown,
            }
        }
    }

    fn block<F: std::future::Future>(f: F) -> F::Output {
        futures_lite::future::block_on(f)
    }

    #[test]
    fn the_union_as_upstream() {
        let a = Authentication::new(true, vec![Rc::new(Fixed)], true);
        let ok = a.authenticate(Credentials {
            certificates: &[],
            path: "/",
            authorization: Some("Bearer good"),
        });
        let ok = block(ok).unwrap_or_default();
        assert_eq!(ok.name, "alice");
        assert_eq!(ok.groups, ["system:authenticated"]);
        for bad in ["Bearer fixed.x", "Bearer unknown"] {
            let e = block(a.authenticate(Credentials {
                certificates: &[],
                path: "/",
                authorization: Some(bad),
            }));
            assert_eq!(
                e.map_err(|s| s.code),
                Err(401),
                "{bad}: a failing credential is never anonymous"
            );
        }
        let anon = a.authenticate(Credentials {
            certificates: &[],
            path: "/",
            authorization: None,
        });
        let anon = block(anon).unwrap_or_default();
        assert_eq!(anon.name, "system:anonymous");
        let closed = Authentication::new(true, vec![], false);
        assert!(block(closed.authenticate(Credentials {
            certificates: &[],
            path: "/",
            authorization: None,
        }))
        .is_err());
        assert_eq!(bearer_token("bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
    }
}
