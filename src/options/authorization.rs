//! Authorization flags, kube-apiserver's names; kubeshard's default is `Node,RBAC`, as kubeadm
//! and k3s configure kube-apiserver (kube-apiserver itself defaults to AlwaysAllow).

/// How requests are authorized.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Authorization flags")]
pub struct AuthorizationOptions {
    /// Ordered list of plug-ins to do authorization on secure port. Comma-delimited list of:
    /// AlwaysAllow,AlwaysDeny,Node,RBAC. kubeshard's default is Node,RBAC (as kubeadm
    /// configures kube-apiserver).
    #[arg(
        long = "authorization-mode",
        value_name = "strings",
        value_delimiter = ',',
        default_value = "Node,RBAC"
    )]
    pub authorization_mode: Vec<String>,
}

/// The modes kubeshard has.
pub(super) const MODES: [&str; 4] = ["AlwaysAllow", "AlwaysDeny", "Node", "RBAC"];

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
        if self.authorization_mode.is_empty() {
            errs.push(
                "--authorization-mode: at least one authorization-mode must be passed".into(),
            );
        }
        errs
    }
}
