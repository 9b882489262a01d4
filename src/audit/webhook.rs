//! The webhook backend (`--audit-webhook-config-file`): events in batches of at most
//! `--audit-webhook-batch-max-size`, sent at least every `--audit-webhook-batch-max-wait`,
//! POSTed as an `audit.k8s.io/v1` EventList to the HTTPS endpoint a kubeconfig-format file
//! names (its CA, client certificate or token), by one `audit-webhook` thread. A batch the
//! endpoint does not accept is retried with backoff from `--audit-webhook-initial-backoff`,
//! then dropped and counted in `apiserver_audit_error_total{plugin="webhook"}`.

use std::time::{Duration, Instant};

use crossbeam::channel::{Receiver, RecvTimeoutError, Sender};

use super::log::{chunks, BackendThread};
use super::AuditCounters;
use crate::webhook::WebhookTarget;

/// Attempts per batch before it is dropped.
const ATTEMPTS: u32 = 3;

/// The webhook backend's settings.
#[derive(Clone, Debug)]
pub struct WebhookSettings {
    /// Where to send.
    pub target: WebhookTarget,
    /// Events the buffer to the thread holds.
    pub buffer: usize,
    /// How events are batched and retried.
    pub batching: Batching,
}

/// How the webhook backend batches and retries.
#[derive(Clone, Copy, Debug)]
pub struct Batching {
    /// Events per EventList at most.
    pub max_batch: usize,
    /// How long events wait for a full batch at most.
    pub max_wait: Duration,
    /// The first retry's wait (doubling after).
    pub initial_backoff: Duration,
}

/// The webhook backend: starts the `audit-webhook` thread.
pub fn start_webhook(
    settings: WebhookSettings,
    counters: std::sync::Arc<AuditCounters>,
) -> Result<(BackendThread, Sender<Vec<u8>>), String> {
    let client = settings.target.http_client()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    BackendThread::spawn("audit-webhook", settings.buffer, move |rx| {
        let send = |list: String| rt.block_on(settings.target.post(&client, list));
        send_loop(&rx, settings.batching, &counters, send);
    })
}

fn send_loop(
    rx: &Receiver<Vec<u8>>,
    settings: Batching,
    counters: &AuditCounters,
    send: impl Fn(String) -> Result<(), String>,
) {
    let max = settings.max_batch.max(1);
    let mut open = true;
    while open {
        let Ok(first) = rx.recv() else { return };
        if first.is_empty() {
            return;
        }
        let mut lines = first;
        let deadline = Instant::now() + settings.max_wait;
        while memchr::memchr_iter(b'\n', &lines).count() < max {
            match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                // An empty batch is the end: send what came before it.
                Ok(more) if more.is_empty() => {
                    open = false;
                    break;
                }
                Ok(more) => lines.extend_from_slice(&more),
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => {
                    open = false;
                    break;
                }
            }
        }
        for run in chunks(&lines, max) {
            let n = memchr::memchr_iter(b'\n', run).count() as u64;
            let list = event_list(run);
            let mut wait = settings.initial_backoff;
            let mut last = Ok(());
            for attempt in 0..ATTEMPTS {
                if attempt > 0 {
                    std::thread::sleep(wait);
                    wait *= 2;
                }
                last = send(list.clone());
                if last.is_ok() {
                    break;
                }
            }
            if let Err(e) = last {
                counters
                    .webhook_errors
                    .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
                log::error!("audit webhook: {n} events dropped: {e}");
            }
        }
    }
}

/// An EventList of the JSON lines in `run`.
fn event_list(run: &[u8]) -> String {
    let mut out = String::with_capacity(run.len() + 96);
    out.push_str(
        "{\"kind\":\"EventList\",\"apiVersion\":\"audit.k8s.io/v1\",\"metadata\":{},\"items\":[",
    );
    let mut first = true;
    for line in run.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(&String::from_utf8_lossy(line));
    }
    out.push_str("]}");
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::cell::RefCell;

    use super::*;

    #[test]
    fn batches_become_event_lists_and_failures_are_counted() {
        let list = event_list(b"{\"a\":1}\n{\"b\":2}\n");
        let v: serde_json::Value = serde_json::from_str(&list).unwrap();
        assert_eq!(v["kind"], "EventList");
        assert_eq!(v["items"], serde_json::json!([{"a": 1}, {"b": 2}]));

        let (tx, rx) = crossbeam::channel::bounded(8);
        tx.send(b"{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n".to_vec())
            .unwrap();
        drop(tx);
        let settings = Batching {
            max_batch: 2,
            max_wait: Duration::from_millis(10),
            initial_backoff: Duration::from_millis(1),
        };
        let counters = AuditCounters::default();
        let sent = RefCell::new(Vec::new());
        send_loop(&rx, settings, &counters, |list| {
            sent.borrow_mut().push(list);
            if sent.borrow().len() <= 3 {
                Err("refused".into())
            } else {
                Ok(())
            }
        });
        // The first list (2 events) failed three times and was dropped; the second got in.
        let sent = sent.into_inner();
        assert_eq!(sent.len(), 4);
        assert!(sent[3].contains("{\"n\":3}"));
        assert_eq!(
            counters
                .webhook_errors
                .load(std::sync::atomic::Ordering::Relaxed),
            2
        );
    }
}
