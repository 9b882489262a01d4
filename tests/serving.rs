//! End-to-end tests of the serving core: the real binary, real TLS, HTTP/1.1 and HTTP/2
//! clients, client certificates, CPU pinning, graceful termination, bad input, PKI reuse.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use reqwest::{StatusCode, Version};
use support::rt;
use support::server::Kubeshard;
use support::tls::{read_until_closed, tls_connector};

#[test]
fn version_health_and_not_found_over_http1_and_http2() {
    let ks = Kubeshard::start(&[]);
    rt().block_on(async {
        for (http2, want) in [(false, Version::HTTP_11), (true, Version::HTTP_2)] {
            let c = ks.client(true, http2);
            let r = c.get(ks.url("/version")).send().await.unwrap();
            assert_eq!(r.version(), want);
            assert_eq!(r.status(), StatusCode::OK);
            let v: serde_json::Value = r.json().await.unwrap();
            for field in [
                "major",
                "minor",
                "gitVersion",
                "gitCommit",
                "buildDate",
                "compiler",
                "platform",
                "goVersion",
            ] {
                assert!(v[field].is_string(), "version lacks {field}: {v}");
            }
            assert_eq!(v["major"], "1");
            assert!(v["gitVersion"].as_str().unwrap().starts_with("v1."));

            for p in ["/healthz", "/livez", "/readyz"] {
                let r = c.get(ks.url(p)).send().await.unwrap();
                assert_eq!(r.status(), StatusCode::OK, "{p}");
                assert_eq!(r.text().await.unwrap(), "ok");
            }
            let verbose = c
                .get(ks.url("/readyz?verbose"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(verbose.contains("[+]ping ok\n"), "{verbose}");
            assert!(verbose.contains("[+]shutdown ok\n"), "{verbose}");
            assert!(verbose.ends_with("readyz check passed\n"), "{verbose}");
            let excluded = c
                .get(ks.url("/readyz?verbose&exclude=shutdown"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(excluded.contains("[+]shutdown excluded: ok"), "{excluded}");
            let one = c.get(ks.url("/readyz/ping")).send().await.unwrap();
            assert_eq!(one.status(), StatusCode::OK);
            assert_eq!(one.text().await.unwrap(), "ok");
            let livez_shutdown = c.get(ks.url("/livez/shutdown")).send().await.unwrap();
            assert_eq!(
                livez_shutdown.status(),
                StatusCode::NOT_FOUND,
                "/livez has no shutdown check"
            );

            let r = c.get(ks.url("/no/such/path")).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::NOT_FOUND);
            assert_eq!(r.headers()["content-type"], "application/json");
            assert!(r.headers().contains_key("audit-id"));
            let s: serde_json::Value = r.json().await.unwrap();
            assert_eq!(s["kind"], "Status");
            assert_eq!(s["apiVersion"], "v1");
            assert_eq!(s["status"], "Failure");
            assert_eq!(s["reason"], "NotFound");
            assert_eq!(s["code"], 404);
            assert_eq!(
                s["message"],
                "the server could not find the requested resource"
            );
        }
    });
}

#[test]
fn serves_clients_with_and_without_certificates_and_rejects_foreign_ones() {
    let ks = Kubeshard::start(&[]);
    rt().block_on(async {
        for admin in [true, false] {
            let r = ks
                .client(admin, true)
                .get(ks.url("/version"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK, "admin={admin}");
        }
        // A client certificate from another CA fails the handshake.
        let other = tempfile::tempdir().unwrap();
        let foreign =
            kubeshard::pki::ensure(other.path(), false, "127.0.0.1".parse().unwrap()).unwrap();
        let ca = reqwest::Certificate::from_pem(&ks.ca_pem()).unwrap();
        let id = reqwest::Identity::from_pem(
            format!("{}{}", foreign.admin_cert_pem, foreign.admin_key_pem).as_bytes(),
        )
        .unwrap();
        let c = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(ca)
            .identity(id)
            .build()
            .unwrap();
        assert!(
            c.get(ks.url("/version")).send().await.is_err(),
            "foreign client certificate accepted"
        );
        // The server is still fine.
        let r = ks
            .client(true, false)
            .get(ks.url("/healthz"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    });
}

#[test]
fn kubectl_reaches_the_server_with_the_printed_kubeconfig() {
    let mut ks = Kubeshard::start(&[]);
    drop(ks.wait_for_line("export KUBECONFIG=", Duration::from_secs(5)));
    let out = std::process::Command::new("kubectl")
        .arg(format!("--kubeconfig={}", ks.kubeconfig().display()))
        .args(["version", "-o", "json"])
        .output()
        .expect("kubectl is installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["serverVersion"]["gitVersion"]
            .as_str()
            .unwrap()
            .contains("kubeshard"),
        "{v}"
    );
    let raw = std::process::Command::new("kubectl")
        .arg(format!("--kubeconfig={}", ks.kubeconfig().display()))
        .args(["get", "--raw", "/readyz?verbose"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&raw.stdout).contains("readyz check passed"));
}

#[test]
fn one_pinned_shard_thread_per_cpu() {
    let allowed = shards::cpus::CpuList::allowed().unwrap();
    let want: Vec<usize> = allowed.ids().iter().copied().take(2).collect();
    let list = want
        .iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let mut ks = Kubeshard::start(&[&format!("--cpus={list}")]);
    let line = ks.wait_for_line("", Duration::from_millis(10));
    drop(line);
    // Threads a shard's executor starts (glommio's blocking-call helper) inherit the shard's
    // name and pin themselves as they start; give them a moment under a loaded machine.
    let read_shards = || {
        let mut seen = std::collections::BTreeMap::new();
        for task in std::fs::read_dir(format!("/proc/{}/task", ks.pid())).unwrap() {
            let task = task.unwrap().path();
            let Ok(comm) = std::fs::read_to_string(task.join("comm")) else {
                continue;
            };
            if let Some(cpu) = comm.trim().strip_prefix("shard-") {
                let Ok(status) = std::fs::read_to_string(task.join("status")) else {
                    continue;
                };
                let allowed_list = status
                    .lines()
                    .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                    .unwrap()
                    .trim()
                    .to_string();
                seen.entry(cpu.parse::<usize>().unwrap())
                    .or_insert_with(Vec::new)
                    .push(allowed_list);
            }
        }
        seen
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let seen = loop {
        let seen = read_shards();
        let pinned = seen
            .iter()
            .all(|(cpu, lists)| lists.iter().all(|l| *l == cpu.to_string()));
        if pinned || std::time::Instant::now() > deadline {
            break seen;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    for (cpu, lists) in &seen {
        for l in lists {
            assert_eq!(
                *l,
                cpu.to_string(),
                "thread shard-{cpu} must be pinned to CPU {cpu}"
            );
        }
    }
    assert_eq!(
        seen.keys().copied().collect::<Vec<_>>(),
        want,
        "one shard per CPU in --cpus"
    );
}

#[test]
fn graceful_termination_fails_readyz_during_the_delay_then_exits_0() {
    let mut ks = Kubeshard::start(&["--shutdown-delay-duration=3s"]);
    rt().block_on(async {
        let c = ks.client(true, true);
        assert_eq!(
            c.get(ks.url("/readyz")).send().await.unwrap().status(),
            StatusCode::OK
        );
        let t0 = Instant::now();
        ks.signal(15);
        ks.wait_for_line("ShutdownInitiated", Duration::from_secs(5));
        // During the delay: readyz red, everything else served normally on existing and new
        // connections.
        let r = c.get(ks.url("/readyz")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = r.text().await.unwrap();
        assert!(
            body.contains("[-]shutdown failed: reason withheld"),
            "{body}"
        );
        assert!(body.ends_with("readyz check failed\n"), "{body}");
        assert_eq!(
            c.get(ks.url("/healthz")).send().await.unwrap().status(),
            StatusCode::OK
        );
        assert_eq!(
            c.get(ks.url("/livez")).send().await.unwrap().status(),
            StatusCode::OK
        );
        let fresh = ks.client(true, false);
        assert_eq!(
            fresh.get(ks.url("/version")).send().await.unwrap().status(),
            StatusCode::OK
        );
        assert!(
            t0.elapsed() < Duration::from_secs(3),
            "checks ran inside the delay"
        );
    });
    let t0 = Instant::now();
    let status = ks
        .wait_exit(Duration::from_secs(20))
        .expect("exits after the delay");
    assert!(status.success(), "exit status {status:?}");
    assert!(t0.elapsed() < Duration::from_secs(10));
    let mut order = Vec::new();
    while let Ok(line) = ks.output.try_recv() {
        for step in [
            "AfterShutdownDelayDuration",
            "NotAcceptingNewRequest",
            "InFlightRequestsDrained",
            "HTTPServerStoppedListening",
        ] {
            if line.contains(&format!("] {step} signal fired")) {
                order.push(step);
            }
        }
    }
    assert_eq!(
        order,
        [
            "AfterShutdownDelayDuration",
            "NotAcceptingNewRequest",
            "InFlightRequestsDrained",
            "HTTPServerStoppedListening"
        ]
    );
}

#[test]
fn second_signal_exits_1_at_once() {
    let mut ks = Kubeshard::start(&["--shutdown-delay-duration=60s"]);
    ks.signal(15);
    ks.wait_for_line("ShutdownInitiated", Duration::from_secs(5));
    ks.signal(2);
    let status = ks
        .wait_exit(Duration::from_secs(5))
        .expect("second signal exits at once");
    assert_eq!(status.code(), Some(1));
}

/// A TLS client with the bootstrap CA, for raw protocol tests.
#[test]
fn bad_input_closes_the_connection_and_the_server_stays_healthy() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("fast-timeouts.toml");
    std::fs::write(
        &profile,
        "[http]\ntls_handshake_timeout = \"1s\"\nheader_read_timeout = \"1s\"\n",
    )
    .unwrap();
    let ks = Kubeshard::start(&[&format!("--tuning-profile={}", profile.display())]);
    let addr = format!("127.0.0.1:{}", ks.port);
    let rss_before = ks.rss_kib();

    // Random bytes instead of a TLS ClientHello: closed.
    for i in 0..100u32 {
        let mut s = TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let junk: Vec<u8> = (0..1024u32)
            .map(|j| (j.wrapping_mul(2654435761).wrapping_add(i) >> 7) as u8)
            .collect();
        let _ = s.write_all(&junk);
        let mut buf = [0u8; 512];
        let closed = matches!(s.read(&mut buf), Ok(_) | Err(_));
        assert!(closed);
    }

    rt().block_on(async {
        use tokio::io::AsyncWriteExt;
        let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();

        // A silent TCP client is cut off by the handshake timeout.
        let mut silent = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let t0 = Instant::now();
        let (_, closed) = read_until_closed(&mut silent, Duration::from_secs(5)).await;
        assert!(closed, "silent TCP connection still open after 5s");
        assert!(t0.elapsed() >= Duration::from_millis(800));

        // A TLS client that sends no request is cut off by the header timeout.
        let tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let mut idle = tls_connector(&ks).connect(name.clone(), tcp).await.unwrap();
        let (_, closed) = read_until_closed(&mut idle, Duration::from_secs(5)).await;
        assert!(
            closed,
            "idle TLS connection still open after 5s (slowloris)"
        );

        // Half a request header, then nothing: cut off too.
        let tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let mut slow = tls_connector(&ks).connect(name.clone(), tcp).await.unwrap();
        slow.write_all(b"GET /version HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        let (_, closed) = read_until_closed(&mut slow, Duration::from_secs(5)).await;
        assert!(closed, "slow header still open after 5s");

        // Garbage after the handshake: a 400 or a close, never a hang.
        let tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let mut garbage = tls_connector(&ks).connect(name.clone(), tcp).await.unwrap();
        garbage
            .write_all(b"\x00\x01\x02 not http at all\r\n\r\n")
            .await
            .unwrap();
        let (got, closed) = read_until_closed(&mut garbage, Duration::from_secs(5)).await;
        assert!(closed, "garbage connection still open");
        let text = String::from_utf8_lossy(&got);
        assert!(got.is_empty() || text.starts_with("HTTP/1.1 400"), "{text}");

        // Headers over 1 MiB: refused (431) or closed.
        let tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let mut big = tls_connector(&ks).connect(name.clone(), tcp).await.unwrap();
        let mut req = b"GET /version HTTP/1.1\r\nHost: x\r\n".to_vec();
        let filler = "a".repeat(8000);
        while req.len() < (1 << 20) + 64 * 1024 {
            req.extend_from_slice(format!("X-Fill-{}: {filler}\r\n", req.len()).as_bytes());
        }
        req.extend_from_slice(b"\r\n");
        let _ = big.write_all(&req).await;
        let (got, closed) = read_until_closed(&mut big, Duration::from_secs(10)).await;
        assert!(closed, "oversized header connection still open");
        let text = String::from_utf8_lossy(&got);
        assert!(
            !text.starts_with("HTTP/1.1 200"),
            "oversized headers were served: {text}"
        );

        // Still healthy on both protocols.
        for http2 in [false, true] {
            let r = ks
                .client(true, http2)
                .get(ks.url("/healthz"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK);
        }
    });
    let rss_after = ks.rss_kib();
    assert!(
        rss_after < rss_before + 64 * 1024,
        "RSS grew from {rss_before} KiB to {rss_after} KiB"
    );
}

#[test]
fn pki_is_created_once_and_reused_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut first = Kubeshard::start_in(&data, &[], None);
    let files = [
        "pki/ca.crt",
        "pki/ca.key",
        "pki/apiserver.crt",
        "pki/apiserver.key",
        "pki/admin.crt",
        "pki/admin.key",
    ];
    let before: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(data.join(f)).unwrap())
        .collect();
    let kubeconfig = std::fs::read_to_string(data.join("admin.kubeconfig")).unwrap();
    assert!(kubeconfig.contains("client-certificate-data:"));
    assert!(kubeconfig.contains("certificate-authority-data:"));
    first.signal(15);
    assert!(first.wait_exit(Duration::from_secs(20)).unwrap().success());

    let second = Kubeshard::start_in(&data, &[], None);
    let after: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(data.join(f)).unwrap())
        .collect();
    assert_eq!(before, after, "certificates were regenerated");
    rt().block_on(async {
        let r = second
            .client(true, true)
            .get(second.url("/version"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    });
    // Private keys are private.
    use std::os::unix::fs::PermissionsExt;
    for f in [
        "pki/ca.key",
        "pki/apiserver.key",
        "pki/admin.key",
        "admin.kubeconfig",
    ] {
        let mode = std::fs::metadata(data.join(f))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{f}");
    }
}

fn run_binary(args: &[&str]) -> std::process::Output {
    std::process::Command::new(support::server::binary())
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn flag_errors_are_one_line_and_exit_1() {
    for args in [
        &["--no-such-flag"][..],
        &["--secure-port=notaport"],
        &["--request-timeout=10"],
        &["--cpus=4000"],
        &["--tls-cert-file=/nonexistent.crt"],
    ] {
        let out = run_binary(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("Error: "), "{args:?}: {err}");
        assert!(err.lines().count() <= 2, "{args:?}: {err}");
    }
    let two = run_binary(&[
        "--cpus=4000",
        "--tls-cert-file=/nonexistent.crt",
        "--tls-private-key-file=/nonexistent.key",
    ]);
    let err = String::from_utf8_lossy(&two.stderr);
    assert!(err.lines().count() >= 3, "all problems at once: {err}");

    let v = run_binary(&["--version"]);
    assert!(v.status.success());
    assert!(String::from_utf8_lossy(&v.stdout).starts_with("Kubernetes v1."));
    let h = run_binary(&["--help"]);
    assert!(h.status.success());
    let help = String::from_utf8_lossy(&h.stdout);
    for s in [
        "Generic flags:",
        "Secure serving flags:",
        "Etcd flags:",
        "Shards and tuning flags:",
        "--shutdown-delay-duration",
    ] {
        assert!(help.contains(s), "{s} missing from --help");
    }
}

#[test]
fn a_taken_port_is_an_error() {
    let ks = Kubeshard::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let out = run_binary(&[
        &format!("--secure-port={}", ks.port),
        "--bind-address=127.0.0.1",
        &format!("--data-dir={}", dir.path().display()),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "failed to listen on 127.0.0.1:{0}: listen tcp 127.0.0.1:{0}: bind: address already in use",
            ks.port
        )),
        "{err}"
    );
}

#[test]
fn a_restart_after_kill_9_binds_the_same_port_at_once() {
    // Connections the killed process had open sit in TIME_WAIT on the port; the restart must
    // bind anyway (SO_REUSEADDR, as Go's listeners), on its first try.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = support::server::free_port_for_restarts();
    let mut ks = Kubeshard::start_on(port, &data, &[], None);
    let runtime = rt();
    // The clients stay connected through the kill, so the server's side closes first.
    let _clients = runtime.block_on(async {
        let mut clients = Vec::new();
        for http2 in [false, true] {
            let c = ks.client(true, http2);
            for _ in 0..4 {
                let r = c.get(ks.url("/version")).send().await.unwrap();
                assert_eq!(r.status(), reqwest::StatusCode::OK);
            }
            clients.push(c);
        }
        clients
    });
    ks.signal(9);
    assert!(ks.wait_exit(Duration::from_secs(10)).is_some());
    drop(ks);
    runtime.block_on(async { tokio::time::sleep(Duration::from_millis(300)).await });
    let ss = std::process::Command::new("ss")
        .args(["-tan", &format!("sport = :{port}")])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    eprintln!("sockets on the port after the kill:\n{ss}");
    assert!(
        ss.is_empty() || ss.contains("TIME-WAIT"),
        "the killed server's connections should sit in TIME_WAIT: {ss}"
    );
    let t0 = std::time::Instant::now();
    let ks = Kubeshard::start_on(port, &data, &[], None);
    assert!(t0.elapsed() < Duration::from_secs(30), "{:?}", t0.elapsed());
    rt().block_on(async {
        let r = ks
            .client(true, true)
            .get(ks.url("/readyz"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::OK);
    });
}

#[test]
fn an_in_flight_request_completes_during_graceful_termination() {
    let mut ks = Kubeshard::start(&["--shutdown-delay-duration=1s"]);
    rt().block_on(async {
        let c = ks.client(true, true);
        // A create whose body is still arriving when SIGTERM comes: it is in flight.
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
        let body = reqwest::Body::wrap_stream(tokio_stream_from(rx));
        let req = c
            .post(ks.url("/api/v1/namespaces/default/configmaps"))
            .header("content-type", "application/json")
            .body(body)
            .send();
        let pending = tokio::spawn(req);
        tx.send(Ok(br#"{"metadata":{"name":"in-flight"},"#.to_vec()))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        ks.signal(15);
        // Past the delay: listeners are closed and the drain waits for this request.
        tokio::time::sleep(Duration::from_millis(1800)).await;
        assert!(
            ks.wait_exit(Duration::from_millis(10)).is_none(),
            "exited with a request in flight"
        );
        tx.send(Ok(br#""data":{"k":"v"}}"#.to_vec())).await.unwrap();
        drop(tx);
        let resp = pending.await.unwrap().unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED);
        let obj: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(obj["metadata"]["name"], "in-flight");
    });
    let status = ks
        .wait_exit(Duration::from_secs(20))
        .expect("exits once drained");
    assert!(status.success(), "{status:?}");
}

/// A byte stream fed from a channel (a request body that arrives in pieces).
fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
