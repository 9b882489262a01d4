//! kube-apiserver's connection and watch lengths: `--min-request-timeout` (a watch without
//! `timeoutSeconds` lasts that long times a random factor in [1, 2); an explicit length is
//! kept) and `--goaway-chance` (an HTTP/2 connection is ended gracefully with GOAWAY after
//! about one request in 1/chance, every request on it answered; without it, never).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use support::rt;
use support::server::Kubeshard;

/// How long a watch on `query` stays open, with its status code and body.
async fn watch_length(ks: &Kubeshard, query: &str) -> (Duration, u16, String) {
    let c = ks.watch_client(true, true);
    let started = Instant::now();
    let r = c
        .get(ks.url(&format!(
            "/api/v1/namespaces/default/configmaps?watch=true{query}"
        )))
        .send()
        .await
        .unwrap();
    let code = r.status().as_u16();
    let body = tokio::time::timeout(Duration::from_secs(20), r.text())
        .await
        .expect("the watch ends by itself")
        .unwrap();
    (started.elapsed(), code, body)
}

/// Sends up to `n` GETs of `/version`, one after another, on one HTTP/2 connection; returns
/// how many were answered (every answer must be 200) before the server ended the connection.
async fn requests_on_one_connection(ks: &Kubeshard, n: usize) -> usize {
    let mut cfg = support::tls::admin_client_config(ks);
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", ks.port))
        .await
        .unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(name, tcp)
        .await
        .unwrap();
    let (client, conn) = h2::client::handshake(tls).await.unwrap();
    let driver = tokio::spawn(conn);
    let mut answered = 0;
    for _ in 0..n {
        let Ok(mut ready) = client.clone().ready().await else {
            break;
        };
        let req = http::Request::get(ks.url("/version")).body(()).unwrap();
        let Ok((resp, _)) = ready.send_request(req, true) else {
            break;
        };
        match resp.await {
            Ok(r) => {
                assert_eq!(r.status(), 200);
                answered += 1;
            }
            Err(e) => {
                // A request sent as the GOAWAY crossed it is refused, never half-answered.
                assert!(e.is_go_away() || e.is_remote(), "{e}");
                break;
            }
        }
    }
    drop(client);
    let _ = tokio::time::timeout(Duration::from_secs(5), driver).await;
    answered
}

#[test]
fn watches_last_min_request_timeout_to_twice_it_unless_they_say() {
    let ks = Kubeshard::start(&["--min-request-timeout=1"]);
    rt().block_on(async {
        let (none, zero, given) = tokio::join!(
            watch_length(&ks, ""),
            watch_length(&ks, "&timeoutSeconds=0"),
            watch_length(&ks, "&timeoutSeconds=3"),
        );
        for (what, (took, code, body)) in
            [("no timeoutSeconds", &none), ("timeoutSeconds=0", &zero)]
        {
            assert_eq!(*code, 200, "{what}: {body}");
            assert!(
                *took >= Duration::from_millis(900) && *took < Duration::from_millis(2900),
                "{what}: the watch lasted {took:?}, not 1-2 s"
            );
        }
        let (took, code, _) = given;
        assert_eq!(code, 200);
        assert!(
            took >= Duration::from_millis(2900) && took < Duration::from_secs(5),
            "timeoutSeconds=3 lasted {took:?}"
        );

        // Without --goaway-chance an HTTP/2 connection is never ended by the server.
        assert_eq!(requests_on_one_connection(&ks, 300).await, 300);
    });
}

#[test]
fn goaway_chance_ends_http2_connections_after_answering() {
    let ks = Kubeshard::start(&["--goaway-chance=0.02"]);
    rt().block_on(async {
        // At 1 in 50, 2,000 requests all on one connection has odds of about 1 in 10^17.
        let answered = requests_on_one_connection(&ks, 2000).await;
        assert!(
            (1..2000).contains(&answered),
            "{answered} answers before GOAWAY"
        );
        // Clients simply reconnect: every request of a pooled client is answered.
        let c = ks.client(true, true);
        for _ in 0..200 {
            let r = c.get(ks.url("/version")).send().await.unwrap();
            assert_eq!(r.status(), 200);
        }
    });
}
