//! The kubelet client: TLS toward kubelets (`--kubelet-certificate-authority`,
//! `--kubelet-client-certificate` / `-key`), and a node's kubelet address (the first of
//! `--kubelet-preferred-address-types` the Node lists, at its `daemonEndpoints` port).

use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use serde_json::Value;
use shards::outbound::Target;

use crate::api::status::{Reason, Status};
use crate::options::KubeletOptions;

/// The port a kubelet serves on when its Node does not say (upstream's default).
const DEFAULT_KUBELET_PORT: u16 = 10250;

/// How the shards reach kubelets; built once at start-up from the flags.
pub struct KubeletClient {
    /// Verifies the kubelet's certificate with `--kubelet-certificate-authority` (or not at
    /// all without it, as upstream).
    tls: Arc<ClientConfig>,
    /// Never verifies (`insecureSkipTLSVerifyBackend=true` on `pods/log`).
    insecure: Arc<ClientConfig>,
    preferred: Vec<String>,
    /// `--kubelet-timeout`: the most a dial may take.
    pub timeout: Duration,
}

/// Accepts any server certificate but still checks the handshake's signature: what Go's
/// `InsecureSkipVerify` does.
#[derive(Debug)]
struct AnyServerCert(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A client configuration that trusts any server certificate (Go's `InsecureSkipVerify`),
/// presenting no client certificate: what upstream's proxy transport uses toward Pods.
pub fn insecure_client_config() -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map(|b| {
            b.dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyServerCert(provider)))
                .with_no_client_auth()
        });
    match cfg {
        Ok(c) => Arc::new(c),
        // ring supports the default protocol versions; this cannot fail.
        Err(_) => Arc::new(
            ClientConfig::builder()
                .with_root_certificates(RootCertStore::empty())
                .with_no_client_auth(),
        ),
    }
}

impl KubeletClient {
    /// Reads the flags' files. Errors name the file and what is wrong with it.
    pub fn new(o: &KubeletOptions) -> Result<Self, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let identity = match (&o.client_certificate, &o.client_key) {
            (Some(cert), Some(key)) => {
                let chain = CertificateDer::pem_file_iter(cert)
                    .and_then(|i| i.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| format!("--kubelet-client-certificate {}: {e}", cert.display()))?;
                let key = PrivateKeyDer::from_pem_file(key)
                    .map_err(|e| format!("--kubelet-client-key {}: {e}", key.display()))?;
                Some((chain, key))
            }
            _ => None,
        };
        let builder = |verifier: Arc<dyn ServerCertVerifier>| -> Result<ClientConfig, String> {
            let b = ClientConfig::builder_with_provider(Arc::clone(&provider))
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .dangerous()
                .with_custom_certificate_verifier(verifier);
            match &identity {
                Some((chain, key)) => b
                    .with_client_auth_cert(chain.clone(), key.clone_key())
                    .map_err(|e| format!("--kubelet-client-certificate: {e}")),
                None => Ok(b.with_no_client_auth()),
            }
        };
        let any: Arc<dyn ServerCertVerifier> = Arc::new(AnyServerCert(Arc::clone(&provider)));
        let verifying: Arc<dyn ServerCertVerifier> = match &o.certificate_authority {
            None => Arc::clone(&any),
            Some(ca) => {
                let mut roots = RootCertStore::empty();
                for c in CertificateDer::pem_file_iter(ca)
                    .map_err(|e| format!("--kubelet-certificate-authority {}: {e}", ca.display()))?
                {
                    let c = c.map_err(|e| {
                        format!("--kubelet-certificate-authority {}: {e}", ca.display())
                    })?;
                    roots.add(c).map_err(|e| {
                        format!("--kubelet-certificate-authority {}: {e}", ca.display())
                    })?;
                }
                rustls::client::WebPkiServerVerifier::builder_with_provider(
                    Arc::new(roots),
                    Arc::clone(&provider),
                )
                .build()
                .map_err(|e| format!("--kubelet-certificate-authority {}: {e}", ca.display()))?
            }
        };
        Ok(Self {
            tls: Arc::new(builder(verifying)?),
            insecure: Arc::new(builder(any)?),
            preferred: o.preferred_address_types.clone(),
            timeout: o.timeout,
        })
    }

    /// Where `node`'s kubelet answers: `skip_verify` for `insecureSkipTLSVerifyBackend`.
    /// A Node without a usable address is upstream's 500 "no preferred addresses found".
    pub fn target(&self, node: &Value, skip_verify: bool) -> Result<Target, Status> {
        Ok(Target {
            host: self.address(node)?,
            port: kubelet_port(node),
            tls: Some(Arc::clone(if skip_verify {
                &self.insecure
            } else {
                &self.tls
            })),
        })
    }

    /// The node's address of the most preferred type it lists.
    pub fn address(&self, node: &Value) -> Result<String, Status> {
        let addresses = node
            .pointer("/status/addresses")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for want in &self.preferred {
            let found = addresses.iter().find_map(|a| {
                (a.get("type").and_then(Value::as_str) == Some(want.as_str()))
                    .then(|| a.get("address").and_then(Value::as_str))
                    .flatten()
                    .filter(|s| !s.is_empty())
            });
            if let Some(a) = found {
                return Ok(a.to_string());
            }
        }
        let known: Vec<String> = addresses
            .iter()
            .map(|a| {
                format!(
                    "{{{} {}}}",
                    a.get("type").and_then(Value::as_str).unwrap_or_default(),
                    a.get("address").and_then(Value::as_str).unwrap_or_default()
                )
            })
            .collect();
        Err(Status::new(
            Reason::Unknown,
            format!(
                "no preferred addresses found; known addresses: [{}]",
                known.join(" ")
            ),
        ))
    }
}

/// `status.daemonEndpoints.kubeletEndpoint.Port`, or 10250 when the Node gives none.
pub(super) fn kubelet_port(node: &Value) -> u16 {
    node.pointer("/status/daemonEndpoints/kubeletEndpoint/Port")
        .and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p > 0)
        .unwrap_or(DEFAULT_KUBELET_PORT)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    fn client(preferred: &[&str]) -> KubeletClient {
        KubeletClient {
            tls: insecure_client_config(),
            insecure: insecure_client_config(),
            preferred: preferred.iter().map(|s| s.to_string()).collect(),
            timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn the_first_preferred_type_wins_and_the_port_defaults_to_10250() {
        let node = json!({"status": {"addresses": [
            {"type": "InternalIP", "address": "10.0.0.5"},
            {"type": "Hostname", "address": "n1"},
        ]}});
        assert_eq!(
            client(&["InternalIP", "Hostname"]).address(&node).unwrap(),
            "10.0.0.5"
        );
        assert_eq!(
            client(&["Hostname", "InternalIP"]).address(&node).unwrap(),
            "n1"
        );
        assert_eq!(kubelet_port(&node), 10250);
        let node = json!({"status": {"daemonEndpoints": {"kubeletEndpoint": {"Port": 11250}}}});
        assert_eq!(kubelet_port(&node), 11250);
        let e = client(&["ExternalIP"])
            .address(
                &json!({"status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.5"}]}}),
            )
            .unwrap_err();
        assert_eq!(e.code, 500);
        assert_eq!(
            e.message,
            "no preferred addresses found; known addresses: [{InternalIP 10.0.0.5}]"
        );
    }
}
