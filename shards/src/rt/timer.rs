//! hyper's timer on a shard, backed by glommio's io_uring timers.
//!
//! Without a timer hyper silently drops its header-read timeout, and an idle client could keep
//! a connection open for ever (slowloris). hyper asks for `Send + Sync` sleeps; glommio's are
//! neither, because they belong to one executor. See the SAFETY note on [`ShardSleep`].

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use glommio::timer::Timer;

/// A hyper timer whose sleeps run on the shard that creates them.
#[derive(Clone, Copy, Debug, Default)]
pub struct ShardTimer;

impl hyper::rt::Timer for ShardTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(ShardSleep(Timer::new(duration)))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        let now = Instant::now();
        Box::pin(ShardSleep(Timer::new(
            deadline.saturating_duration_since(now),
        )))
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<ShardSleep>() {
            Some(mut s) => {
                let d = new_deadline.saturating_duration_since(Instant::now());
                s.as_mut().0.reset(d);
            }
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

/// A glommio timer that hyper can hold.
struct ShardSleep(Timer);

// SAFETY: hyper requires `Send + Sync` of its sleeps only because its executor bounds are
// generic. Every connection, and so every sleep hyper creates for it, is created, polled and
// dropped on one shard: connection tasks are spawned with `spawn_local` and never move between
// threads (glommio's local tasks cannot). Nothing sends a `ShardSleep` to another thread.
#[allow(unsafe_code)]
unsafe impl Send for ShardSleep {}
// SAFETY: as above; no `&ShardSleep` is ever shared with another thread.
#[allow(unsafe_code)]
unsafe impl Sync for ShardSleep {}

impl Future for ShardSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx).map(|_| ())
    }
}

impl hyper::rt::Sleep for ShardSleep {}
