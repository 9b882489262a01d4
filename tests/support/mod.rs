//! Shared test harness: the real kubeshard binary, a real etcd.
#![allow(dead_code, unreachable_pub)]

pub mod etcd;
pub mod https;
pub mod server;
pub mod tls;
pub mod watch;

/// A current-thread tokio runtime for a test's async client code.
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Runs a kubectl binary against `ks`'s admin kubeconfig: (success, stdout, stderr).
pub fn kubectl_bin(bin: &str, ks: &server::Kubeshard, args: &[&str]) -> (bool, String, String) {
    kubectl_with(std::path::Path::new(bin), &ks.kubeconfig(), args)
}

/// Runs the kubectl at `bin` with `kubeconfig`: (success, stdout, stderr).
pub fn kubectl_with(
    bin: &std::path::Path,
    kubeconfig: &std::path::Path,
    args: &[&str],
) -> (bool, String, String) {
    let out = std::process::Command::new(bin)
        .arg(format!("--kubeconfig={}", kubeconfig.display()))
        .args(args)
        .output()
        .expect("kubectl");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A `kube` client on `ks`'s admin kubeconfig.
pub async fn kube_client(ks: &server::Kubeshard) -> kube::Client {
    let kc = kube::config::Kubeconfig::read_from(ks.kubeconfig()).expect("kubeconfig");
    let cfg = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
        .await
        .expect("kube config");
    kube::Client::try_from(cfg).expect("kube client")
}

/// kubectl binaries to run: the one on PATH and every versioned one the SDK ships.
pub fn kubectls() -> Vec<std::path::PathBuf> {
    let mut out = vec![std::path::PathBuf::from("kubectl")];
    if let Ok(dir) = std::fs::read_dir("/usr/lib/google-cloud-sdk/bin") {
        let mut versioned: Vec<std::path::PathBuf> = dir
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("kubectl.1."))
            })
            .collect();
        versioned.sort();
        out.extend(versioned);
    }
    out
}

/// A named case run against a shared server.
pub type Case = (&'static str, fn(&server::Kubeshard));

/// Runs every case against one server; each runs even when an earlier one fails, and the
/// test fails at the end naming the cases that failed.
pub fn run_cases(ks: &server::Kubeshard, cases: &[Case]) {
    let mut failed = Vec::new();
    for (name, case) in cases {
        eprintln!("case {name}");
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| case(ks))).is_err() {
            failed.push(*name);
        }
    }
    assert!(failed.is_empty(), "failed cases: {failed:?}");
}

/// Waits until namespace `ns` holds what the in-process controllers give every namespace
/// (the `kube-root-ca.crt` ConfigMap and the `default` ServiceAccount), as
/// kube-controller-manager does, shortly after it is made; tests that count a namespace's
/// objects or events wait for them first.
pub async fn namespace_defaults(ks: &server::Kubeshard, ns: &str) {
    let c = ks.client(true, true);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    for path in [
        format!("/api/v1/namespaces/{ns}/configmaps/kube-root-ca.crt"),
        format!("/api/v1/namespaces/{ns}/serviceaccounts/default"),
    ] {
        while c
            .get(ks.url(&path))
            .send()
            .await
            .map(|r| r.status().as_u16())
            .ok()
            != Some(200)
        {
            assert!(
                std::time::Instant::now() < deadline,
                "{path} never appeared"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

/// Waits until every shard authorizes `token`'s GET of `path`. Each shard's authorizer reads
/// RBAC from its own replica of the watch cache, so a binding just created is seen by the
/// shards one after the other (as an informer-fed authorizer sees it upstream): twelve fresh
/// connections in a row (spread over the shards by SO_REUSEPORT) must all be answered 200.
pub async fn until_authorized(ks: &server::Kubeshard, token: &str, path: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let mut in_a_row = 0;
    while in_a_row < 12 {
        let code = ks
            .token_client(Some(token))
            .get(ks.url(path))
            .send()
            .await
            .map(|r| r.status().as_u16())
            .ok();
        if code == Some(200) {
            in_a_row += 1;
            continue;
        }
        in_a_row = 0;
        assert!(
            std::time::Instant::now() < deadline,
            "{path} never authorized for the token (last answer {code:?})"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
