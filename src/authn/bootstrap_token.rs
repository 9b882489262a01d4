//! Bootstrap tokens (`--enable-bootstrap-token-auth`): `<id>.<secret>` tokens kept in Secrets
//! of type `bootstrap.kubernetes.io/token` named `bootstrap-token-<id>` in `kube-system`, as
//! kubeadm creates them for joining nodes. A token is the user `system:bootstrap:<id>` in
//! `system:bootstrappers` and the Secret's `auth-extra-groups`, while the Secret exists, is
//! not being deleted, allows `usage-bootstrap-authentication` and has not expired.
//!
//! The Secret is looked up in the shard's watch cache on every request (deleting it stops
//! the token at once), so answers are not cached.

use base64::Engine;
use bytes::Bytes;
use serde_json::Value;

use super::{Outcome, TokenAuthenticator};
use crate::registry::keys;
use crate::request::UserInfo;
use crate::storage::cache::WatchCache;

/// The Secret type that holds bootstrap tokens.
pub const SECRET_TYPE: &str = "bootstrap.kubernetes.io/token";
/// The group every bootstrap token is in.
pub const GROUP: &str = "system:bootstrappers";

/// The bootstrap token authenticator of one shard.
pub struct BootstrapTokens {
    cache: WatchCache,
    prefix: String,
}

impl std::fmt::Debug for BootstrapTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BootstrapTokens").finish_non_exhaustive()
    }
}

impl BootstrapTokens {
    /// The authenticator over the Secrets in `cache`, stored under `prefix`.
    pub fn new(cache: WatchCache, prefix: &str) -> Self {
        Self {
            cache,
            prefix: prefix.to_string(),
        }
    }
}

/// The id and secret of a well-formed token: `[a-z0-9]{6}.[a-z0-9]{16}`.
pub fn parse(token: &str) -> Option<(&str, &str)> {
    let (id, secret) = token.split_once('.')?;
    let ok = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    (ok(id, 6) && ok(secret, 16)).then_some((id, secret))
}

/// Whether `g` may be an extra group of a bootstrap token:
/// `system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]`.
fn valid_extra_group(g: &str) -> bool {
    let Some(rest) = g.strip_prefix("system:bootstrappers:") else {
        return false;
    };
    let Some(last) = rest.bytes().last() else {
        return false;
    };
    rest.len() <= 256
        && (last.is_ascii_lowercase() || last.is_ascii_digit())
        && rest
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b':' || b == b'-')
}

/// A Secret data value, decoded.
fn data(secret: &Value, field: &str) -> Option<String> {
    let b64 = secret.get("data")?.get(field)?.as_str()?;
    let raw = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    String::from_utf8(raw).ok()
}

/// Compares without stopping at the first difference.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// What the token's Secret says of the token (`now`: seconds since the epoch).
pub fn check(secret: &Value, id: &str, token_secret: &str, now: i64) -> Outcome {
    let unknown = |why: &str| {
        log::debug!("bootstrap token {id}: {why}");
        Outcome::Unknown
    };
    if secret["metadata"]
        .get("deletionTimestamp")
        .is_some_and(|t| !t.is_null())
    {
        return unknown("its Secret is being deleted");
    }
    if secret.get("type").and_then(Value::as_str) != Some(SECRET_TYPE) {
        return unknown("its Secret is not of type bootstrap.kubernetes.io/token");
    }
    if !data(secret, "token-secret").is_some_and(|s| same(&s, token_secret)) {
        return unknown("the secret does not match");
    }
    if data(secret, "token-id").as_deref() != Some(id) {
        return unknown("the token id does not match");
    }
    if let Some(exp) = data(secret, "expiration") {
        let rfc3339 = time::format_description::well_known::Rfc3339;
        match time::OffsetDateTime::parse(&exp, &rfc3339) {
            Ok(t) if t.unix_timestamp() > now => {}
            Ok(_) => return unknown("it has expired"),
            Err(_) => return unknown("its expiration is not RFC 3339"),
        }
    }
    if data(secret, "usage-bootstrap-authentication").as_deref() != Some("true") {
        return unknown("it may not be used for authentication");
    }
    let mut groups = vec![GROUP.to_string()];
    if let Some(extra) = data(secret, "auth-extra-groups") {
        for g in extra.split(',').map(str::trim).filter(|g| !g.is_empty()) {
            if !valid_extra_group(g) {
                return Outcome::Invalid(format!(
                    "bootstrap-token-{id}: auth-extra-groups: {g:?} is not a valid bootstrap group name"
                ));
            }
            if !groups.iter().any(|have| have == g) {
                groups.push(g.to_string());
            }
        }
    }
    Outcome::User(UserInfo {
        name: format!("system:bootstrap:{id}"),
        groups,
        ..UserInfo::default()
    })
}

