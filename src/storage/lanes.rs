//! Event lanes: the storage thread's one upstream watch, fanned out to every shard.
//!
//! One lane per shard: a bounded lock-free queue (crossbeam `ArrayQueue`) written only by the
//! storage thread and read only by that shard, plus an `AtomicWaker` so the shard's consumer
//! task sleeps until something arrives. Batches are `Arc`-shared: every shard gets the same
//! bytes, never a copy. When a lane is full the storage thread never blocks: it marks the lane
//! overflowed, and the shard's next read says `Resync` so it re-reads the current state.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use crossbeam::queue::ArrayQueue;
use futures_util::task::AtomicWaker;

use super::cache::object::CachedEvent;
use super::kv::Revision;

/// All events of one revision, shared by every shard.
#[derive(Debug)]
pub struct EventBatch {
    /// The revision every event in the batch belongs to.
    pub revision: Revision,
    /// The events, in the order the backend reported them, decorated once for every shard.
    pub events: Vec<Arc<CachedEvent>>,
}

/// What a shard reads from its lane.
#[derive(Clone, Debug)]
pub enum LaneItem {
    /// The next batch, in revision order.
    Batch(Arc<EventBatch>),
    /// Nothing is pending up to this revision (lets idle watchers advance).
    Progress(Revision),
    /// Events were lost (lane overflow or upstream watch restart): re-read current state.
    Resync,
}

/// The shared part of one lane.
#[derive(Debug)]
struct Lane {
    queue: ArrayQueue<LaneItem>,
    waker: AtomicWaker,
    overflowed: AtomicBool,
    overflows: AtomicU64,
}

/// The storage thread's end of every lane.
#[derive(Clone, Debug)]
pub struct LaneSenders {
    lanes: Arc<[Arc<Lane>]>,
}

/// One shard's end of its lane.
#[derive(Debug)]
pub struct LaneReceiver {
    lane: Arc<Lane>,
}

/// Creates `shards` lanes of `capacity` items each.
pub fn lanes(shards: usize, capacity: usize) -> (LaneSenders, Vec<LaneReceiver>) {
    let lanes: Vec<Arc<Lane>> = (0..shards)
        .map(|_| {
            Arc::new(Lane {
                queue: ArrayQueue::new(capacity.max(1)),
                waker: AtomicWaker::new(),
                overflowed: AtomicBool::new(false),
                overflows: AtomicU64::new(0),
            })
        })
        .collect();
    let receivers = lanes
        .iter()
        .map(|l| LaneReceiver {
            lane: Arc::clone(l),
        })
        .collect();
    (
        LaneSenders {
            lanes: lanes.into(),
        },
        receivers,
    )
}

impl LaneSenders {
    /// Offers `item` to every lane; a full lane is marked overflowed instead of waiting.
    pub fn broadcast(&self, item: &LaneItem) {
        for lane in self.lanes.iter() {
            if !lane.overflowed.load(Ordering::Acquire) && lane.queue.push(item.clone()).is_err() {
                lane.overflowed.store(true, Ordering::Release);
                lane.overflows.fetch_add(1, Ordering::Relaxed);
            }
            lane.waker.wake();
        }
    }

    /// Tells every shard to resynchronise (e.g. the upstream watch had to restart).
    pub fn resync_all(&self) {
        for lane in self.lanes.iter() {
            lane.overflowed.store(true, Ordering::Release);
            lane.waker.wake();
        }
    }

    /// How many items wait in each lane now.
    pub fn depths(&self) -> Vec<usize> {
        self.lanes.iter().map(|l| l.queue.len()).collect()
    }

    /// How many times each lane overflowed.
    pub fn overflow_counts(&self) -> Vec<u64> {
        self.lanes
            .iter()
            .map(|l| l.overflows.load(Ordering::Relaxed))
            .collect()
    }
}

impl LaneReceiver {
    /// The next item; waits without blocking the shard.
    pub fn recv(&mut self) -> Recv<'_> {
        Recv { rx: self }
    }

    fn try_next(&self) -> Option<LaneItem> {
        if self.lane.overflowed.swap(false, Ordering::AcqRel) {
            // What is queued is older than the state the shard is about to re-read.
            while self.lane.queue.pop().is_some() {}
            return Some(LaneItem::Resync);
        }
        self.lane.queue.pop()
    }
}

/// Completes with the lane's next item.
#[derive(Debug)]
pub struct Recv<'a> {
    rx: &'a mut LaneReceiver,
}

impl Future for Recv<'_> {
    type Output = LaneItem;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<LaneItem> {
        if let Some(item) = self.rx.try_next() {
            return Poll::Ready(item);
        }
        self.rx.lane.waker.register(cx.waker());
        // Re-check: an item pushed before the registration would otherwise be missed.
        match self.rx.try_next() {
            Some(item) => Poll::Ready(item),
            None => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn rev(item: &LaneItem) -> Option<Revision> {
        match item {
            LaneItem::Batch(b) => Some(b.revision),
            LaneItem::Progress(r) => Some(-*r),
            LaneItem::Resync => None,
        }
    }

    fn batch(rev: Revision) -> LaneItem {
        LaneItem::Batch(Arc::new(EventBatch {
            revision: rev,
            events: Vec::new(),
        }))
    }

    #[test]
    fn every_shard_gets_the_same_batch_in_order() {
        let (tx, mut rxs) = lanes(3, 8);
        for r in 1..=5 {
            tx.broadcast(&batch(r));
        }
        for rx in rxs.iter_mut() {
            for r in 1..=5 {
                let item = futures_lite::future::block_on(rx.recv());
                assert_eq!(super::tests::rev(&item), Some(r));
            }
        }
    }

    #[test]
    fn a_full_lane_overflows_to_resync_without_blocking() {
        let (tx, mut rxs) = lanes(1, 2);
        for r in 1..=10 {
            tx.broadcast(&batch(r));
        }
        assert_eq!(tx.overflow_counts(), vec![1]);
        let rx = &mut rxs[0];
        assert_eq!(rev(&futures_lite::future::block_on(rx.recv())), None);
        tx.broadcast(&batch(11));
        assert_eq!(rev(&futures_lite::future::block_on(rx.recv())), Some(11));
    }

    #[test]
    fn wakes_a_waiting_receiver_on_another_thread() {
        let (tx, mut rxs) = lanes(1, 4);
        let mut rx = rxs.pop().unwrap();
        let t = std::thread::spawn(move || futures_lite::future::block_on(rx.recv()));
        std::thread::sleep(std::time::Duration::from_millis(20));
        tx.broadcast(&LaneItem::Progress(7));
        assert_eq!(rev(&t.join().unwrap()), Some(-7));
    }
}
