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
    /// File with Authentication Configuration to configure the JWT Token authenticator or the
    /// anonymous authenticator. Note: This feature is mutually exclusive with the oidc-* flags.
    /// Reloaded when the file changes. (kubeshard: CEL expressions are refused.)
    #[arg(long = "authentication-config", value_name = "string")]
    pub authentication_config: Option<PathBuf>,
    /// The URL of the OpenID issuer, only HTTPS scheme will be accepted. If set, it will be
    /// used to verify the OIDC JSON Web Token (JWT).
    #[arg(long = "oidc-issuer-url", value_name = "string")]
    pub oidc_issuer_url: Option<String>,
    /// The client ID for the OpenID Connect client, must be set if oidc-issuer-url is set.
    #[arg(long = "oidc-client-id", value_name = "string")]
    pub oidc_client_id: Option<String>,
    /// If set, the OpenID server's certificate will be verified by one of the authorities in
    /// the oidc-ca-file, otherwise the host's root CA set will be used.
    #[arg(long = "oidc-ca-file", value_name = "string")]
    pub oidc_ca_file: Option<PathBuf>,
    /// The OpenID claim to use as the user name.
    #[arg(
        long = "oidc-username-claim",
        value_name = "string",
        default_value = "sub"
    )]
    pub oidc_username_claim: String,
    /// If provided, all usernames will be prefixed with this value. If not provided, username
    /// claims other than 'email' are prefixed by the issuer URL to avoid clashes. To skip any
    /// prefixing, provide the value '-'.
    #[arg(
        long = "oidc-username-prefix",
        value_name = "string",
        default_value = ""
    )]
    pub oidc_username_prefix: String,
    /// If provided, the name of a custom OpenID Connect claim for specifying user groups.
    #[arg(long = "oidc-groups-claim", value_name = "string", default_value = "")]
    pub oidc_groups_claim: String,
    /// If provided, all groups will be prefixed with this value to prevent conflicts with
    /// other authentication strategies.
    #[arg(long = "oidc-groups-prefix", value_name = "string", default_value = "")]
    pub oidc_groups_prefix: String,
    /// A key=value pair that describes a required claim in the ID Token. If set, the claim is
    /// verified to be present in the ID Token with a matching value. Repeat this flag to
    /// specify multiple claims.
    #[arg(
        long = "oidc-required-claim",
        value_name = "mapStringString",
        value_delimiter = ','
    )]
    pub oidc_required_claim: Vec<String>,
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
        if self.authentication_config.is_some() && self.oidc_issuer_url.is_some() {
            errs.push("--authentication-config: authentication-config file and oidc-* flags are mutually exclusive".into());
        }
        if let Some(p) = self.authentication_config.as_ref().filter(|p| !p.is_file()) {
            errs.push(format!(
                "--authentication-config {}: no such file",
                p.display()
            ));
        }
        if self.oidc_issuer_url.is_some() != self.oidc_client_id.is_some() {
            errs.push(
                "--oidc-issuer-url: oidc-issuer-url and oidc-client-id must be specified together"
                    .into(),
            );
        }
        for c in &self.oidc_required_claim {
            if !c.contains('=') {
                errs.push(format!("--oidc-required-claim: {c:?} is not key=value"));
            }
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

    /// The JWT authenticators: `--authentication-config`, else the `--oidc-*` flags mapped
    /// onto one, else none.
    pub fn jwt_config(
        &self,
    ) -> Result<Option<crate::authn::jwt::AuthenticationConfiguration>, String> {
        if let Some(p) = &self.authentication_config {
            return crate::authn::jwt::AuthenticationConfiguration::read(p).map(Some);
        }
        let (Some(url), Some(id)) = (&self.oidc_issuer_url, &self.oidc_client_id) else {
            return Ok(None);
        };
        crate::authn::jwt::OidcFlags {
            issuer_url: url.clone(),
            client_id: id.clone(),
            ca_file: self.oidc_ca_file.clone(),
            username_claim: self.oidc_username_claim.clone(),
            username_prefix: self.oidc_username_prefix.clone(),
            groups_claim: self.oidc_groups_claim.clone(),
            groups_prefix: self.oidc_groups_prefix.clone(),
            required_claims: self
                .oidc_required_claim
                .iter()
                .filter_map(|c| c.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
        .to_config()
        .map(Some)
    }
}
