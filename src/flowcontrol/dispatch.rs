//! The seats of the priority levels, shared by every shard: the limits are the process's, not
//! a shard's, so a flood arriving on one shard queues behind the same seats as everywhere and
//! an exempt request is never held by any of them.
//!
//! A level's pool is its nominal concurrency limit. A seat is taken with one compare-and-swap
//! on the pool's use count, the same cost as the max-in-flight counters it replaces; nothing
//! is locked while seats are free and nobody waits. A level whose pool is full borrows from
//! levels with lendable seats to spare (at most their `lendablePercent`, never from a level
//! that has requests waiting, at most the borrower's `borrowingLimitPercent`), again through
//! their counters; upstream re-divides borrowed seats every 10 s instead, which a
//! thread-per-core server can do per request for the price of a few atomics.
//!
//! When neither works the request queues (or, for a `Reject` level, is refused): the flow's
//! hash deals a hand of `handSize` queues (shuffle sharding), the shortest gets it unless it
//! holds `queueLengthLimit` requests already. Queues are behind one lock per level, taken
//! only on this slow path. A released seat dispatches the waiting requests, taking the
//! level's non-empty queues in turn (round robin, so one flow cannot starve the others), and
//! hands each its seats over a one-shot channel: the request's own shard wakes up.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

/// What a priority level's configuration says, computed for this server's seats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LevelLimits {
    /// `Exempt`: never limited, never queued.
    pub exempt: bool,
    /// The nominal concurrency limit, in seats.
    pub nominal: u32,
    /// Seats it may lend to other levels.
    pub lendable: u32,
    /// Seats it may borrow from other levels (`u32::MAX`: no limit).
    pub borrowing_limit: u32,
    /// The queues; None: `limitResponse.type: Reject`.
    pub queuing: Option<Queuing>,
}

/// A limited level's queues (`limitResponse.queuing`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Queuing {
    /// How many queues.
    pub queues: u32,
    /// How many of them one flow's hand holds.
    pub hand_size: u32,
    /// How many requests one queue holds.
    pub queue_length_limit: u32,
}

/// Why a request was refused (upstream's `reason` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// Its queue was full.
    QueueFull,
    /// A `Reject` level had no seat.
    ConcurrencyLimit,
    /// It waited longer than the queue wait limit.
    TimeOut,
}

impl Rejection {
    /// The label value.
    pub fn reason(self) -> &'static str {
        match self {
            Self::QueueFull => "queue-full",
            Self::ConcurrencyLimit => "concurrency-limit",
            Self::TimeOut => "time-out",
        }
    }
}

/// Every priority level's state, by name, for the whole process.
#[derive(Debug)]
pub struct Dispatcher {
    /// `--max-requests-inflight` + `--max-mutating-requests-inflight`.
    server_limit: u32,
    levels: RwLock<Vec<Arc<Level>>>,
    /// Requests waiting in any queue: releases look for them only when this is not 0.
    waiting: AtomicUsize,
}

/// One priority level's seats and queues.
#[derive(Debug)]
pub struct Level {
    /// The PriorityLevelConfiguration's name.
    pub name: &'static str,
    exempt: AtomicBool,
    nominal: AtomicU32,
    lendable: AtomicU32,
    borrowing_limit: AtomicU32,
    /// Its queues' hand size (0: it does not queue).
    hand_size: AtomicU32,
    /// Seats of this level's pool in use: by its own requests and lent to others.
    used: AtomicU32,
    /// Of `used`, seats lent to other levels.
    lent: AtomicU32,
    /// Seats this level's requests hold from other levels' pools.
    borrowed: AtomicU32,
    /// Requests waiting in its queues.
    waiting: AtomicU32,
    queues: Mutex<QueueSet>,
    retry: Mutex<RetryAfter>,
}