impl TokenAuthenticator for BootstrapTokens {
    fn name(&self) -> &'static str {
        "bootstrap-token"
    }

    fn authenticate(&self, token: &str) -> Outcome {
        let Some((id, token_secret)) = parse(token) else {
            return Outcome::Unknown;
        };
        let name = format!("bootstrap-token-{id}");
        let key = keys::object_key(&self.prefix, "secrets", Some("kube-system"), &name);
        let (obj, _) = self.cache.get(&Bytes::from(key));
        let Some(obj) = obj else {
            return Outcome::Unknown;
        };
        match serde_json::from_slice::<Value>(&obj.json) {
            Ok(secret) => check(
                &secret,
                id,
                token_secret,
                super::service_account::claims::now(),
            ),
            Err(_) => Outcome::Unknown,
        }
    }

    fn cacheable(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn secret(extra: &[(&str, &str)]) -> Value {
        let mut data = serde_json::Map::new();
        for (k, v) in [
            ("token-id", "abcdef"),
            ("token-secret", "0123456789abcdef"),
            ("usage-bootstrap-authentication", "true"),
        ]
        .iter()
        .chain(extra)
        {
            data.insert((*k).into(), json!(b64(v)));
        }
        json!({"metadata": {"name": "bootstrap-token-abcdef"}, "type": SECRET_TYPE, "data": data})
    }

    #[test]
    fn tokens_as_upstream_reads_them() {
        assert_eq!(
            parse("abcdef.0123456789abcdef"),
            Some(("abcdef", "0123456789abcdef"))
        );
        for bad in [
            "abcdef0123456789abcdef",
            "ABCDEF.0123456789abcdef",
            "abcde.0123456789abcdefg",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
        let ok = check(
            &secret(&[(
                "auth-extra-groups",
                "system:bootstrappers:kubeadm:default-node-token",
            )]),
            "abcdef",
            "0123456789abcdef",
            0,
        );
        let Outcome::User(u) = ok else {
            panic!("{ok:?}")
        };
        assert_eq!(u.name, "system:bootstrap:abcdef");
        assert_eq!(
            u.groups,
            [
                "system:bootstrappers",
                "system:bootstrappers:kubeadm:default-node-token"
            ]
        );
        let now = 1_800_000_000;
        let cases = [
            (secret(&[]), "0123456789abcdee", "wrong secret"),
            (
                secret(&[("expiration", "2020-01-01T00:00:00Z")]),
                "0123456789abcdef",
                "expired",
            ),
            (
                secret(&[("usage-bootstrap-authentication", "false")]),
                "0123456789abcdef",
                "usage off",
            ),
        ];
        for (s, given, what) in cases {
            assert_eq!(check(&s, "abcdef", given, now), Outcome::Unknown, "{what}");
        }
        let mut s = secret(&[]);
        s["type"] = json!("Opaque");
        assert_eq!(
            check(&s, "abcdef", "0123456789abcdef", now),
            Outcome::Unknown
        );
        let bad_group = check(
            &secret(&[("auth-extra-groups", "system:masters")]),
            "abcdef",
            "0123456789abcdef",
            now,
        );
        assert!(matches!(bad_group, Outcome::Invalid(_)), "{bad_group:?}");
    }
}
