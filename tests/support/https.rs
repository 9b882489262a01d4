//! A loopback HTTPS server for webhook tests (authentication, authorization, audit): a
//! certificate from a fresh test CA, one request per connection answered by a handler.

use std::path::PathBuf;

use serde_json::Value;

/// What a loopback HTTPS test server answers a request (its lower-cased head, its JSON
/// body) with: the status line and the JSON body. Two status lines act instead: `close`
/// drops the connection unanswered, `sleep <ms>` answers `200 OK` that much later (without
/// holding up the server's other connections).
pub type Handler = std::sync::Arc<dyn Fn(&str, &Value) -> (&'static str, Value) + Send + Sync>;

/// A loopback HTTPS server (certificate from a fresh test CA) answering one request per
/// connection with `handler`; returns its port, the CA file, and the directory holding them.
pub fn serve_https(handler: Handler) -> (u16, PathBuf, tempfile::TempDir) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let tls = super::etcd::EtcdTls::generate(&dir.path().join("tls"));
    use rustls::pki_types::pem::PemObject;
    let certs: Vec<_> = rustls::pki_types::CertificateDer::pem_file_iter(&tls.server_cert_file)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = rustls::pki_types::PrivateKeyDer::from_pem_file(&tls.server_key_file).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((tcp, _)) = listener.accept().await else { return };
                let (acceptor, handler) = (acceptor.clone(), handler.clone());
                tokio::spawn(async move {
                    let Ok(mut conn) = acceptor.accept(tcp).await else { return };
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    // One request per connection: headers, then Content-Length bytes.
                    let (head_end, length) = loop {
                        let Ok(n) = conn.read(&mut chunk).await else { return };
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buf[..i]).to_lowercase();
                            let length = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|v| v.trim().parse::<usize>().ok())
                                .unwrap_or(0);
                            break (i + 4, length);
                        }
                    };
                    while buf.len() < head_end + length {
                        let Ok(n) = conn.read(&mut chunk).await else { return };
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_lowercase();
                    let body: Value = serde_json::from_slice(&buf[head_end..head_end + length])
                        .unwrap_or(Value::Null);
                    let (mut code, answer) = handler(&head, &body);
                    if code == "close" {
                        return;
                    }
                    if let Some(ms) = code.strip_prefix("sleep ").and_then(|m| m.parse().ok()) {
                        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                        code = "200 OK";
                    }
                    let body = answer.to_string();
                    let resp = format!(
                        "HTTP/1.1 {code}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = conn.write_all(resp.as_bytes()).await;
                    let _ = conn.shutdown().await;
                });
            }
        });
    });
    (port, tls.ca_file.clone(), dir)
}
