//! ServiceAccount issuer discovery, as kube-apiserver serves it: `/.well-known/openid-configuration`
//! (the issuer, where its keys are, what it signs with) and `/openid/v1/jwks` (the public keys
//! tokens verify with), so that other systems can verify ServiceAccount tokens. Reading them
//! is allowed to `system:serviceaccounts` by the `system:service-account-issuer-discovery` role.

use bytes::Bytes;
use http::{header, HeaderValue, Method, StatusCode};
use hyper::{Request, Response};
use serde_json::json;
use shards::server::Body;

use crate::authn::service_account::TokenSettings;
use crate::endpoints::response;

/// The two documents, built once.
#[derive(Debug, Clone)]
pub struct IssuerDiscovery {
    configuration: Bytes,
    keys: Bytes,
}

impl IssuerDiscovery {
    /// The documents for `settings` (the first issuer; its keys at `<issuer>/openid/v1/jwks`).
    pub fn new(settings: &TokenSettings) -> Self {
        let issuer = settings.issuers.first().cloned().unwrap_or_default();
        let mut algs: Vec<&str> = settings
            .verify_keys
            .iter()
            .map(|k| {
                if k.alg == jsonwebtoken::Algorithm::ES256 {
                    "ES256"
                } else {
                    "RS256"
                }
            })
            .collect();
        algs.sort_unstable();
        algs.dedup();
        let configuration = json!({
            "issuer": issuer,
            "jwks_uri": format!("{}/openid/v1/jwks", issuer.trim_end_matches('/')),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": algs,
        });
        let keys: Vec<_> = settings.verify_keys.iter().map(|k| k.jwk.clone()).collect();
        Self {
            configuration: Bytes::from(configuration.to_string()),
            keys: Bytes::from(json!({ "keys": keys }).to_string()),
        }
    }

    /// Answers the discovery paths; None for others.
    pub fn serve<B>(&self, req: &Request<B>) -> Option<Response<Body>> {
        if req.method() != Method::GET && req.method() != Method::HEAD {
            return None;
        }
        let (body, media) = match req.uri().path() {
            "/.well-known/openid-configuration" => (&self.configuration, "application/json"),
            "/openid/v1/jwks" => (&self.keys, "application/jwk-set+json"),
            _ => return None,
        };
        let mut r = response::full(StatusCode::OK, media, body.clone());
        r.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=3600"),
        );
        Some(r)
    }
}
