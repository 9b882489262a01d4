//! ServiceAccount tokens: JWTs signed by the server, for in-cluster clients.
//!
//! Bound tokens (TokenRequest, `kubectl create token`) carry upstream's claims: `iss`, `sub`
//! (`system:serviceaccount:NS:NAME`), `aud`, `exp`, `iat`, `nbf`, `jti` and the private
//! `kubernetes.io` claim naming the namespace, the ServiceAccount and the object the token is
//! bound to (a Pod, Secret or Node) with their uids. Legacy tokens (Secrets of type
//! `kubernetes.io/service-account-token`) carry the older `kubernetes.io/serviceaccount/*`
//! claims and issuer `kubernetes/serviceaccount`.
//!
//! A token is valid while its signature verifies with a `--service-account-key-file` key, its
//! issuer is one of `--service-account-issuer`, it names one of `--api-audiences`, it has not
//! expired, and the ServiceAccount (and bound object, or Secret) still exists with the uid
//! the token names — looked up in the shard's watch cache, so a deleted Pod's token stops
//! working at once. A token that passed every check is answered again without decoding or
//! verifying it while it has not expired and every object it names is still at the revision
//! it was checked at (a few replica lookups).

pub mod claims;
pub mod keys;

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::Value;

use self::claims::{BoundRef, Claims, LEGACY_ISSUER};
use self::keys::{SigningKey, VerifyKey};
use super::{Outcome, TokenAuthenticator};
use crate::registry::keys as storage_keys;
use crate::request::UserInfo;
use crate::storage::cache::WatchCache;

/// What the ServiceAccount token authenticator is configured with, shared by every shard.
#[derive(Debug)]
pub struct TokenSettings {
    /// Issuers accepted; the first is the one tokens are issued with.
    pub issuers: Vec<String>,
    /// Audiences a token must name one of (`--api-audiences`).
    pub audiences: Vec<String>,
    /// Keys tokens are verified with.
    pub verify_keys: Vec<VerifyKey>,
    /// The key tokens are signed with.
    pub signing_key: SigningKey,
    /// `--service-account-max-token-expiration`.
    pub max_expiration: Option<Duration>,
    /// The storage prefix (`/registry`), where the objects tokens name are looked up.
    pub prefix: String,
}

/// How many validated tokens a shard remembers (then it forgets them all and starts over).
const MAX_VALIDATED: usize = 4096;

/// A token that passed every check, with what those checks depended on.
struct Validated {
    user: UserInfo,
    /// When it expires (None: legacy tokens do not).
    exp: Option<i64>,
    /// The objects it names (ServiceAccount, bound object, Secret) and their revisions.
    deps: Vec<(Bytes, i64)>,
}

/// The authenticator of one shard.
pub struct ServiceAccountTokens {
    settings: Arc<TokenSettings>,
    cache: WatchCache,
    /// Object uids read from the replica, by key and revision.
    uids: RefCell<HashMap<Bytes, (i64, String)>>,
    /// Tokens that passed every check, answered again while their objects are unchanged.
    validated: RefCell<HashMap<Box<str>, Validated, foldhash::fast::RandomState>>,
}

impl std::fmt::Debug for ServiceAccountTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountTokens")
            .field("issuers", &self.settings.issuers)
            .finish_non_exhaustive()
    }
}

impl ServiceAccountTokens {
    /// The authenticator over `cache`.
    pub fn new(settings: Arc<TokenSettings>, cache: WatchCache) -> Self {
        Self {
            settings,
            cache,
            uids: RefCell::new(HashMap::new()),
            validated: RefCell::new(HashMap::default()),
        }
    }