/// upstream's per-level `Retry-After`: 1 s, doubled (up to 32) while the level rejects at
/// least three times as many requests per window as the window is long, one less while it
/// rejects fewer than that many.
#[derive(Debug)]
struct RetryAfter {
    seconds: u64,
    last_increase: u64,
    last_evaluated: u64,
    /// Rejections per second: (unix second, count), the last 64 seconds.
    per_second: VecDeque<(u64, u64)>,
}

impl RetryAfter {
    fn new() -> Self {
        Self {
            seconds: 1,
            last_increase: 0,
            last_evaluated: 0,
            per_second: VecDeque::new(),
        }
    }

    fn reject(&mut self, now: u64) -> u64 {
        if now != self.last_evaluated {
            self.last_evaluated = now;
            let from = now.saturating_sub(self.seconds);
            let count: u64 = self
                .per_second
                .iter()
                .filter(|(s, _)| *s >= from && *s < now)
                .map(|(_, c)| c)
                .sum();
            if now.saturating_sub(self.last_increase) >= self.seconds && count >= 3 * self.seconds {
                self.seconds = (self.seconds * 2).min(32);
                self.last_increase = now;
            } else if count < self.seconds && self.seconds > 1 {
                self.seconds -= 1;
            }
        }
        match self.per_second.back_mut() {
            Some((s, c)) if *s == now => *c += 1,
            _ => self.per_second.push_back((now, 1)),
        }
        while self.per_second.len() > 64 {
            self.per_second.pop_front();
        }
        self.seconds
    }
}

#[derive(Debug, Default)]
struct QueueSet {
    queuing: Option<Queuing>,
    queues: Vec<VecDeque<Waiter>>,
    /// The queue dispatch looks at first (round robin).
    next: usize,
    /// Identifies waiters, so one that times out can take itself out.
    serial: u64,
}

#[derive(Debug)]
struct Waiter {
    id: u64,
    width: u32,
    grant: oneshot::Sender<Ticket>,
}

/// Seats taken: from which pool, and for which level when borrowed.
#[derive(Debug)]
struct Grant {
    pool: Arc<Level>,
    width: u32,
    borrower: Option<Arc<Level>>,
}

impl Grant {
    /// Gives the seats back without dispatching (the caller dispatches).
    fn undo(&self) {
        self.pool.used.fetch_sub(self.width, Ordering::AcqRel);
        if let Some(b) = &self.borrower {
            self.pool.lent.fetch_sub(self.width, Ordering::AcqRel);
            b.borrowed.fetch_sub(self.width, Ordering::AcqRel);
        }
    }
}

/// A request's seats, given back (and waiting requests dispatched) when dropped.
#[derive(Debug)]
pub struct Ticket {
    dispatcher: &'static Dispatcher,
    grant: Option<Grant>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Some(g) = self.grant.take() {
            g.undo();
            if self.dispatcher.waiting.load(Ordering::Acquire) > 0 {
                self.dispatcher.dispatch_all(&g.pool);
            }
        }
    }
}

/// How a request got in.
#[derive(Debug)]
pub enum Admission {
    /// An exempt level: no seats.
    Exempt,
    /// Seats at once.
    Immediate(Ticket),
    /// Seats after waiting this long in a queue.
    Queued(Ticket, Duration),
}

