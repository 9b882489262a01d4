//! A loopback admission webhook for `scripts/bench-admission.sh`: HTTPS (a fresh CA, whose
//! certificate it writes to `--ca-out`), HTTP/1.1 keep-alive, answering every
//! AdmissionReview `allowed: true` at once, or on `/slow` after `--slow-ms`. Prints
//! `listening on <port>` when ready.
//!
//!   admission_webhook --ca-out /tmp/hook-ca.pem [--port 0] [--slow-ms 10000]

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn main() {
    let (mut ca_out, mut port, mut slow_ms) = (String::new(), 0u16, 10_000u64);
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let v = it.next().unwrap_or_default();
        match a.as_str() {
            "--ca-out" => ca_out = v,
            "--port" => port = v.parse().unwrap_or(0),
            "--slow-ms" => slow_ms = v.parse().unwrap_or(slow_ms),
            other => {
                eprintln!("unknown argument {other}");
                std::process::exit(2);
            }
        }
    }
    let (config, ca_pem) = tls();
    if !ca_out.is_empty() {
        if let Err(e) = std::fs::write(&ca_out, ca_pem) {
            eprintln!("{ca_out}: {e}");
            std::process::exit(1);
        }
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("runtime: {e}");
            std::process::exit(1);
        }
    };
    rt.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("bind: {e}");
                std::process::exit(1);
            }
        };
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        println!("listening on {port}");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(conn) = acceptor.accept(tcp).await {
                    serve(conn, Duration::from_millis(slow_ms)).await;
                }
            });
        }
    });
}

/// Requests on one connection until it closes: head, Content-Length body, the answer.
async fn serve(mut conn: tokio_rustls::server::TlsStream<tokio::net::TcpStream>, slow: Duration) {
    let mut buf: Vec<u8> = Vec::with_capacity(16 << 10);
    let mut chunk = vec![0u8; 16 << 10];
    loop {
        let (head_end, length) = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..i]).to_ascii_lowercase();
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                break (i + 4, length);
            }
            match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        while buf.len() < head_end + length {
            match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let slow_path = buf.starts_with(b"POST /slow");
        let review: serde_json::Value =
            serde_json::from_slice(&buf[head_end..head_end + length]).unwrap_or_default();
        buf.drain(..head_end + length);
        if slow_path {
            tokio::time::sleep(slow).await;
        }
        let uid = review["request"]["uid"].clone();
        let body =
            serde_json::json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "response": {"uid": uid, "allowed": true}})
            .to_string();
        let resp = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        if conn.write_all(resp.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// A server configuration for 127.0.0.1 from a fresh CA, and the CA's PEM.
fn tls() -> (rustls::ServerConfig, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let fail = |what: &str, e: &dyn std::fmt::Display| -> ! {
        eprintln!("{what}: {e}");
        std::process::exit(1)
    };
    let ca_key = KeyPair::generate().unwrap_or_else(|e| fail("ca key", &e));
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap_or_else(|e| fail("ca", &e));
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca
        .self_signed(&ca_key)
        .unwrap_or_else(|e| fail("ca cert", &e));
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap_or_else(|e| fail("key", &e));
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .and_then(|p| p.signed_by(&key, &issuer))
        .unwrap_or_else(|e| fail("cert", &e));
    let der = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der())
        .unwrap_or_else(|e| fail("key der", &e));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .and_then(|b| {
        b.with_no_client_auth()
            .with_single_cert(vec![cert.der().clone()], der)
    })
    .unwrap_or_else(|e| fail("tls", &e));
    (config, ca_cert.pem())
}
