//! Fixed-bucket histograms with upstream's bucket bounds; one per series, owned by the thread
//! that records it and merged into the scrape's copy.

/// `apiserver_request_duration_seconds`' upper bounds (seconds), upstream's list.
pub const REQUEST_DURATION: &[f64] = &[
    0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0,
    10.0, 15.0, 20.0, 30.0, 45.0, 60.0,
];

/// `apiserver_response_sizes`' upper bounds (bytes): 1 kB to 1 GB by powers of ten.
/// `apiserver_admission_step_duration_seconds` and `_controller_admission_duration_seconds`.
pub const ADMISSION_DURATION: &[f64] = &[0.005, 0.025, 0.1, 0.5, 1.0, 2.5];
/// `apiserver_admission_webhook_admission_duration_seconds`' buckets (upstream's).
pub const WEBHOOK_DURATION: &[f64] = &[0.005, 0.025, 0.1, 0.5, 1.0, 2.5, 10.0, 25.0];

/// `apiserver_flowcontrol_request_wait_duration_seconds`.
pub const FLOWCONTROL_WAIT: &[f64] = &[
    0.0, 0.005, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0,
];

/// `apiserver_response_sizes`.
pub const RESPONSE_SIZES: &[f64] = &[1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

/// `apiserver_watch_events_sizes`' upper bounds (bytes): 1 KiB to 128 KiB by doubling.
pub const WATCH_EVENT_SIZES: &[f64] = &[
    1024.0, 2048.0, 4096.0, 8192.0, 16384.0, 32768.0, 65536.0, 131072.0,
];

/// `authentication_duration_seconds`' and `authorization_duration_seconds`' upper bounds:
/// 1 ms doubling fifteen times.
pub const AUTH_DURATION: &[f64] = &[
    0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096,
    8.192, 16.384,
];

/// Observations counted per bucket (not cumulative; the exposition sums them), plus their sum.
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    bounds: &'static [f64],
    /// One count per bound, then the `+Inf` bucket.
    counts: Box<[u64]>,
    sum: f64,
}

impl Histogram {
    /// An empty histogram over `bounds` (ascending).
    pub fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: vec![0; bounds.len() + 1].into_boxed_slice(),
            sum: 0.0,
        }
    }

    /// A histogram of counts recorded elsewhere (per bucket, not cumulative, then `+Inf`).
    pub fn from_counts(bounds: &'static [f64], counts: &[u64], sum: f64) -> Self {
        let mut h = Self::new(bounds);
        for (a, b) in h.counts.iter_mut().zip(counts) {
            *a = *b;
        }
        h.sum = sum;
        h
    }

    /// Counts `v` in the first bucket whose bound is at least `v` (Prometheus' `le`).
    pub fn observe(&mut self, v: f64) {
        let at = self.bounds.partition_point(|b| *b < v);
        if let Some(c) = self.counts.get_mut(at) {
            *c += 1;
        }
        self.sum += v;
    }

    /// Adds another histogram's counts (same bounds) to this one.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
        self.sum += other.sum;
    }

    /// The upper bounds.
    pub fn bounds(&self) -> &'static [f64] {
        self.bounds
    }

    /// Cumulative counts, one per bound then `+Inf`, as the exposition writes them.
    pub fn cumulative(&self) -> impl Iterator<Item = u64> + '_ {
        self.counts.iter().scan(0u64, |acc, c| {
            *acc += c;
            Some(*acc)
        })
    }

    /// How many observations.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Their sum.
    pub fn sum(&self) -> f64 {
        self.sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_inclusive_upper_bounds() {
        let mut h = Histogram::new(&[1.0, 2.0]);
        for v in [0.5, 1.0, 1.5, 2.0, 3.0] {
            h.observe(v);
        }
        assert_eq!(h.cumulative().collect::<Vec<_>>(), vec![2, 4, 5]);
        assert_eq!(h.count(), 5);
        assert!((h.sum() - 8.0).abs() < 1e-9);
        let mut m = Histogram::new(&[1.0, 2.0]);
        m.merge(&h);
        m.merge(&h);
        assert_eq!(m.cumulative().collect::<Vec<_>>(), vec![4, 8, 10]);
    }

    #[test]
    fn upstream_bucket_counts() {
        assert_eq!(REQUEST_DURATION.len(), 23);
        assert_eq!(RESPONSE_SIZES.len(), 7);
        assert_eq!(WATCH_EVENT_SIZES.len(), 8);
        assert_eq!(AUTH_DURATION.len(), 15);
    }
}