impl Dispatcher {
    /// A dispatcher dividing `server_limit` seats; leaked, as it lives as long as the process
    /// and a seat then costs no reference count on it.
    pub fn new(server_limit: u32) -> &'static Self {
        Box::leak(Box::new(Self {
            server_limit: server_limit.max(1),
            levels: RwLock::new(Vec::new()),
            waiting: AtomicUsize::new(0),
        }))
    }

    /// The seats every level's nominal limit is a share of.
    pub fn server_limit(&self) -> u32 {
        self.server_limit
    }

    /// The level named `name`, created on first use; its limits set to `limits`.
    pub fn level(&self, name: &str, limits: &LevelLimits) -> Arc<Level> {
        let found = self
            .levels
            .read()
            .ok()
            .and_then(|l| l.iter().find(|x| x.name == name).cloned());
        let level = match found {
            Some(l) => l,
            None => {
                let Ok(mut all) = self.levels.write() else {
                    return Arc::new(Level::new(crate::api::intern::intern(name)));
                };
                match all.iter().find(|x| x.name == name) {
                    Some(l) => Arc::clone(l),
                    None => {
                        let l = Arc::new(Level::new(crate::api::intern::intern(name)));
                        all.push(Arc::clone(&l));
                        l
                    }
                }
            }
        };
        level.configure(limits);
        level
    }

    /// Every level known (metrics).
    pub fn levels(&self) -> Vec<Arc<Level>> {
        self.levels.read().map(|l| l.clone()).unwrap_or_default()
    }

    /// Seats for a request of `width` seats at `level`, of the flow hashed to `flow`: at
    /// once, after queuing until `give_up` completes (the queue wait limit), or refused.
    pub async fn enter(
        &'static self,
        level: &Arc<Level>,
        flow: u64,
        width: u32,
        give_up: impl std::future::Future<Output = ()>,
    ) -> Result<Admission, Rejection> {
        if level.exempt.load(Ordering::Relaxed) {
            return Ok(Admission::Exempt);
        }
        let width = width.clamp(1, level.nominal.load(Ordering::Relaxed).max(1));
        if level.waiting.load(Ordering::Acquire) == 0 {
            if let Some(g) = self.take(level, width) {
                return Ok(Admission::Immediate(self.ticket(g)));
            }
        }
        let started = Instant::now();
        let (id, rx) = {
            let Ok(mut qs) = level.queues.lock() else {
                return Err(Rejection::ConcurrencyLimit);
            };
            let Some(q) = qs.queuing else {
                return Err(Rejection::ConcurrencyLimit);
            };
            let Some(index) = qs.shortest_of_hand(flow, q) else {
                return Err(Rejection::ConcurrencyLimit);
            };
            if qs.queues[index].len() >= q.queue_length_limit as usize {
                return Err(Rejection::QueueFull);
            }
            let (tx, rx) = oneshot::channel();
            qs.serial += 1;
            let id = qs.serial;
            qs.queues[index].push_back(Waiter {
                id,
                width,
                grant: tx,
            });
            level.waiting.fetch_add(1, Ordering::AcqRel);
            self.waiting.fetch_add(1, Ordering::AcqRel);
            // A seat freed before this request was queued found no one waiting: look again.
            self.dispatch_locked(level, &mut qs);
            (id, rx)
        };
        // The seats travel as a Ticket: one granted just as the wait ended is given back when
        // the channel is dropped.
        let granted = futures_lite::future::or(async { rx.await.ok() }, async {
            give_up.await;
            None
        })
        .await;
        if let Some(t) = granted {
            return Ok(Admission::Queued(t, started.elapsed()));
        }
        // Timed out: leave the queue, unless dispatch got there first.
        if let Ok(mut qs) = level.queues.lock() {
            for q in qs.queues.iter_mut() {
                if let Some(pos) = q.iter().position(|w| w.id == id) {
                    q.remove(pos);
                    level.waiting.fetch_sub(1, Ordering::AcqRel);
                    self.waiting.fetch_sub(1, Ordering::AcqRel);
                    return Err(Rejection::TimeOut);
                }
            }
        }
        Err(Rejection::TimeOut)
    }

    fn ticket(&'static self, g: Grant) -> Ticket {
        Ticket {
            dispatcher: self,
            grant: Some(g),
        }
    }

    /// Seats from the level's own pool, else borrowed.
    fn take(&self, level: &Arc<Level>, width: u32) -> Option<Grant> {
        if level.take_own(width) {
            return Some(Grant {
                pool: Arc::clone(level),
                width,
                borrower: None,
            });
        }
        self.borrow(level, width)
    }

    fn borrow(&self, level: &Arc<Level>, width: u32) -> Option<Grant> {
        let limit = level.borrowing_limit.load(Ordering::Relaxed);
        if level.borrowed.fetch_add(width, Ordering::AcqRel) + width > limit {
            level.borrowed.fetch_sub(width, Ordering::AcqRel);
            return None;
        }
        let lenders = self.levels.read().ok()?;
        for lender in lenders.iter() {
            if Arc::ptr_eq(lender, level)
                || lender.exempt.load(Ordering::Relaxed)
                || lender.waiting.load(Ordering::Acquire) > 0
            {
                continue;
            }
            let lendable = lender.lendable.load(Ordering::Relaxed);
            if lender.lent.fetch_add(width, Ordering::AcqRel) + width > lendable {
                lender.lent.fetch_sub(width, Ordering::AcqRel);
                continue;
            }
            if lender.take_own(width) {
                return Some(Grant {
                    pool: Arc::clone(lender),
                    width,
                    borrower: Some(Arc::clone(level)),
                });
            }
            lender.lent.fetch_sub(width, Ordering::AcqRel);
        }
        level.borrowed.fetch_sub(width, Ordering::AcqRel);
        None
    }

    /// After seats of `pool` came free: its own waiting requests first, then any level's
    /// that may borrow them.
    fn dispatch_all(&'static self, pool: &Arc<Level>) {
        if pool.waiting.load(Ordering::Acquire) > 0 {
            if let Ok(mut qs) = pool.queues.lock() {
                self.dispatch_locked(pool, &mut qs);
            }
        }
        if self.waiting.load(Ordering::Acquire) == 0 {
            return;
        }
        let others: Vec<Arc<Level>> = match self.levels.read() {
            Ok(l) => l
                .iter()
                .filter(|l| !Arc::ptr_eq(l, pool) && l.waiting.load(Ordering::Acquire) > 0)
                .cloned()
                .collect(),
            Err(_) => return,
        };
        for level in others {
            if let Ok(mut qs) = level.queues.lock() {
                self.dispatch_locked(&level, &mut qs);
            }
        }
    }

    /// Hands seats to the level's waiting requests, queue after queue, while seats last.
    fn dispatch_locked(&'static self, level: &Arc<Level>, qs: &mut QueueSet) {
        let n = qs.queues.len();
        let mut idle = 0;
        while idle < n {
            let i = qs.next % n;
            let Some(width) = qs.queues[i].front().map(|w| w.width) else {
                qs.next = (i + 1) % n;
                idle += 1;
                continue;
            };
            let Some(grant) = self.take(level, width) else {
                return;
            };
            let Some(waiter) = qs.queues[i].pop_front() else {
                grant.undo();
                return;
            };
            level.waiting.fetch_sub(1, Ordering::AcqRel);
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            qs.next = (i + 1) % n;
            idle = 0;
            // A waiter that gave up (its request ended) gives the seats back at once (not
            // through the ticket's drop: this level's lock is held).
            if let Err(mut t) = waiter.grant.send(self.ticket(grant)) {
                if let Some(g) = t.grant.take() {
                    g.undo();
                }
            }
        }
    }
}

