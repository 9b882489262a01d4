//! One-shot signals that cross shards without locks.
//!
//! A [`Signal`] is fired once (by any thread) and awaited by any number of tasks on any shard.
//! The lifecycle of the server (shutdown initiated, stop accepting, drained, ...) is a set of
//! these; a shard learns a step by awaiting its signal. Waiting registers the task's waker in a
//! lock-free queue; firing sets a flag and wakes every registered waker.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use crossbeam::queue::SegQueue;

/// A named one-shot event that can be awaited from any shard.
#[derive(Debug)]
pub struct Signal {
    name: &'static str,
    fired: AtomicBool,
    waiters: SegQueue<Waker>,
}

impl Signal {
    /// A new, unfired signal.
    pub fn new(name: &'static str) -> Arc<Self> {
        Arc::new(Self {
            name,
            fired: AtomicBool::new(false),
            waiters: SegQueue::new(),
        })
    }

    /// The signal's name, for logs.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Fires the signal and wakes every waiter. Returns true the first time only.
    pub fn fire(&self) -> bool {
        let first = !self.fired.swap(true, Ordering::SeqCst);
        while let Some(w) = self.waiters.pop() {
            w.wake();
        }
        first
    }

    /// Whether the signal has fired.
    pub fn is_fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }

    /// A future that completes once the signal has fired.
    pub fn wait(self: &Arc<Self>) -> Wait {
        Wait {
            signal: Arc::clone(self),
            registered: None,
        }
    }
}

/// Completes when its [`Signal`] fires.
#[derive(Debug)]
pub struct Wait {
    signal: Arc<Signal>,
    registered: Option<Waker>,
}

impl Future for Wait {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.signal.is_fired() {
            return Poll::Ready(());
        }
        let fresh = match &self.registered {
            Some(w) => !w.will_wake(cx.waker()),
            None => true,
        };
        if fresh {
            self.signal.waiters.push(cx.waker().clone());
            self.registered = Some(cx.waker().clone());
        }
        // Re-check after registering: a fire that happened between the first check and the push
        // may have drained the queue before our waker was in it.
        if self.signal.is_fired() {
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::time::Duration;

    #[test]
    fn wakes_waiters_on_other_threads() {
        let s = Signal::new("test");
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let s = Arc::clone(&s);
                std::thread::spawn(move || futures_lite::future::block_on(s.wait()))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(20));
        assert!(s.fire());
        assert!(!s.fire(), "second fire reports it was already fired");
        for h in handles {
            h.join().expect("waiter thread");
        }
        assert!(s.is_fired());
    }

    #[test]
    fn already_fired_is_ready() {
        let s = Signal::new("test");
        s.fire();
        futures_lite::future::block_on(s.wait());
    }

    #[test]
    fn racing_fire_and_wait_never_hangs() {
        for _ in 0..2000 {
            let s = Signal::new("race");
            let s2 = Arc::clone(&s);
            let t = std::thread::spawn(move || {
                s2.fire();
            });
            futures_lite::future::block_on(s.wait());
            t.join().expect("firing thread");
        }
    }
}
