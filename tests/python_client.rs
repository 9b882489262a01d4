//! The official Kubernetes Python client (from PyPI, installed by `scripts/test.sh` into
//! `target/python-venv`) against kubeshard: typed reads of ReplicationControllers and
//! DaemonSets (their Go status fields are always encoded), watches (it sends `watch=True`) and
//! an informer-style list then watch, and server-side apply (`create_from_dict(apply=True)`). The script is `tests/python/official_client.py`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::PathBuf;
use std::process::Command;

use support::server::Kubeshard;

/// The Python with the `kubernetes` package: `$KUBESHARD_PYTHON`, else the test venv.
fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("KUBESHARD_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/python-venv/bin/python");
    assert!(
        venv.exists(),
        "{} is missing: scripts/test.sh installs the official Python client there",
        venv.display()
    );
    venv
}

#[test]
fn the_official_python_client_reads_watches_and_informs() {
    let ks = Kubeshard::start(&[]);
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/official_client.py");
    let out = Command::new(python())
        .arg(&script)
        .arg(ks.kubeconfig())
        .arg("python-client")
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "python client failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("official python client: ok"), "{stdout}");
}
