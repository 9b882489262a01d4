//! Metrics under kube-apiserver's names, labels and buckets, recorded shard-locally and
//! merged when `/metrics` is scraped.
//!
//! - [`labels`]: `apiserver_request_*`'s labels as upstream derives them from a request.
//! - [`families`]: the families one thread records (requests, long-running requests,
//!   terminations, authentication, authorization, watch events) and how they are written.
//! - [`recorder`]: each thread's families behind a lock only a scrape contends for.
//! - [`histogram`]: fixed-bucket histograms with upstream's bounds.
//! - [`exposition`]: Prometheus text and OpenMetrics.
//! - [`process`]: `process_*` from `/proc/self`.

pub mod exposition;
pub mod families;
pub mod histogram;
pub mod labels;
pub mod process;
pub mod recorder;

pub use families::{AuthnResult, AuthzResult, Families};
pub use labels::RequestLabels;
pub use recorder::{count_answer, record, set_shard};
