//! Records build facts for `/version`: git commit and tree state, build date, rustc version.
use std::process::Command;

fn run(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    let commit = run("git", &["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty =
        run("git", &["status", "--porcelain", "--untracked-files=no"]).map(|s| !s.is_empty());
    let state = match dirty {
        Some(true) => "dirty",
        Some(false) => "clean",
        None => "unknown",
    };
    let date = run("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"])
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".into());
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let rustc_version = run(&rustc, &["--version"]).unwrap_or_else(|| "rustc".into());
    println!("cargo:rustc-env=KUBESHARD_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=KUBESHARD_GIT_TREE_STATE={state}");
    println!("cargo:rustc-env=KUBESHARD_BUILD_DATE={date}");
    println!("cargo:rustc-env=KUBESHARD_RUSTC_VERSION={rustc_version}");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
}
