//! Logs as kube-apiserver writes them: `--logging-format=json` lines are component-base JSON
//! objects, and `-v=3` adds httplog's request line (verb, URI, latency, userAgent, audit-ID,
//! srcIP, resp) for each answer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use support::rt;
use support::server::Kubeshard;

#[test]
fn json_logs_with_the_request_log_at_v3() {
    let mut ks = Kubeshard::start(&["--logging-format=json", "-v=3"]);
    let audit_id = rt().block_on(async {
        let r = ks
            .client(true, true)
            .get(ks.url("/api/v1/namespaces?limit=7"))
            .header("user-agent", "logs-test/1.0")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.headers()["audit-id"].to_str().unwrap().to_string()
    });
    let line = ks.wait_for_line("logs-test/1.0", Duration::from_secs(10));
    let entry: serde_json::Value = serde_json::from_str(&line).expect("a JSON log line");
    assert_eq!(entry["msg"], "HTTP");
    assert_eq!(entry["v"], 3);
    assert_eq!(entry["verb"], "GET");
    assert_eq!(entry["URI"], "/api/v1/namespaces?limit=7");
    assert_eq!(entry["resp"], 200);
    assert_eq!(entry["audit-ID"], audit_id.as_str());
    assert!(
        entry["srcIP"].as_str().unwrap().starts_with("127.0.0.1:"),
        "{entry}"
    );
    assert!(entry["latency"].as_str().unwrap().ends_with('s'), "{entry}");
    assert!(entry["ts"].as_f64().unwrap() > 1.6e9);
    assert!(entry["caller"].as_str().is_some());
}
