//! Secure serving flags.

use std::net::IpAddr;
use std::path::PathBuf;

/// Where and how the HTTPS port listens.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Secure serving flags")]
pub struct SecureServingOptions {
    /// The IP address on which to listen for the --secure-port port. The associated
    /// interface(s) must be reachable by the rest of the cluster, and by CLI/web clients.
    #[arg(long = "bind-address", value_name = "ip", default_value = "0.0.0.0")]
    pub bind_address: IpAddr,
    /// The port on which to serve HTTPS with authentication and authorization. It cannot be
    /// switched off with 0.
    #[arg(long = "secure-port", value_name = "int", default_value_t = 6443)]
    pub secure_port: u16,
    /// The directory where the TLS certs are located. If --tls-cert-file and
    /// --tls-private-key-file are provided, this flag will be ignored. Default:
    /// <data-dir>/pki.
    #[arg(long = "cert-dir", value_name = "string")]
    pub cert_dir: Option<PathBuf>,
    /// File containing the default x509 Certificate for HTTPS. (CA cert, if any, concatenated
    /// after server cert). If HTTPS serving is enabled, and --tls-cert-file and
    /// --tls-private-key-file are not provided, a CA and serving certificate are generated
    /// under --cert-dir.
    #[arg(long = "tls-cert-file", value_name = "string")]
    pub tls_cert_file: Option<PathBuf>,
    /// File containing the default x509 private key matching --tls-cert-file.
    #[arg(long = "tls-private-key-file", value_name = "string")]
    pub tls_private_key_file: Option<PathBuf>,
}

impl SecureServingOptions {
    /// Problems with these flags.
    pub fn validate(&self) -> Vec<String> {
        let mut errs = Vec::new();
        if self.secure_port == 0 {
            errs.push("--secure-port 0 must be between 1 and 65535, inclusive. It cannot be turned off with 0".into());
        }
        match (&self.tls_cert_file, &self.tls_private_key_file) {
            (Some(_), None) | (None, Some(_)) => errs
                .push("--tls-cert-file and --tls-private-key-file must be given together".into()),
            _ => {}
        }
        for (flag, f) in [
            ("--tls-cert-file", &self.tls_cert_file),
            ("--tls-private-key-file", &self.tls_private_key_file),
        ] {
            if let Some(p) = f {
                if !p.is_file() {
                    errs.push(format!("{flag} {}: no such file", p.display()));
                }
            }
        }
        errs
    }
}
