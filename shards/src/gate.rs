//! Shard-local counters of work in flight, with a way to wait until none is left.
//!
//! The server counts its connections with one, and the handler chain counts its in-flight
//! (non-long-running) requests with another, so that a drain can wait for exactly the work
//! it must let finish. Shard-local: `Rc`, `Cell`, no atomics.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// Counts guards alive on one shard; `idle()` waits for the count to reach zero.
#[derive(Clone, Debug, Default)]
pub struct Gate(Rc<GateInner>);

#[derive(Debug, Default)]
struct GateInner {
    count: Cell<usize>,
    waiters: RefCell<Vec<Waker>>,
}

impl Gate {
    /// A gate with nothing in flight.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one unit of work until the guard is dropped.
    pub fn enter(&self) -> GateGuard {
        self.0.count.set(self.0.count.get() + 1);
        GateGuard(Rc::clone(&self.0))
    }

    /// How many guards are alive.
    pub fn count(&self) -> usize {
        self.0.count.get()
    }

    /// Completes when no guard is alive.
    pub fn idle(&self) -> Idle {
        Idle(Rc::clone(&self.0))
    }
}

/// Holds one count on a [`Gate`].
#[derive(Debug)]
pub struct GateGuard(Rc<GateInner>);

impl Drop for GateGuard {
    fn drop(&mut self) {
        let n = self.0.count.get().saturating_sub(1);
        self.0.count.set(n);
        if n == 0 {
            for w in self.0.waiters.borrow_mut().drain(..) {
                w.wake();
            }
        }
    }
}

/// Completes when its gate has nothing in flight.
#[derive(Debug)]
pub struct Idle(Rc<GateInner>);

impl Future for Idle {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0.count.get() == 0 {
            return Poll::Ready(());
        }
        let mut waiters = self.0.waiters.borrow_mut();
        if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
            waiters.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn idle_waits_for_every_guard() {
        let gate = Gate::new();
        let a = gate.enter();
        let b = gate.enter();
        assert_eq!(gate.count(), 2);
        let mut idle = Box::pin(gate.idle());
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        assert!(idle.as_mut().poll(&mut cx).is_pending());
        drop(a);
        assert!(idle.as_mut().poll(&mut cx).is_pending());
        drop(b);
        assert!(idle.as_mut().poll(&mut cx).is_ready());
    }
}
