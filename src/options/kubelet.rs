//! How the server reaches kubelets (kube-apiserver's kubelet client flags), for the
//! kubelet-backed subresources: `pods/log`, `exec`, `attach`, `portforward`, `nodes/proxy`.

use std::path::PathBuf;
use std::time::Duration;

use tuning::parse_duration;

/// The kubelet client: TLS material, which node address to dial, how long to wait.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Misc flags")]
pub struct KubeletOptions {
    /// Path to a cert file for the certificate authority. Without it, the kubelet's serving
    /// certificate is not verified (as upstream).
    #[arg(long = "kubelet-certificate-authority", value_name = "string")]
    pub certificate_authority: Option<PathBuf>,
    /// Path to a client cert file for TLS.
    #[arg(long = "kubelet-client-certificate", value_name = "string")]
    pub client_certificate: Option<PathBuf>,
    /// Path to a client key file for TLS.
    #[arg(long = "kubelet-client-key", value_name = "string")]
    pub client_key: Option<PathBuf>,
    /// List of the preferred NodeAddressTypes to use for kubelet connections.
    #[arg(
        long = "kubelet-preferred-address-types",
        value_name = "strings",
        value_delimiter = ',',
        default_value = "Hostname,InternalDNS,InternalIP,ExternalDNS,ExternalIP"
    )]
    pub preferred_address_types: Vec<String>,
    /// Timeout for kubelet operations.
    #[arg(long = "kubelet-timeout", value_name = "duration", default_value = "5s", value_parser = parse_duration)]
    pub timeout: Duration,
}

/// The address types a node may list (`--kubelet-preferred-address-types` accepts these).
const NODE_ADDRESS_TYPES: &[&str] = &[
    "Hostname",
    "InternalDNS",
    "InternalIP",
    "ExternalDNS",
    "ExternalIP",
];

impl KubeletOptions {
    /// Every problem with these flags.
    pub fn validate(&self) -> Vec<String> {
        let mut errs = Vec::new();
        for t in &self.preferred_address_types {
            if !NODE_ADDRESS_TYPES.contains(&t.as_str()) {
                errs.push(format!(
                    "--kubelet-preferred-address-types: unsupported type {t:?}"
                ));
            }
        }
        if self.client_certificate.is_some() != self.client_key.is_some() {
            errs.push(
                "--kubelet-client-certificate and --kubelet-client-key must be given together"
                    .to_string(),
            );
        }
        errs
    }
}