impl Level {
    fn new(name: &'static str) -> Self {
        Self {
            name,
            exempt: AtomicBool::new(false),
            nominal: AtomicU32::new(1),
            lendable: AtomicU32::new(0),
            borrowing_limit: AtomicU32::new(0),
            hand_size: AtomicU32::new(0),
            used: AtomicU32::new(0),
            lent: AtomicU32::new(0),
            borrowed: AtomicU32::new(0),
            waiting: AtomicU32::new(0),
            queues: Mutex::new(QueueSet::default()),
            retry: Mutex::new(RetryAfter::new()),
        }
    }

    /// Notes a rejection; the `Retry-After` seconds to answer it with.
    pub fn rejected(&self) -> u64 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.retry.lock().map_or(1, |mut r| r.reject(now))
    }

    fn configure(&self, l: &LevelLimits) {
        self.exempt.store(l.exempt, Ordering::Relaxed);
        self.nominal.store(l.nominal, Ordering::Relaxed);
        self.lendable.store(l.lendable, Ordering::Relaxed);
        self.borrowing_limit
            .store(l.borrowing_limit, Ordering::Relaxed);
        self.hand_size
            .store(l.queuing.map_or(0, |q| q.hand_size), Ordering::Relaxed);
        if let Ok(mut qs) = self.queues.lock() {
            if qs.queuing != l.queuing {
                qs.reshape(l.queuing);
            }
        }
    }

    fn take_own(&self, width: u32) -> bool {
        let nominal = self.nominal.load(Ordering::Relaxed);
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| {
                (u + width <= nominal).then_some(u + width)
            })
            .is_ok()
    }

    /// The most seats one of its requests takes.
    pub fn seat_cap(&self) -> u32 {
        let hand = self.hand_size.load(Ordering::Relaxed);
        super::width::level_cap(
            self.nominal.load(Ordering::Relaxed),
            (hand > 0).then_some(hand),
        )
    }

    /// Whether it is an exempt level.
    pub fn is_exempt(&self) -> bool {
        self.exempt.load(Ordering::Relaxed)
    }

    /// Its seats and waiting requests now, for metrics.
    pub fn gauges(&self) -> LevelGauges {
        LevelGauges {
            nominal: self.nominal.load(Ordering::Relaxed),
            lendable: self.lendable.load(Ordering::Relaxed),
            seats_in_use: self.used.load(Ordering::Relaxed) - self.lent.load(Ordering::Relaxed)
                + self.borrowed.load(Ordering::Relaxed),
            waiting: self.waiting.load(Ordering::Relaxed),
        }
    }
}

