//! `/version`: kube-apiserver's `version.Info`.

use serde::Serialize;

pub use crate::api::resources::KUBE_MINOR;

/// kube-apiserver's version.Info, field for field.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionInfo {
    major: &'static str,
    minor: &'static str,
    git_version: String,
    git_commit: &'static str,
    git_tree_state: &'static str,
    build_date: &'static str,
    go_version: &'static str,
    compiler: &'static str,
    platform: String,
}

impl VersionInfo {
    /// This build's version.
    pub fn current() -> Self {
        Self {
            major: "1",
            minor: KUBE_MINOR,
            git_version: format!("v1.{KUBE_MINOR}.0-kubeshard.{}", env!("CARGO_PKG_VERSION")),
            git_commit: env!("KUBESHARD_GIT_COMMIT"),
            git_tree_state: env!("KUBESHARD_GIT_TREE_STATE"),
            build_date: env!("KUBESHARD_BUILD_DATE"),
            go_version: env!("KUBESHARD_RUSTC_VERSION"),
            compiler: "rustc",
            platform: format!("linux/{}", go_arch()),
        }
    }

    /// Pretty JSON, as upstream serves it.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    /// `--version` output, as kube-apiserver prints it.
    pub fn short(&self) -> String {
        format!("Kubernetes {}", self.git_version)
    }
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}
