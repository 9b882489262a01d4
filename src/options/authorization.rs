//! Authorization flags, kube-apiserver's names; kubeshard's default is `Node,RBAC`, as kubeadm
//! and k3s configure kube-apiserver (kube-apiserver itself defaults to AlwaysAllow).

/// How requests are authorized.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Authorization flags")]
pub struct AuthorizationOptions {
    /// Ordered list of plug-ins to do authorization on secure port. Comma-delimited list of:
    /// AlwaysAllow,AlwaysDeny,Node,RBAC,Webhook. kubeshard's default is Node,RBAC (as kubeadm
    /// configures kube-apiserver).
    #[arg(
        long = "authorization-mode",
        value_name = "strings",
        value_delimiter = ',',
        default_value = "Node,RBAC"
    )]
    pub authorization_mode: Vec<String>,
    /// File with Authorization Configuration to configure the authorizer chain. Replaces
    /// --authorization-mode and the --authorization-webhook-* flags. Reloaded when the file
    /// changes.
    #[arg(long = "authorization-config", value_name = "string")]
    pub authorization_config: Option<std::path::PathBuf>,
    /// File with webhook configuration in kubeconfig format, used with
    /// --authorization-mode=Webhook. The API server will query the remote service to determine
    /// access on the API server's secure port.
    #[arg(long = "authorization-webhook-config-file", value_name = "string")]
    pub authorization_webhook_config_file: Option<std::path::PathBuf>,
    /// The API version of the authorization.k8s.io SubjectAccessReview to send to and expect
    /// from the webhook.
    #[arg(
        long = "authorization-webhook-version",
        value_name = "string",
        default_value = "v1beta1"
    )]
    pub authorization_webhook_version: String,
    /// The duration to cache 'authorized' responses from the webhook authorizer.
    #[arg(long = "authorization-webhook-cache-authorized-ttl", value_name = "duration", default_value = "5m0s", value_parser = tuning::parse_duration)]
    pub authorization_webhook_cache_authorized_ttl: std::time::Duration,
    /// The duration to cache 'unauthorized' responses from the webhook authorizer.
    #[arg(long = "authorization-webhook-cache-unauthorized-ttl", value_name = "duration", default_value = "30s", value_parser = tuning::parse_duration)]
    pub authorization_webhook_cache_unauthorized_ttl: std::time::Duration,
}

/// The modes kubeshard has.
pub(super) const MODES: [&str; 5] = ["AlwaysAllow", "AlwaysDeny", "Node", "RBAC", "Webhook"];

impl AuthorizationOptions {
    /// Problems with these flags.
    pub fn validate(&self) -> Vec<String> {
        let mut errs = Vec::new();
        let mut seen = Vec::new();
        for m in &self.authorization_mode {
            if !MODES.contains(&m.as_str()) {
                errs.push(format!(
                    "--authorization-mode: authorization-mode {m:?} is not a valid mode"
                ));
            }
            if seen.contains(m) {
                errs.push(format!(
                    "--authorization-mode: authorization-mode {m:?} has mode specified more than once"
                ));
            }
            seen.push(m.clone());
        }
        if let Some(p) = &self.authorization_config {
            if self.authorization_webhook_config_file.is_some() {
                errs.push("--authorization-config: authorization-config flag cannot be used with --authorization-webhook-* flags".into());
            }
            if !p.is_file() {
                errs.push(format!(
                    "--authorization-config {}: no such file",
                    p.display()
                ));
            }
            return errs;
        }
        let webhook = self.authorization_mode.iter().any(|m| m == "Webhook");
        match (&self.authorization_webhook_config_file, webhook) {
            (None, true) => errs.push(
                "--authorization-mode: authorization-mode Webhook's authorization config file not passed".into(),
            ),
            (Some(_), false) => errs.push(
                "--authorization-webhook-config-file: cannot specify --authorization-webhook-config-file without mode Webhook".into(),
            ),
            (Some(p), true) if !p.is_file() => errs.push(format!(
                "--authorization-webhook-config-file {}: no such file",
                p.display()
            )),
            _ => {}
        }
        if !matches!(
            self.authorization_webhook_version.as_str(),
            "v1" | "v1beta1"
        ) {
            errs.push(format!(
                "--authorization-webhook-version: {:?} is not v1 or v1beta1",
                self.authorization_webhook_version
            ));
        }
        if self.authorization_mode.is_empty() {
            errs.push(
                "--authorization-mode: at least one authorization-mode must be passed".into(),
            );
        }
        errs
    }
}

impl AuthorizationOptions {
    /// The authorizer chain: `--authorization-config`, else `--authorization-mode` with the
    /// `--authorization-webhook-*` flags for its Webhook mode.
    pub fn chain(&self) -> Result<Vec<crate::authz::config::AuthorizerSpec>, String> {
        use crate::authz::config::{AuthorizerSpec, FailurePolicy, WebhookSpec};
        if let Some(p) = &self.authorization_config {
            return crate::authz::config::read(p);
        }
        Ok(self
            .authorization_mode
            .iter()
            .map(
                |m| match (m.as_str(), &self.authorization_webhook_config_file) {
                    ("Webhook", Some(file)) => AuthorizerSpec::Webhook(WebhookSpec {
                        name: "webhook".into(),
                        kubeconfig: file.clone(),
                        version: self.authorization_webhook_version.clone(),
                        authorized_ttl: self.authorization_webhook_cache_authorized_ttl,
                        unauthorized_ttl: self.authorization_webhook_cache_unauthorized_ttl,
                        timeout: std::time::Duration::from_secs(30),
                        failure_policy: FailurePolicy::Error,
                        match_conditions: Vec::new(),
                    }),
                    (other, _) => AuthorizerSpec::Builtin(other.to_string()),
                },
            )
            .collect())
    }
}