/// A level's numbers at a scrape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LevelGauges {
    /// Nominal concurrency limit.
    pub nominal: u32,
    /// Seats it may lend.
    pub lendable: u32,
    /// Seats its executing requests hold (own and borrowed).
    pub seats_in_use: u32,
    /// Requests in its queues.
    pub waiting: u32,
}

impl QueueSet {
    /// New queues for a changed configuration; requests already waiting keep their order in
    /// the first queues (none is lost).
    fn reshape(&mut self, queuing: Option<Queuing>) {
        let count = queuing.map_or(1, |q| q.queues.max(1) as usize);
        let old = std::mem::take(&mut self.queues);
        self.queues = (0..count).map(|_| VecDeque::new()).collect();
        for (i, w) in old.into_iter().flatten().enumerate() {
            self.queues[i % count].push_back(w);
        }
        self.queuing = queuing;
        self.next = 0;
    }

    /// Shuffle sharding: the hand the flow's hash deals, and of it the queue holding the
    /// fewest requests.
    fn shortest_of_hand(&self, flow: u64, q: Queuing) -> Option<usize> {
        let n = self.queues.len();
        if n == 0 {
            return None;
        }
        deal(flow, n, (q.hand_size as usize).clamp(1, n))
            .into_iter()
            .min_by_key(|&i| self.queues[i].len())
    }
}

