//! Generic server flags.

use std::time::Duration;

use tuning::parse_duration;

/// kube-apiserver's generic flags that kubeshard implements.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Generic flags")]
pub struct GenericOptions {
    /// An optional field indicating the duration a handler must keep a request open before
    /// timing it out. This is the default request timeout for requests but may be overridden
    /// by flags such as --min-request-timeout for specific types of requests.
    #[arg(long = "request-timeout", value_name = "duration", default_value = "1m0s", value_parser = parse_duration)]
    pub request_timeout: Duration,
    /// This and --max-mutating-requests-inflight are summed to determine the server's total
    /// concurrency limit (which must be positive) if --enable-priority-and-fairness is true.
    /// Otherwise, this flag limits the maximum number of non-mutating requests in flight, or a
    /// zero value disables the limit completely.
    #[arg(
        long = "max-requests-inflight",
        value_name = "int",
        default_value_t = 400,
        allow_negative_numbers = true
    )]
    pub max_requests_inflight: i64,
    /// This and --max-requests-inflight are summed to determine the server's total concurrency
    /// limit (which must be positive) if --enable-priority-and-fairness is true. Otherwise,
    /// this flag limits the maximum number of mutating requests in flight, or a zero value
    /// disables the limit completely.
    #[arg(
        long = "max-mutating-requests-inflight",
        value_name = "int",
        default_value_t = 200,
        allow_negative_numbers = true
    )]
    pub max_mutating_requests_inflight: i64,
    /// If true, replace the max-in-flight handler with an enhanced one that queues and
    /// dispatches with priority and fairness.
    #[arg(long = "enable-priority-and-fairness", value_name = "bool", default_value_t = true, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub enable_priority_and_fairness: bool,
    /// An optional field indicating the minimum number of seconds a handler must keep a
    /// request open before timing it out. Currently only honored by the watch request
    /// handler, which picks a randomized value above this number as the connection timeout,
    /// to spread out load.
    #[arg(
        long = "min-request-timeout",
        value_name = "int",
        default_value_t = 1800,
        allow_negative_numbers = true
    )]
    pub min_request_timeout: i64,
    /// To prevent HTTP/2 clients from getting stuck on a single apiserver, randomly close a
    /// connection (GOAWAY). The client's other in-flight requests won't be affected, and the
    /// client will reconnect, likely landing on a different apiserver after going through the
    /// load balancer again. This argument sets the fraction of requests that will be sent a
    /// GOAWAY. Clusters with single apiservers, or which don't use a load balancer, should NOT
    /// enable this. Min is 0 (off), Max is .02 (1/50 requests); .001 (1/1000) is a recommended
    /// starting point.
    #[arg(
        long = "goaway-chance",
        value_name = "float",
        default_value_t = 0.0,
        allow_negative_numbers = true
    )]
    pub goaway_chance: f64,
    /// Time to delay the termination. During that time the server keeps serving requests
    /// normally. The endpoints /healthz and /livez will return success, but /readyz
    /// immediately returns failure. Graceful termination starts after this delay has elapsed.
    #[arg(long = "shutdown-delay-duration", value_name = "duration", default_value = "0s", value_parser = parse_duration)]
    pub shutdown_delay_duration: Duration,
    /// If true the HTTP Server will continue listening until all non long running request(s)
    /// in flight have been drained, during this window all incoming requests will be rejected
    /// with a status code 429 and a 'Retry-After' response header.
    #[arg(long = "shutdown-send-retry-after", value_name = "bool", default_value_t = false, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub shutdown_send_retry_after: bool,
    /// The IP address on which to advertise the apiserver to members of the cluster (the
    /// `kubernetes` Service's endpoints). It must be reachable by the rest of the cluster. If
    /// blank, the --bind-address will be used; if that is unspecified (0.0.0.0 or ::), the
    /// host's default interface's address.
    #[arg(long = "advertise-address", value_name = "ip")]
    pub advertise_address: Option<std::net::IpAddr>,
    /// A CIDR from which Service cluster IPs are allocated (IPv4). The first address is the
    /// `kubernetes` Service's.
    #[arg(
        long = "service-cluster-ip-range",
        value_name = "string",
        default_value = "10.0.0.0/24"
    )]
    pub service_cluster_ip_range: String,
    /// A port range to reserve for Services with NodePort visibility (`30000-32767` or
    /// `30000+2767`).
    #[arg(
        long = "service-node-port-range",
        value_name = "portRange",
        default_value = "30000-32767"
    )]
    pub service_node_port_range: String,
}

impl GenericOptions {
    /// Problems with these flags.
    pub fn validate(&self) -> Vec<String> {
        let mut errs = Vec::new();
        if self.request_timeout.is_zero() {
            errs.push("--request-timeout must be greater than 0".to_string());
        }
        if self.max_requests_inflight < 0 {
            errs.push("--max-requests-inflight can not be negative value".to_string());
        }
        if self.max_mutating_requests_inflight < 0 {
            errs.push("--max-mutating-requests-inflight can not be negative value".to_string());
        }
        let total = self.max_requests_inflight + self.max_mutating_requests_inflight;
        if self.enable_priority_and_fairness && total <= 0 {
            errs.push(format!(
                "--max-requests-inflight={} and --max-mutating-requests-inflight={} yield a server concurrency limit of {total}, which must be positive when --enable-priority-and-fairness is true",
                self.max_requests_inflight, self.max_mutating_requests_inflight
            ));
        }
        if !(0.0..=0.02).contains(&self.goaway_chance) {
            errs.push("--goaway-chance can not be less than 0 or greater than 0.02".to_string());
        }
        if self.min_request_timeout < 0 {
            errs.push("--min-request-timeout can not be negative value".to_string());
        }
        if let Err(e) = crate::registry::kinds::service::allocator::IpRange::parse(
            &self.service_cluster_ip_range,
        ) {
            errs.push(format!("--service-cluster-ip-range: {e}"));
        }
        if let Err(e) = crate::registry::kinds::service::allocator::PortRange::parse(
            &self.service_node_port_range,
        ) {
            errs.push(format!("--service-node-port-range: {e}"));
        }
        errs
    }
}
