//! GET load: C concurrent requests for one URL over HTTP/2 (or HTTP/1.1) with the admin
//! client certificate, for D seconds or N requests; prints requests, req/s, mean and p99
//! latency and errors as one JSON line. Used by `scripts/bench-ab.sh` and `scripts/bench-list.sh` to
//! compare builds (the server's CPU per request is the measure; this client may be the limit
//! of req/s on a small machine). `--create N --bytes B [--name-prefix P]` instead POSTs N
//! ConfigMaps of about B bytes to the URL (a collection) and exits.
//!
//!   get_load --url https://127.0.0.1:6443/api/v1/namespaces/default/configmaps/x \
//!            --pki <data-dir>/pki --concurrency 64 --seconds 10 [--requests N] [--http1]
//!            [--token T]   # a bearer token instead of the admin certificate (an ordinary user)

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let mut url = String::new();
    let mut pki = "kubeshard-data/pki".to_string();
    let (mut concurrency, mut seconds, mut http1) = (64usize, 10u64, false);
    let (mut requests, mut create, mut bytes) = (0u64, 0u64, 1000usize);
    let mut prefix = "load".to_string();
    let mut token = String::new();
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
                    "--requests" => requests = v.parse().unwrap_or(0),
                    "--create" => create = v.parse().unwrap_or(0),
                    "--bytes" => bytes = v.parse().unwrap_or(bytes),
                    "--name-prefix" => prefix = v,
                    "--token" => token = v,
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
    if !token.is_empty() {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Ok(v) = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}")) {
            headers.insert(reqwest::header::AUTHORIZATION, v);
        }
        b = b.default_headers(headers);
    } else if let Ok(id) = reqwest::Identity::from_pem(&pem) {
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
    let issued = Arc::new(AtomicU64::new(0));
    let latency_us = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let end = started + Duration::from_secs(seconds);
    let payload = "v".repeat(bytes);
    let mut took_us = rt.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..concurrency {
            let (client, url, ok, failed, issued, latency_us, payload, prefix) = (
                client.clone(),
                url.clone(),
                ok.clone(),
                failed.clone(),
                issued.clone(),
                latency_us.clone(),
                payload.clone(),
                prefix.clone(),
            );
            let limit = if create > 0 { create } else { requests };
            tasks.push(tokio::spawn(async move {
                let mut took_us: Vec<u32> = Vec::new();
                loop {
                    let n = issued.fetch_add(1, Ordering::Relaxed);
                    if (limit > 0 && n >= limit) || (limit == 0 && Instant::now() >= end) {
                        break;
                    }
                    let t = Instant::now();
                    let sent = if create > 0 {
                        let body = format!(
                            "{{\"metadata\":{{\"name\":\"{prefix}-{n:06}\"}},\"data\":{{\"k\":\"{payload}\"}}}}"
                        );
                        client
                            .post(&url)
                            .header("content-type", "application/json")
                            .body(body)
                            .send()
                            .await
                    } else {
                        client.get(&url).send().await
                    };
                    match sent {
                        Ok(r) if r.status().is_success() => {
                            let _ = r.bytes().await;
                            let us = t.elapsed().as_micros() as u64;
                            latency_us.fetch_add(us, Ordering::Relaxed);
                            took_us.push(u32::try_from(us).unwrap_or(u32::MAX));
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                took_us
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap_or_default());
        }
        all
    });
    let n = ok.load(Ordering::Relaxed);
    let took = started.elapsed().as_secs_f64();
    took_us.sort_unstable();
    let p99 = took_us
        .get((took_us.len() * 99 / 100).min(took_us.len().saturating_sub(1)))
        .copied()
        .unwrap_or(0);
    println!(
        "{{\"requests\":{n},\"errors\":{},\"seconds\":{took:.2},\"rps\":{:.0},\"latency_ms_mean\":{:.2},\"latency_ms_p99\":{:.2}}}",
        failed.load(Ordering::Relaxed),
        n as f64 / took,
        latency_us.load(Ordering::Relaxed) as f64 / 1000.0 / n.max(1) as f64,
        f64::from(p99) / 1000.0
    );
}
