//! The ServiceAccount token keys: the signing key (`--service-account-signing-key-file`, else
//! the bootstrap PKI's `sa.key`) and the verification keys (`--service-account-key-file`, else
//! the signing key's public half), each with upstream's key id (base64url of the SHA-256 of its
//! PKIX DER) and its JWK for `/openid/v1/jwks`. ECDSA P-256 (ES256) and RSA (RS256).

use std::path::Path;

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::SubjectPublicKeyInfoDer;
use serde_json::{json, Value};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

fn b64url(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// One public key tokens are verified with.
#[derive(Clone)]
pub struct VerifyKey {
    /// upstream's key id.
    pub kid: String,
    /// ES256 or RS256.
    pub alg: Algorithm,
    /// The key for `jsonwebtoken`.
    pub key: DecodingKey,
    /// Its JWK.
    pub jwk: Value,
}

impl std::fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish()
    }
}

/// The key tokens are signed with.
#[derive(Clone)]
pub struct SigningKey {
    /// The key id put in each token's header.
    pub kid: String,
    /// ES256 or RS256.
    pub alg: Algorithm,
    /// The key for `jsonwebtoken`.
    pub key: EncodingKey,
    /// Its public half.
    pub public: VerifyKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish()
    }
}

/// A public key from its PKIX (SubjectPublicKeyInfo) DER.
pub fn verify_key(spki: &[u8]) -> Result<VerifyKey, String> {
    let kid = b64url(ring::digest::digest(&ring::digest::SHA256, spki).as_ref());
    let (_, info) =
        SubjectPublicKeyInfo::from_der(spki).map_err(|e| format!("not a public key: {e}"))?;
    match info
        .parsed()
        .map_err(|e| format!("unsupported public key: {e}"))?
    {
        PublicKey::EC(point) => {
            let p = point.data();
            if p.len() != 65 || p[0] != 4 {
                return Err("only uncompressed P-256 EC keys are supported".into());
            }
            let (x, y) = (b64url(&p[1..33]), b64url(&p[33..65]));
            Ok(VerifyKey {
                key: DecodingKey::from_ec_components(&x, &y).map_err(|e| e.to_string())?,
                jwk: json!({"use": "sig", "kty": "EC", "kid": kid, "crv": "P-256", "alg": "ES256", "x": x, "y": y}),
                kid,
                alg: Algorithm::ES256,
            })
        }
        PublicKey::RSA(rsa) => {
            let n = b64url(trim_zeros(rsa.modulus));
            let e = b64url(trim_zeros(rsa.exponent));
            Ok(VerifyKey {
                key: DecodingKey::from_rsa_components(&n, &e).map_err(|e| e.to_string())?,
                jwk: json!({"use": "sig", "kty": "RSA", "kid": kid, "alg": "RS256", "n": n, "e": e}),
                kid,
                alg: Algorithm::RS256,
            })
        }
        _ => Err("only ECDSA P-256 and RSA keys are supported".into()),
    }
}

fn trim_zeros(b: &[u8]) -> &[u8] {
    let first = b.iter().position(|x| *x != 0).unwrap_or(b.len());
    &b[first..]
}

/// The public keys in a PEM file (public keys, or private keys' public halves).
pub fn verify_keys_from_file(path: &Path) -> Result<Vec<VerifyKey>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut keys = Vec::new();
    for spki in SubjectPublicKeyInfoDer::pem_slice_iter(text.as_bytes()).flatten() {
        keys.push(verify_key(spki.as_ref()).map_err(|e| format!("{}: {e}", path.display()))?);
    }
    if keys.is_empty() {
        let kp = rcgen::KeyPair::from_pem(&text)
            .map_err(|e| format!("{}: no public or private key: {e}", path.display()))?;
        keys.push(verify_key(&spki_der(&kp)?).map_err(|e| format!("{}: {e}", path.display()))?);
    }
    Ok(keys)
}

fn spki_der(kp: &rcgen::KeyPair) -> Result<Vec<u8>, String> {
    SubjectPublicKeyInfoDer::from_pem_slice(kp.public_key_pem().as_bytes())
        .map(|d| d.as_ref().to_vec())
        .map_err(|e| e.to_string())
}

/// The signing key in a PEM file (PKCS#8 ECDSA P-256 or RSA, or PKCS#1 RSA).
pub fn signing_key_from_file(path: &Path) -> Result<SigningKey, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    signing_key_from_pem(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The signing key in PEM text.
pub fn signing_key_from_pem(text: &str) -> Result<SigningKey, String> {
    let kp = rcgen::KeyPair::from_pem(text).map_err(|e| format!("not a private key: {e}"))?;
    let public = verify_key(&spki_der(&kp)?)?;
    let key = match public.alg {
        Algorithm::ES256 => EncodingKey::from_ec_pem(text.as_bytes()),
        _ => EncodingKey::from_rsa_pem(text.as_bytes()),
    }
    .map_err(|e| e.to_string())?;
    Ok(SigningKey {
        kid: public.kid.clone(),
        alg: public.alg,
        key,
        public,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn an_ec_key_signs_and_its_public_half_verifies() {
        let kp = rcgen::KeyPair::generate().unwrap();
        let signing = signing_key_from_pem(&kp.serialize_pem()).unwrap();
        assert_eq!(signing.alg, Algorithm::ES256);
        assert_eq!(signing.public.jwk["kty"], "EC");
        assert_eq!(signing.public.jwk["kid"], signing.kid.as_str());
        let mut header = jsonwebtoken::Header::new(Algorithm::ES256);
        header.kid = Some(signing.kid.clone());
        let token = jsonwebtoken::encode(
            &header,
            &json!({"sub": "x", "exp": 4_000_000_000u64}),
            &signing.key,
        )
        .unwrap();
        let mut v = jsonwebtoken::Validation::new(Algorithm::ES256);
        v.validate_aud = false;
        let got = jsonwebtoken::decode::<Value>(&token, &signing.public.key, &v).unwrap();
        assert_eq!(got.claims["sub"], "x");
        let public_pem = kp.public_key_pem();
        let spki = SubjectPublicKeyInfoDer::from_pem_slice(public_pem.as_bytes()).unwrap();
        assert_eq!(
            verify_key(spki.as_ref()).unwrap().kid,
            signing.kid,
            "same key, same id"
        );
    }
}
