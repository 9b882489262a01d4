//! kube-apiserver's admission flags: which plugins run (`--enable-admission-plugins`,
//! `--disable-admission-plugins`, validated as upstream validates them) and the settings of
//! the ones kubeshard has.

use crate::admission::{ALL_PLUGINS, DEFAULT_ON};

/// Admission flags.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Admission flags")]
pub struct AdmissionOptions {
    /// admission plugins that should be enabled in addition to default enabled ones
    /// (NamespaceLifecycle, LimitRanger, ServiceAccount, TaintNodesByCondition, PodSecurity,
    /// Priority, DefaultTolerationSeconds, DefaultStorageClass, StorageObjectInUseProtection,
    /// PersistentVolumeClaimResize, RuntimeClass, CertificateApproval, CertificateSigning,
    /// ClusterTrustBundleAttest, CertificateSubjectRestriction, DefaultIngressClass,
    /// MutatingAdmissionPolicy, MutatingAdmissionWebhook, ValidatingAdmissionPolicy,
    /// ValidatingAdmissionWebhook, ResourceQuota). The order of plugins in this flag does not
    /// matter.
    #[arg(
        long = "enable-admission-plugins",
        value_name = "strings",
        value_delimiter = ','
    )]
    pub enable_admission_plugins: Vec<String>,
    /// admission plugins that should be disabled although they are in the default enabled
    /// plugins list. The order of plugins in this flag does not matter.
    #[arg(
        long = "disable-admission-plugins",
        value_name = "strings",
        value_delimiter = ','
    )]
    pub disable_admission_plugins: Vec<String>,
    /// Indicates the tolerationSeconds of the toleration for notReady:NoExecute that is added
    /// by default to every pod that does not already have such a toleration.
    #[arg(
        long = "default-not-ready-toleration-seconds",
        value_name = "int",
        default_value_t = 300
    )]
    pub default_not_ready_toleration_seconds: i64,
    /// Indicates the tolerationSeconds of the toleration for unreachable:NoExecute that is
    /// added by default to every pod that does not already have such a toleration.
    #[arg(
        long = "default-unreachable-toleration-seconds",
        value_name = "int",
        default_value_t = 300
    )]
    pub default_unreachable_toleration_seconds: i64,
    /// Turns on aggregator routing requests to endpoints IP rather than cluster IP.
    #[arg(long = "enable-aggregator-routing", help_heading = "Misc flags", value_name = "bool", default_value_t = false, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub enable_aggregator_routing: bool,
}

impl AdmissionOptions {
    /// upstream's checks: every name is a plugin, and none is both enabled and disabled.
    pub fn validate(&self) -> Vec<String> {
        let mut errs = Vec::new();
        for (flag, names) in [
            ("enable-admission-plugins", &self.enable_admission_plugins),
            ("disable-admission-plugins", &self.disable_admission_plugins),
        ] {
            for n in names.iter().filter(|n| !ALL_PLUGINS.contains(&n.as_str())) {
                errs.push(format!("{flag} plugin {n:?} is unknown"));
            }
        }
        let mut both: Vec<&String> = self
            .enable_admission_plugins
            .iter()
            .filter(|n| self.disable_admission_plugins.contains(n))
            .collect();
        both.sort();
        both.dedup();
        if !both.is_empty() {
            let list: Vec<&str> = both.iter().map(|s| s.as_str()).collect();
            errs.push(format!(
                "[{}] in enable-admission-plugins and disable-admission-plugins overlapped",
                list.join(" ")
            ));
        }
        errs
    }

    /// What the shards build their chains from.
    pub fn config(&self) -> crate::admission::AdmissionConfig {
        crate::admission::AdmissionConfig {
            enabled: self.enabled(),
            not_ready_toleration_seconds: self.default_not_ready_toleration_seconds,
            unreachable_toleration_seconds: self.default_unreachable_toleration_seconds,
            endpoint_routing: self.enable_aggregator_routing,
            webhook_caller: None,
        }
    }

    /// The plugins that run, in upstream's order: the default ones and the enabled ones,
    /// less the disabled ones.
    pub fn enabled(&self) -> Vec<&'static str> {
        ALL_PLUGINS
            .iter()
            .copied()
            .filter(|p| {
                (DEFAULT_ON.contains(p) || self.enable_admission_plugins.iter().any(|e| e == p))
                    && !self.disable_admission_plugins.iter().any(|d| d == p)
            })
            .collect()
    }
}