    /// The claims of a token whose signature verifies, or why not (None: not ours).
    fn verify(&self, token: &str) -> Option<Result<Claims, String>> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        if !matches!(header.alg, Algorithm::ES256 | Algorithm::RS256) {
            return None;
        }
        let unverified = claims::peek(token)?;
        let legacy = unverified.iss == LEGACY_ISSUER;
        if !legacy && !self.settings.issuers.contains(&unverified.iss) {
            return None;
        }
        let mut v = Validation::new(header.alg);
        v.validate_aud = false;
        v.validate_exp = false;
        v.required_spec_claims.clear();
        let keys =
            self.settings.verify_keys.iter().filter(|k| {
                k.alg == header.alg && header.kid.as_ref().is_none_or(|kid| *kid == k.kid)
            });
        for k in keys {
            if let Ok(data) = jsonwebtoken::decode::<Claims>(token, &k.key, &v) {
                return Some(Ok(data.claims));
            }
        }
        Some(Err(
            "invalid bearer token, token could not be verified".into()
        ))
    }

    /// The uid and revision of the object stored under `key` now (None: there is none).
    fn uid_of(&self, key: &Bytes) -> Option<(String, i64)> {
        let (obj, _) = self.cache.get(key);
        let obj = obj?;
        if let Some((rev, uid)) = self.uids.borrow().get(key) {
            if *rev == obj.revision {
                return Some((uid.clone(), obj.revision));
            }
        }
        let v: Value = serde_json::from_slice(&obj.json).ok()?;
        let uid = v["metadata"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let mut uids = self.uids.borrow_mut();
        if uids.len() > 65536 {
            uids.clear();
        }
        uids.insert(key.clone(), (obj.revision, uid.clone()));
        Some((uid, obj.revision))
    }

    fn key(&self, segment: &str, namespace: Option<&str>, name: &str) -> String {
        storage_keys::object_key(&self.settings.prefix, segment, namespace, name)
    }

    /// Checks a bound reference: the object exists with the uid the token names; records
    /// the object's key and revision in `deps`.
    fn check_ref(
        &self,
        what: &str,
        key: String,
        r: &BoundRef,
        deps: &mut Vec<(Bytes, i64)>,
    ) -> Result<(), String> {
        let key = Bytes::from(key);
        match self.uid_of(&key) {
            None => Err(format!("{what} {:?} not found", r.name)),
            Some((uid, _)) if !r.uid.is_empty() && uid != r.uid => Err(format!(
                "{what} {:?} uid ({uid}) does not match claim ({})",
                r.name, r.uid
            )),
            Some((_, rev)) => {
                deps.push((key, rev));
                Ok(())
            }
        }
    }

    /// The user of a token validated before, while nothing it depends on has changed: it
    /// has not expired and every object it names is at the revision it was checked at.
    fn revalidated(&self, token: &str) -> Option<UserInfo> {
        let known = self.validated.borrow();
        let v = known.get(token)?;
        let now = claims::now();
        let fresh = v.exp.is_none_or(|exp| now <= exp)
            && v.deps
                .iter()
                .all(|(key, rev)| self.cache.get(key).0.is_some_and(|o| o.revision == *rev));
        fresh.then(|| v.user.clone())
    }

    fn validate(&self, c: &Claims, deps: &mut Vec<(Bytes, i64)>) -> Result<UserInfo, String> {
        let now = claims::now();
        let ns = c.namespace();
        let sa = c.service_account();
        if ns.is_empty() || sa.name.is_empty() {
            return Err("token has no ServiceAccount claims".into());
        }
        if c.iss != LEGACY_ISSUER {
            if !c.aud.iter().any(|a| self.settings.audiences.contains(a)) {
                return Err("token audiences is invalid for the target audiences".into());
            }
            match c.exp {
                Some(exp) if now > exp => return Err("token has expired".into()),
                None => return Err("token has no expiry".into()),
                _ => {}
            }
            if c.nbf.is_some_and(|nbf| now + 60 < nbf) {
                return Err("token is not valid yet".into());
            }
        }
        self.check_ref(
            "serviceaccount",
            self.key("serviceaccounts", Some(&ns), &sa.name),
            &sa,
            deps,
        )?;
        let mut extra = std::collections::BTreeMap::new();
        let private = c.kubernetes.as_ref();
        if let Some(pod) = private.and_then(|k| k.pod.as_ref()) {
            self.check_ref("pod", self.key("pods", Some(&ns), &pod.name), pod, deps)?;
            extra.insert(
                "authentication.kubernetes.io/pod-name".into(),
                vec![pod.name.clone()],
            );
            extra.insert(
                "authentication.kubernetes.io/pod-uid".into(),
                vec![pod.uid.clone()],
            );
        }
        if let Some(secret) = private.and_then(|k| k.secret.as_ref()) {
            self.check_ref(
                "secret",
                self.key("secrets", Some(&ns), &secret.name),
                secret,
                deps,
            )?;
        }
        if let Some(node) = private.and_then(|k| k.node.as_ref()) {
            self.check_ref("node", self.key("minions", None, &node.name), node, deps)?;
            extra.insert(
                "authentication.kubernetes.io/node-name".into(),
                vec![node.name.clone()],
            );
            extra.insert(
                "authentication.kubernetes.io/node-uid".into(),
                vec![node.uid.clone()],
            );
        }
        if let Some(secret) = c.legacy_secret_name() {
            let r = BoundRef {
                name: secret,
                uid: String::new(),
            };
            self.check_ref("secret", self.key("secrets", Some(&ns), &r.name), &r, deps)?;
        }
        if let Some(jti) = c.jti.as_ref().filter(|j| !j.is_empty()) {
            extra.insert(
                "authentication.kubernetes.io/credential-id".into(),
                vec![format!("JTI={jti}")],
            );
        }
        Ok(UserInfo {
            name: format!("system:serviceaccount:{ns}:{}", sa.name),
            uid: sa.uid.clone(),
            groups: vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{ns}"),
            ],
            extra,
        })
    }
}

impl TokenAuthenticator for ServiceAccountTokens {
    fn name(&self) -> &'static str {
        "serviceaccount"
    }

    fn authenticate(&self, token: &str) -> Outcome {
        if let Some(user) = self.revalidated(token) {
            return Outcome::User(user);
        }
        self.validated.borrow_mut().remove(token);
        match self.verify(token) {
            None => Outcome::Unknown,
            Some(Err(e)) => Outcome::Invalid(e),
            Some(Ok(c)) => {
                let mut deps = Vec::new();
                match self.validate(&c, &mut deps) {
                    Ok(user) => {
                        let mut known = self.validated.borrow_mut();
                        if known.len() >= MAX_VALIDATED {
                            known.clear();
                        }
                        let exp = (c.iss != LEGACY_ISSUER).then_some(c.exp).flatten();
                        known.insert(
                            token.into(),
                            Validated {
                                user: user.clone(),
                                exp,
                                deps,
                            },
                        );
                        Outcome::User(user)
                    }
                    Err(e) => Outcome::Invalid(e),
                }
            }
        }
    }

    fn cacheable(&self) -> bool {
        // The objects a token names are checked on every request (they are a lookup).
        false
    }
}
