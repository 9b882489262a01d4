//! Disk faults under the embedded store, through the real server: a full disk turns writes
//! into 500 Status answers naming the cause while reads and watches go on, and writes resume
//! when space returns; a damaged log is a start-up error naming the file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use support::rt;
use support::server::Kubeshard;
use support::watch::WatchEvents;

/// A small tmpfs mounted for the test (root only), unmounted when dropped.
struct SmallDisk {
    at: PathBuf,
}

impl SmallDisk {
    fn mount(at: &Path, size: &str) -> Option<SmallDisk> {
        std::fs::create_dir_all(at).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output()
            .ok()?;
        if !out.status.success() {
            eprintln!(
                "SKIPPED: cannot mount a tmpfs (needs root): {}",
                String::from_utf8_lossy(&out.stderr)
            );
            return None;
        }
        Some(SmallDisk { at: at.to_owned() })
    }

    /// Fills the disk with one file until ENOSPC; returns its path.
    fn fill(&self) -> PathBuf {
        let path = self.at.join("filler");
        let mut f = std::fs::File::create(&path).unwrap();
        let chunk = vec![0u8; 16 << 10];
        loop {
            if let Err(e) = f.write_all(&chunk) {
                assert_eq!(e.kind(), std::io::ErrorKind::StorageFull, "{e}");
                break;
            }
        }
        // Small tails the chunks did not fit into.
        while f.write_all(&[0u8; 512]).is_ok() {}
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.at).status();
    }
}

fn configmap(name: &str) -> Value {
    json!({"metadata": {"name": name}, "data": {"k": "v".repeat(300)}})
}

#[test]
fn a_full_disk_fails_writes_with_the_cause_and_they_resume_when_space_returns() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let Some(disk) = SmallDisk::mount(&data.join("store"), "6m") else {
        return;
    };
    let mut ks = Kubeshard::start_in(&data, &[], None);
    let url = ks.url("/api/v1/namespaces/default/configmaps");
    rt().block_on(async {
        support::namespace_defaults(&ks, "default").await;
        let c = ks.client(true, true);
        let r = c
            .post(&url)
            .json(&configmap("before"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let rv: Value = r.json().await.unwrap();
        let rv = rv["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .to_string();
        let watch = c
            .get(format!("{url}?watch=1&resourceVersion={rv}"))
            .send()
            .await
            .unwrap();
        assert_eq!(watch.status(), StatusCode::OK);
        let mut events = WatchEvents::new(watch);

        let filler = disk.fill();
        // Bigger than the log's last, partly used page (tmpfs allocates whole pages).
        let mut big = configmap("full");
        big["data"]["k"] = json!("v".repeat(64 << 10));
        let r = c.post(&url).json(&big).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let s: Value = r.json().await.unwrap();
        assert_eq!(
            (s["kind"].as_str(), s["reason"].as_str()),
            (Some("Status"), Some("InternalError")),
            "{s}"
        );
        let msg = s["message"].as_str().unwrap();
        assert!(msg.contains("No space left on device"), "{msg}");
        // Reads go on while the disk is full.
        let r = c.get(format!("{url}/before")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let r = c.get(&url).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let r = c.get(format!("{url}/full")).send().await.unwrap();
        assert_eq!(
            r.status(),
            StatusCode::NOT_FOUND,
            "the failed write left nothing"
        );

        std::fs::remove_file(&filler).unwrap();
        let t0 = Instant::now();
        let r = c.post(&url).json(&configmap("after")).send().await.unwrap();
        assert_eq!(
            r.status(),
            StatusCode::CREATED,
            "writes resume when space returns"
        );
        assert!(t0.elapsed() < Duration::from_secs(5));

        // The watch saw the resumed write, and nothing of the failed one.
        let first = events
            .next(Duration::from_secs(10))
            .await
            .expect("a watch event in time");
        assert_eq!(first["type"], "ADDED", "{first}");
        assert_eq!(first["object"]["metadata"]["name"], "after", "{first}");
    });
    // Everything acknowledged survives a restart; the failed write stays absent.
    ks.signal(15);
    assert!(ks.wait_exit(Duration::from_secs(60)).is_some());
    drop(ks);
    let ks = Kubeshard::start_in(&data, &[], None);
    rt().block_on(async {
        let c = ks.client(true, true);
        for (name, want) in [
            ("before", StatusCode::OK),
            ("after", StatusCode::OK),
            ("full", StatusCode::NOT_FOUND),
        ] {
            let r = c
                .get(ks.url(&format!("/api/v1/namespaces/default/configmaps/{name}")))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), want, "{name}");
        }
    });
    drop(ks);
    drop(disk);
}

#[test]
fn a_damaged_log_is_a_start_up_error_naming_the_file() {
    let mut ks = Kubeshard::start(&[]);
    rt().block_on(async {
        let c = ks.client(true, true);
        for i in 0..20 {
            let r = c
                .post(ks.url("/api/v1/namespaces/default/configmaps"))
                .json(&configmap(&format!("cm-{i}")))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::CREATED);
        }
    });
    ks.signal(15);
    assert!(ks.wait_exit(Duration::from_secs(60)).is_some());
    let store = ks.data_dir.join("store");
    let segment = std::fs::read_dir(&store)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .max()
        .expect("a log segment");
    let mut bytes = std::fs::read(&segment).unwrap();
    let at = bytes.len() / 3;
    bytes[at] ^= 0x20; // a once-durable frame, with valid frames after it
    std::fs::write(&segment, &bytes).unwrap();
    let out = Command::new(support::server::binary())
        .arg(format!("--secure-port={}", support::server::free_port()))
        .arg("--bind-address=127.0.0.1")
        .arg(format!("--data-dir={}", ks.data_dir.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("storage corrupt") && err.contains(&segment.display().to_string()),
        "{err}"
    );
}
