//! The claims of ServiceAccount tokens, bound and legacy, and how tokens are issued.

use base64::Engine;
use serde::{Deserialize, Deserializer, Serialize};

use super::keys::SigningKey;

/// The issuer of legacy (Secret) tokens.
pub const LEGACY_ISSUER: &str = "kubernetes/serviceaccount";

/// A named object with its uid.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct BoundRef {
    /// Its name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Its uid.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
}

/// The private `kubernetes.io` claim of bound tokens.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Private {
    /// The ServiceAccount's namespace.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// The ServiceAccount.
    #[serde(default)]
    pub serviceaccount: BoundRef,
    /// The Pod the token is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<BoundRef>,
    /// The Secret the token is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<BoundRef>,
    /// The Node the token is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<BoundRef>,
    /// When clients should renew a long-lived token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warnafter: Option<i64>,
}

/// Every claim kubeshard reads or writes.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// Issuer.
    #[serde(default)]
    pub iss: String,
    /// Subject: `system:serviceaccount:NS:NAME`.
    #[serde(default)]
    pub sub: String,
    /// Audiences (a string or a list on the wire).
    #[serde(
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub aud: Vec<String>,
    /// Expiry (seconds since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Issued at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Not before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// The token's id (its credential id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// Bound tokens' private claim.
    #[serde(
        rename = "kubernetes.io",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub kubernetes: Option<Private>,
    /// Legacy: the namespace.
    #[serde(
        rename = "kubernetes.io/serviceaccount/namespace",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub legacy_namespace: Option<String>,
    /// Legacy: the Secret holding the token.
    #[serde(
        rename = "kubernetes.io/serviceaccount/secret.name",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub legacy_secret: Option<String>,
    /// Legacy: the ServiceAccount's name.
    #[serde(
        rename = "kubernetes.io/serviceaccount/service-account.name",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub legacy_sa_name: Option<String>,
    /// Legacy: the ServiceAccount's uid.
    #[serde(
        rename = "kubernetes.io/serviceaccount/service-account.uid",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub legacy_sa_uid: Option<String>,
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

impl Claims {
    /// The ServiceAccount's namespace.
    pub fn namespace(&self) -> String {
        match &self.kubernetes {
            Some(k) => k.namespace.clone(),
            None => self.legacy_namespace.clone().unwrap_or_default(),
        }
    }

    /// The ServiceAccount.
    pub fn service_account(&self) -> BoundRef {
        match &self.kubernetes {
            Some(k) => k.serviceaccount.clone(),
            None => BoundRef {
                name: self.legacy_sa_name.clone().unwrap_or_default(),
                uid: self.legacy_sa_uid.clone().unwrap_or_default(),
            },
        }
    }

    /// A legacy token's Secret.
    pub fn legacy_secret_name(&self) -> Option<String> {
        self.legacy_secret.clone()
    }
}

/// The claims of a token, unverified (to learn its issuer); None when it is no JWT.
pub fn peek(token: &str) -> Option<Claims> {
    let payload = token.split('.').nth(1)?;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&raw).ok()
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Signs `claims` with `key` (its key id in the header).
pub fn sign(key: &SigningKey, claims: &Claims) -> Result<String, String> {
    let mut header = jsonwebtoken::Header::new(key.alg);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, claims, &key.key).map_err(|e| e.to_string())
}

/// A bound token's claims: for ServiceAccount `sa` (name, uid) of `namespace`, valid
/// `seconds` from now for `audiences`, bound to `bound` (kind, name, uid) if any.
pub fn bound(
    issuer: &str,
    audiences: Vec<String>,
    namespace: &str,
    sa: BoundRef,
    bound: Option<(&str, BoundRef)>,
    seconds: i64,
) -> Claims {
    let now = now();
    let mut private = Private {
        namespace: namespace.to_string(),
        serviceaccount: sa.clone(),
        ..Private::default()
    };
    match bound {
        Some(("Pod", r)) => private.pod = Some(r),
        Some(("Secret", r)) => private.secret = Some(r),
        Some(("Node", r)) => private.node = Some(r),
        _ => {}
    }
    Claims {
        iss: issuer.to_string(),
        sub: format!("system:serviceaccount:{namespace}:{}", sa.name),
        aud: audiences,
        exp: Some(now + seconds),
        iat: Some(now),
        nbf: Some(now),
        jti: Some(uuid::Uuid::new_v4().to_string()),
        kubernetes: Some(private),
        ..Claims::default()
    }
}

/// A legacy Secret token's claims.
pub fn legacy(namespace: &str, sa: &BoundRef, secret: &str) -> Claims {
    Claims {
        iss: LEGACY_ISSUER.to_string(),
        sub: format!("system:serviceaccount:{namespace}:{}", sa.name),
        legacy_namespace: Some(namespace.to_string()),
        legacy_secret: Some(secret.to_string()),
        legacy_sa_name: Some(sa.name.clone()),
        legacy_sa_uid: Some(sa.uid.clone()),
        ..Claims::default()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn bound_claims_round_trip_with_upstreams_names() {
        let kp = rcgen::KeyPair::generate().unwrap();
        let key = super::super::keys::signing_key_from_pem(&kp.serialize_pem()).unwrap();
        let c = bound(
            "https://kubernetes.default.svc.cluster.local",
            vec!["api".into()],
            "ns",
            BoundRef {
                name: "bot".into(),
                uid: "u1".into(),
            },
            Some((
                "Pod",
                BoundRef {
                    name: "p".into(),
                    uid: "u2".into(),
                },
            )),
            3600,
        );
        let token = sign(&key, &c).unwrap();
        let peeked = peek(&token).unwrap();
        assert_eq!(peeked, c);
        let raw: serde_json::Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(token.split('.').nth(1).unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(raw["sub"], "system:serviceaccount:ns:bot");
        assert_eq!(raw["kubernetes.io"]["pod"]["uid"], "u2");
        assert_eq!(raw["kubernetes.io"]["serviceaccount"]["name"], "bot");
        assert_eq!(raw["aud"], serde_json::json!(["api"]));
        let one: Claims = serde_json::from_str(r#"{"aud":"x"}"#).unwrap();
        assert_eq!(one.aud, ["x"]);
    }
}
