//! Shared test harness: the real kubeshard binary, a real etcd.
#![allow(dead_code, unreachable_pub)]

pub mod etcd;
pub mod server;
