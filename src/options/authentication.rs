//! Authentication flags, kube-apiserver's names and defaults.

use std::path::PathBuf;
use std::time::Duration;

use tuning::parse_duration;

/// How requests are authenticated.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Authentication flags")]
pub struct AuthenticationOptions {
    /// If set, any request presenting a client certificate signed by one of the authorities in
    /// the client-ca-file is authenticated with an identity corresponding to the CommonName of
    /// the client certificate. Default: the bootstrap CA under --cert-dir.
    #[arg(long = "client-ca-file", value_name = "string")]
    pub client_ca_file: Option<PathBuf>,
    /// Enables anonymous requests to the secure port of the API server. Requests that are not
    /// rejected by another authentication method are treated as anonymous requests. Anonymous
    /// requests have a username of system:anonymous, and a group name of
    /// system:unauthenticated.
    #[arg(long = "anonymous-auth", value_name = "bool", default_value_t = true, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub anonymous_auth: bool,
    /// If set, the file that will be used to secure the secure port of the API server via
    /// token authentication.
    #[arg(long = "token-auth-file", value_name = "string")]
    pub token_auth_file: Option<PathBuf>,
    /// Enable to allow secrets of type 'bootstrap.kubernetes.io/token' in the 'kube-system'
    /// namespace to be used for TLS bootstrapping authentication.
    #[arg(long = "enable-bootstrap-token-auth", value_name = "bool", default_value_t = false, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub enable_bootstrap_token_auth: bool,
    /// Identifier of the service account token issuer. The issuer will assert this identifier
    /// in "iss" claim of issued tokens. When this flag is specified multiple times, the first
    /// is used to generate tokens and all are used to determine which issuers are accepted.
    #[arg(
        long = "service-account-issuer",
        value_name = "strings",
        value_delimiter = ',',
        default_value = "https://kubernetes.default.svc.cluster.local"
    )]
    pub service_account_issuer: Vec<String>,
    /// File containing PEM-encoded x509 RSA or ECDSA private or public keys, used to verify
    /// ServiceAccount tokens. May be given multiple times. Default: the signing key.
    #[arg(long = "service-account-key-file", value_name = "stringArray")]
    pub service_account_key_file: Vec<PathBuf>,
    /// Path to the file that contains the current private key of the service account token
    /// issuer. The issuer will sign issued ID tokens with this private key. Default: a key
    /// the bootstrap PKI creates under --cert-dir (sa.key).
    #[arg(long = "service-account-signing-key-file", value_name = "string")]
    pub service_account_signing_key_file: Option<PathBuf>,
    /// Identifiers of the API. The service account token authenticator will validate that
    /// tokens used against the API are bound to at least one of these audiences. Default:
    /// the first --service-account-issuer.
    #[arg(long = "api-audiences", value_name = "strings", value_delimiter = ',')]
    pub api_audiences: Vec<String>,
    /// The maximum validity duration of a token created by the service account token issuer.
    /// If an otherwise valid TokenRequest with a validity duration larger than this value is
    /// requested, a token will be issued with a validity duration of this value.
    #[arg(long = "service-account-max-token-expiration", value_name = "duration", value_parser = parse_duration)]
    pub service_account_max_token_expiration: Option<Duration>,
    /// File with webhook configuration for token authentication in kubeconfig format. The API
    /// server will query the remote service to determine authentication for bearer tokens.
    #[arg(
        long = "authentication-token-webhook-config-file",
        value_name = "string"
    )]
    pub authentication_token_webhook_config_file: Option<PathBuf>,
    /// The duration to cache responses from the webhook token authenticator.
    #[arg(long = "authentication-token-webhook-cache-ttl", value_name = "duration", default_value = "2m0s", value_parser = parse_duration)]
    pub authentication_token_webhook_cache_ttl: Duration,
    /// The API version of the authentication.k8s.io TokenReview to send to and expect from
    /// the webhook.
    #[arg(
        long = "authentication-token-webhook-version",
        value_name = "string",
        default_value = "v1beta1"
    )]
    pub authentication_token_webhook_version: String,
}

impl AuthenticationOptions {
    /// Problems with these flags.
    pub fn validate(&self) -> Vec<String> {
        let mut errs = Vec::new();
        for (flag, path) in [
            ("--client-ca-file", self.client_ca_file.as_ref()),
            ("--token-auth-file", self.token_auth_file.as_ref()),
            (
                "--authentication-token-webhook-config-file",
                self.authentication_token_webhook_config_file.as_ref(),
            ),
            (
                "--service-account-signing-key-file",
                self.service_account_signing_key_file.as_ref(),
            ),
        ] {
            if let Some(p) = path.filter(|p| !p.is_file()) {
                errs.push(format!("{flag} {}: no such file", p.display()));
            }
        }
        for p in self
            .service_account_key_file
            .iter()
            .filter(|p| !p.is_file())
        {
            errs.push(format!(
                "--service-account-key-file {}: no such file",
                p.display()
            ));
        }
        if self
            .service_account_issuer
            .iter()
            .all(|i| i.trim().is_empty())
        {
            errs.push("--service-account-issuer: must be specified".into());
        }
        if !matches!(
            self.authentication_token_webhook_version.as_str(),
            "v1" | "v1beta1"
        ) {
            errs.push(format!(
                "--authentication-token-webhook-version: {:?} is not v1 or v1beta1",
                self.authentication_token_webhook_version
            ));
        }
        if let Some(d) = self.service_account_max_token_expiration {
            if d < Duration::from_secs(3600) {
                errs.push("--service-account-max-token-expiration: must be at least 1h".into());
            }
        }
        errs
    }

    /// The audiences tokens must carry (`--api-audiences`, else the issuer).
    pub fn audiences(&self) -> Vec<String> {
        if self.api_audiences.is_empty() {
            self.service_account_issuer
                .iter()
                .take(1)
                .cloned()
                .collect()
        } else {
            self.api_audiences.clone()
        }
    }
}
