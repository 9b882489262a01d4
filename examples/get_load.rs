//! GET load: C concurrent requests for one URL over HTTP/2 (or HTTP/1.1) with the admin
//! client certificate, for D seconds; prints requests, req/s and errors as one JSON line.
//! Used by `scripts/bench-ab.sh` to compare builds (the server's CPU per request is the
//! measure; this client may be the limit of req/s on a small machine).
//!
//!   get_load --url https://127.0.0.1:6443/api/v1/namespaces/default/configmaps/x \
//!            --pki <data-dir>/pki --concurrency 64 --seconds 10 [--http1]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let mut url = String::new();
    let mut pki = "kubeshard-data/pki".to_string();
    let (mut concurrency, mut seconds, mut http1) = (64usize, 10u64, false);
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        match k.as_str() {
            "--http1" => http1 = true,
            _ => {
                let v = it.next().unwrap_or_default();
                match k.as_str() {
                    "--url" => url = v,
                    "--pki" => pki = v,
                    "--concurrency" => concurrency = v.parse().unwrap_or(concurrency),
                    "--seconds" => seconds = v.parse().unwrap_or(seconds),
                    other => {
                        eprintln!("unknown argument {other}");
                        std::process::exit(2);
                    }
                }
            }
        }
    }
    let read = |f: &str| std::fs::read(format!("{pki}/{f}")).unwrap_or_default();
    let mut pem = read("admin.crt");
    pem.extend(read("admin.key"));
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false);
    b = if http1 {
        b.http1_only()
    } else {
        b.http2_prior_knowledge()
    };
    if let Ok(ca) = reqwest::Certificate::from_pem(&read("ca.crt")) {
        b = b.add_root_certificate(ca);
    }
    if let Ok(id) = reqwest::Identity::from_pem(&pem) {
        b = b.identity(id);
    }
    let client = match b.build() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("client: {e}");
            std::process::exit(1);
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("runtime: {e}");
            std::process::exit(1);
        }
    };
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + Duration::from_secs(seconds);
    rt.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..concurrency {
            let (client, url, ok, failed) =
                (client.clone(), url.clone(), ok.clone(), failed.clone());
            tasks.push(tokio::spawn(async move {
                while Instant::now() < end {
                    match client.get(&url).send().await {
                        Ok(r) if r.status().is_success() => {
                            let _ = r.bytes().await;
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    });
    let n = ok.load(Ordering::Relaxed);
    println!(
        "{{\"requests\":{n},\"errors\":{},\"seconds\":{seconds},\"rps\":{:.0}}}",
        failed.load(Ordering::Relaxed),
        n as f64 / seconds as f64
    );
}