/// `hand` distinct queue indexes out of `n`, from the bits of `hash` (each draw takes a
/// mixed-radix digit, so a hand of 8 out of 128 uses 56 bits: validation keeps hands within
/// what 64 bits can deal).
pub fn deal(mut hash: u64, n: usize, hand: usize) -> Vec<usize> {
    let mut chosen: Vec<usize> = Vec::with_capacity(hand);
    for i in 0..hand.min(n) {
        let radix = (n - i) as u64;
        let mut pick = (hash % radix) as usize;
        hash /= radix;
        // The pick-th index not chosen yet.
        let mut sorted = chosen.clone();
        sorted.sort_unstable();
        for c in sorted {
            if pick >= c {
                pick += 1;
            }
        }
        chosen.push(pick);
    }
    chosen
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn never() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> {
        Box::pin(futures_lite::future::pending())
    }

    fn limited(nominal: u32, lendable: u32, queues: u32, len: u32) -> LevelLimits {
        LevelLimits {
            exempt: false,
            nominal,
            lendable,
            borrowing_limit: u32::MAX,
            queuing: (queues > 0).then_some(Queuing {
                queues,
                hand_size: 1,
                queue_length_limit: len,
            }),
        }
    }

    #[test]
    fn retry_after_doubles_under_a_flood_and_steps_back() {
        let mut r = RetryAfter::new();
        assert_eq!(r.reject(100), 1);
        for _ in 0..10 {
            r.reject(100);
        }
        // 11 rejections in the last second (>= 3 x 1): doubled.
        assert_eq!(r.reject(101), 2);
        // A quiet spell: one less per evaluated second.
        assert_eq!(r.reject(110), 1);
    }

    #[test]
    fn a_hand_is_distinct_queues_within_range() {
        for hash in [0u64, 1, 7, u64::MAX, 0xdead_beef_1234_5678] {
            let hand = deal(hash, 64, 6);
            assert_eq!(hand.len(), 6);
            let mut sorted = hand.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), 6, "{hand:?}");
            assert!(hand.iter().all(|&i| i < 64));
        }
        assert_eq!(deal(5, 1, 1), vec![0]);
    }

    #[test]
    fn seats_queue_full_reject_and_dispatch_in_turn() {
        let d = Dispatcher::new(10);
        let lvl = d.level("work", &limited(1, 0, 1, 1));
        let block = futures_lite::future::block_on;
        let Ok(Admission::Immediate(first)) = block(d.enter(&lvl, 1, 1, never())) else {
            panic!("the first request gets the seat");
        };
        // The one queue holds one waiter: a second waiter is refused as queue-full.
        let waiting = std::thread::spawn(move || {
            let lvl = d.level("work", &limited(1, 0, 1, 1));
            matches!(
                futures_lite::future::block_on(d.enter(&lvl, 1, 1, never())),
                Ok(Admission::Queued(..))
            )
        });
        while lvl.gauges().waiting == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(
            block(d.enter(&lvl, 2, 1, never())).err(),
            Some(Rejection::QueueFull)
        );
        drop(first);
        assert!(waiting.join().unwrap(), "the waiter was dispatched");
        assert_eq!(lvl.gauges().seats_in_use, 0);

        let reject = d.level("reject", &limited(1, 0, 0, 0));
        let held = block(d.enter(&reject, 1, 1, never())).unwrap();
        assert_eq!(
            block(d.enter(&reject, 1, 1, never())).err(),
            Some(Rejection::ConcurrencyLimit)
        );
        drop(held);
    }

    #[test]
    fn a_full_level_borrows_lendable_seats_and_exempt_needs_none() {
        let d = Dispatcher::new(10);
        let lender = d.level("lender", &limited(4, 2, 1, 10));
        let borrower = d.level("borrower", &limited(1, 0, 0, 0));
        let block = futures_lite::future::block_on;
        let own = block(d.enter(&borrower, 1, 1, never())).unwrap();
        let b1 = block(d.enter(&borrower, 1, 1, never())).unwrap();
        let b2 = block(d.enter(&borrower, 1, 1, never())).unwrap();
        // Two lendable seats lent: the third borrow is refused (a Reject level).
        assert_eq!(
            block(d.enter(&borrower, 1, 1, never())).err(),
            Some(Rejection::ConcurrencyLimit)
        );
        assert_eq!(borrower.gauges().seats_in_use, 3);
        // The lender still has its own two seats.
        let l1 = block(d.enter(&lender, 9, 1, never())).unwrap();
        let l2 = block(d.enter(&lender, 9, 1, never())).unwrap();
        assert!(matches!(
            block(d.enter(&lender, 9, 1, Box::pin(async {}))),
            Err(Rejection::TimeOut)
        ));
        drop((own, b1, b2, l1, l2));
        assert_eq!(lender.gauges().seats_in_use, 0);
        assert_eq!(lender.gauges().waiting, 0);
        let exempt = d.level(
            "exempt",
            &LevelLimits {
                exempt: true,
                ..limited(0, 0, 0, 0)
            },
        );
        assert!(matches!(
            block(d.enter(&exempt, 1, 1, never())),
            Ok(Admission::Exempt)
        ));
    }
}
