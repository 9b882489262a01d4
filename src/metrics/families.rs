//! The metric families one thread records, and how a scrape merges and writes them.

use std::collections::BTreeMap;
use std::time::Duration;

use super::exposition::{Exposition, Kind, Stability};
use super::histogram::{self, Histogram};
use super::labels::RequestLabels;

type Map<K, V> = foldhash::HashMap<K, V>;

/// `authentication_attempts`' results.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthnResult {
    /// A user was found (anonymous included).
    Success,
    /// The credential was refused (a 401).
    Failure,
    /// An authenticator could not decide.
    Error,
}

impl AuthnResult {
    const ALL: [AuthnResult; 3] = [Self::Success, Self::Failure, Self::Error];

    fn label(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Error => "error",
        }
    }
}

/// `authorization_attempts_total`' results.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthzResult {
    /// Allowed.
    Allowed,
    /// Denied by a mode.
    Denied,
    /// No mode had an opinion (also a 403).
    NoOpinion,
    /// A mode failed to decide.
    Error,
}

impl AuthzResult {
    const ALL: [AuthzResult; 4] = [Self::Allowed, Self::Denied, Self::NoOpinion, Self::Error];

    fn label(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Denied => "denied",
            Self::NoOpinion => "no-opinion",
            Self::Error => "error",
        }
    }
}

/// One request series: its responses by code, durations and (for reads) sizes.
#[derive(Clone, Debug)]
struct RequestStats {
    codes: Vec<(u16, u64)>,
    duration: Histogram,
    sizes: Option<Histogram>,
}

impl RequestStats {
    fn new() -> Self {
        Self {
            codes: Vec::new(),
            duration: Histogram::new(histogram::REQUEST_DURATION),
            sizes: None,
        }
    }

    fn merge(&mut self, other: &RequestStats) {
        for &(code, n) in &other.codes {
            add_code(&mut self.codes, code, n);
        }
        self.duration.merge(&other.duration);
        if let Some(o) = &other.sizes {
            self.sizes
                .get_or_insert_with(|| Histogram::new(histogram::RESPONSE_SIZES))
                .merge(o);
        }
    }
}

fn add_code(codes: &mut Vec<(u16, u64)>, code: u16, n: u64) {
    match codes.iter_mut().find(|(c, _)| *c == code) {
        Some((_, count)) => *count += n,
        None => codes.push((code, n)),
    }
}

/// Everything one thread has recorded since it started (counters never reset).
#[derive(Clone, Debug, Default)]
pub struct Families {
    requests: Map<RequestLabels, RequestStats>,
    long_running: Map<RequestLabels, i64>,
    terminations: Map<(RequestLabels, u16), u64>,
    authentication: Vec<(usize, Histogram)>,
    authorization: Vec<(usize, Histogram)>,
    authz_decisions: Map<(&'static str, &'static str, &'static str), u64>,
    watch_events: Map<(&'static str, &'static str, &'static str), Histogram>,
    watchers: Map<(&'static str, &'static str), i64>,
    audit_levels: Map<&'static str, u64>,
    flow: FlowFamilies,
    /// Admission phases: (type, operation, rejected).
    admission_steps: Map<(&'static str, &'static str, bool), Histogram>,
    /// Admission plugins: (name, type, operation, rejected).
    admission_plugins: Map<(&'static str, &'static str, &'static str, bool), Histogram>,
    /// Admission webhook calls: (name, type, operation, rejected).
    webhook_calls: Map<(&'static str, &'static str, &'static str, bool), Histogram>,
    /// ... and their answers: (name, type, operation, rejected, code).
    webhook_requests: Map<(&'static str, &'static str, &'static str, bool, u16), u64>,
    /// Refusals: (name, type, operation, error type, code).
    webhook_rejections: Map<(&'static str, &'static str, &'static str, &'static str, u16), u64>,
    /// Failures ignored by `failurePolicy: Ignore`: (name, type).
    webhook_fail_open: Map<(&'static str, &'static str), u64>,
}

/// One admission webhook call, as the webhook metrics count it.
#[derive(Clone, Copy, Debug)]
pub struct WebhookCall {
    /// The webhook's name.
    pub name: &'static str,
    /// `admit` or `validating`.
    pub kind: &'static str,
    /// `CREATE`, `UPDATE`, `DELETE`.
    pub operation: &'static str,
    /// The call refused the request (a refusal, or a failure that fails closed).
    pub rejected: bool,
    /// The HTTP code the call ended with (200; the refusal's or failure's code).
    pub code: u16,
    /// Why it was refused: `no_error` (the webhook said no), `calling_webhook_error`,
    /// `apiserver_internal_error`.
    pub error_type: Option<&'static str>,
    /// A failure ignored by `failurePolicy: Ignore`.
    pub failed_open: bool,
}

/// A priority level and a flow schema (upstream's APF label pair).
pub type FlowKey = (&'static str, &'static str);

/// API Priority and Fairness, per priority level and flow schema.
#[derive(Clone, Debug, Default)]
struct FlowFamilies {
    dispatched: Map<FlowKey, u64>,
    rejected: Map<(FlowKey, &'static str), u64>,
    /// Waits, by whether the request then executed.
    waits: Map<(FlowKey, bool), Histogram>,
    executing: Map<FlowKey, i64>,
    executing_seats: Map<FlowKey, i64>,
    in_queue: Map<FlowKey, i64>,
}

impl Families {
    /// A request finished: its code, how long it took, and for GET/LIST its response size.
    pub fn request(&mut self, labels: RequestLabels, code: u16, size: Option<u64>, took: Duration) {
        let s = self
            .requests
            .entry(labels)
            .or_insert_with(RequestStats::new);
        add_code(&mut s.codes, code, 1);
        s.duration.observe(took.as_secs_f64());
        if let (Some(size), "GET" | "LIST") = (size, labels.verb) {
            s.sizes
                .get_or_insert_with(|| Histogram::new(histogram::RESPONSE_SIZES))
                .observe(size as f64);
        }
    }

    /// A long-running request started (+1) or ended (-1).
    pub fn long_running(&mut self, labels: RequestLabels, delta: i64) {
        *self
            .long_running
            .entry(labels.without_dry_run())
            .or_default() += delta;
    }

    /// A request the audit policy gave `level`.
    pub fn audit_level(&mut self, level: &'static str) {
        *self.audit_levels.entry(level).or_default() += 1;
    }

    /// A watch of `kind` opened (+1) or closed (-1).
    pub fn watcher(&mut self, group: &'static str, kind: &'static str, delta: i64) {
        *self.watchers.entry((group, kind)).or_default() += delta;
    }

    /// A request the server ended in self-defense (429 from the in-flight limits, 504 from
    /// the timeout).
    pub fn termination(&mut self, labels: RequestLabels, code: u16) {
        *self
            .terminations
            .entry((labels.without_dry_run(), code))
            .or_default() += 1;
    }

    /// One authentication attempt.
    pub fn authentication(&mut self, result: AuthnResult, took: Duration) {
        observe_result(&mut self.authentication, result as usize, took);
    }

    /// One authorization attempt.
    pub fn authorization(&mut self, result: AuthzResult, took: Duration) {
        observe_result(&mut self.authorization, result as usize, took);
    }

    /// A terminal decision by one authorizer (`type`, `name`, `allowed`/`denied`).
    pub fn authorization_decision(
        &mut self,
        kind: &'static str,
        name: &'static str,
        decision: &'static str,
    ) {
        *self
            .authz_decisions
            .entry((kind, name, decision))
            .or_default() += 1;
    }

    /// One watch event sent, of `size` bytes.
    pub fn watch_event(
        &mut self,
        group: &'static str,
        version: &'static str,
        resource: &'static str,
        size: usize,
    ) {
        self.watch_events
            .entry((group, version, resource))
            .or_insert_with(|| Histogram::new(histogram::WATCH_EVENT_SIZES))
            .observe(size as f64);
    }

    /// A request of `key` started executing after waiting `waited` (None: exempt, no wait
    /// observed), holding `seats`.
    pub fn flow_dispatched(&mut self, key: FlowKey, waited: Option<Duration>, seats: u32) {
        let f = &mut self.flow;
        *f.dispatched.entry(key).or_default() += 1;
        *f.executing.entry(key).or_default() += 1;
        *f.executing_seats.entry(key).or_default() += i64::from(seats);
        if let Some(w) = waited {
            f.waits
                .entry((key, true))
                .or_insert_with(|| Histogram::new(histogram::FLOWCONTROL_WAIT))
                .observe(w.as_secs_f64());
        }
    }

    /// A request of `key` holding `seats` finished executing.
    pub fn flow_finished(&mut self, key: FlowKey, seats: u32) {
        *self.flow.executing.entry(key).or_default() -= 1;
        *self.flow.executing_seats.entry(key).or_default() -= i64::from(seats);
    }

    /// A request of `key` entered (+1) or left (-1) a queue.
    pub fn flow_queued(&mut self, key: FlowKey, delta: i64) {
        *self.flow.in_queue.entry(key).or_default() += delta;
    }

    /// A request of `key` refused for `reason` after waiting `waited` (upstream records a
    /// time-out's wait as executed).
    pub fn flow_rejected(&mut self, key: FlowKey, reason: &'static str, waited: Duration) {
        *self.flow.rejected.entry((key, reason)).or_default() += 1;
        self.flow
            .waits
            .entry((key, reason == "time-out"))
            .or_insert_with(|| Histogram::new(histogram::FLOWCONTROL_WAIT))
            .observe(waited.as_secs_f64());
    }

    /// An admission phase (`plugin` None) or one plugin's part of it took `took`.
    pub fn admission(
        &mut self,
        plugin: Option<&'static str>,
        phase: &'static str,
        operation: &'static str,
        rejected: bool,
        took: Duration,
    ) {
        let h = match plugin {
            None => self
                .admission_steps
                .entry((phase, operation, rejected))
                .or_insert_with(|| Histogram::new(histogram::ADMISSION_DURATION)),
            Some(name) => self
                .admission_plugins
                .entry((name, phase, operation, rejected))
                .or_insert_with(|| Histogram::new(histogram::ADMISSION_DURATION)),
        };
        h.observe(took.as_secs_f64());
    }

    /// An admission webhook was called (upstream's `apiserver_admission_webhook_*`).
    pub fn webhook(&mut self, c: WebhookCall, took: Duration) {
        self.webhook_calls
            .entry((c.name, c.kind, c.operation, c.rejected))
            .or_insert_with(|| Histogram::new(histogram::WEBHOOK_DURATION))
            .observe(took.as_secs_f64());
        *self
            .webhook_requests
            .entry((c.name, c.kind, c.operation, c.rejected, c.code))
            .or_default() += 1;
        if let Some(t) = c.error_type.filter(|_| c.rejected) {
            *self
                .webhook_rejections
                .entry((c.name, c.kind, c.operation, t, c.code))
                .or_default() += 1;
        }
        if c.failed_open {
            *self.webhook_fail_open.entry((c.name, c.kind)).or_default() += 1;
        }
    }

    /// Adds another thread's families to these.
    pub fn merge(&mut self, other: &Families) {
        for (k, v) in &other.requests {
            self.requests
                .entry(*k)
                .or_insert_with(RequestStats::new)
                .merge(v);
        }
        for (k, v) in &other.long_running {
            *self.long_running.entry(*k).or_default() += v;
        }
        for (k, v) in &other.audit_levels {
            *self.audit_levels.entry(k).or_default() += v;
        }
        for (k, v) in &other.watchers {
            *self.watchers.entry(*k).or_default() += v;
        }
        for (k, v) in &other.terminations {
            *self.terminations.entry(*k).or_default() += v;
        }
        for (i, h) in &other.authentication {
            merge_result(&mut self.authentication, *i, h);
        }
        for (i, h) in &other.authorization {
            merge_result(&mut self.authorization, *i, h);
        }
        for (k, h) in &other.admission_steps {
            match self.admission_steps.get_mut(k) {
                Some(mine) => mine.merge(h),
                None => {
                    self.admission_steps.insert(*k, h.clone());
                }
            }
        }
        for (k, h) in &other.admission_plugins {
            match self.admission_plugins.get_mut(k) {
                Some(mine) => mine.merge(h),
                None => {
                    self.admission_plugins.insert(*k, h.clone());
                }
            }
        }
        for (k, h) in &other.webhook_calls {
            match self.webhook_calls.get_mut(k) {
                Some(mine) => mine.merge(h),
                None => {
                    self.webhook_calls.insert(*k, h.clone());
                }
            }
        }
        for (k, v) in &other.webhook_requests {
            *self.webhook_requests.entry(*k).or_default() += v;
        }
        for (k, v) in &other.webhook_rejections {
            *self.webhook_rejections.entry(*k).or_default() += v;
        }
        for (k, v) in &other.webhook_fail_open {
            *self.webhook_fail_open.entry(*k).or_default() += v;
        }
        let (f, o) = (&mut self.flow, &other.flow);
        for (k, v) in &o.dispatched {
            *f.dispatched.entry(*k).or_default() += v;
        }
        for (k, v) in &o.rejected {
            *f.rejected.entry(*k).or_default() += v;
        }
        for (k, v) in &o.executing {
            *f.executing.entry(*k).or_default() += v;
        }
        for (k, v) in &o.executing_seats {
            *f.executing_seats.entry(*k).or_default() += v;
        }
        for (k, v) in &o.in_queue {
            *f.in_queue.entry(*k).or_default() += v;
        }
        for (k, h) in &o.waits {
            match f.waits.get_mut(k) {
                Some(mine) => mine.merge(h),
                None => {
                    f.waits.insert(*k, h.clone());
                }
            }
        }
        for (k, v) in &other.authz_decisions {
            *self.authz_decisions.entry(*k).or_default() += v;
        }
        for (k, h) in &other.watch_events {
            match self.watch_events.get_mut(k) {
                Some(mine) => mine.merge(h),
                None => {
                    self.watch_events.insert(*k, h.clone());
                }
            }
        }
    }

    /// Writes every family that has a series, series sorted by labels; label names in
    /// alphabetical order, as upstream's registry writes them.
    pub fn write(&self, e: &mut Exposition) {
        if !self.audit_levels.is_empty() {
            e.family(
                "apiserver_audit_level_total",
                Kind::Counter,
                Stability::Alpha,
                "Requests by the audit level the policy gave them.",
            );
            let sorted: BTreeMap<_, _> = self.audit_levels.iter().collect();
            for (level, n) in sorted {
                e.sample(&[("level", level)], *n as f64);
            }
        }
        self.write_auth(e);
        self.write_flow(e);
        self.write_admission(e);
        self.write_webhooks(e);
        self.write_requests(e);
        self.write_watch_events(e);
    }

    fn write_webhooks(&self, e: &mut Exposition) {
        let bool_label = |b: bool| if b { "true" } else { "false" };
        if !self.webhook_calls.is_empty() {
            e.family(
                "apiserver_admission_webhook_admission_duration_seconds",
                Kind::Histogram,
                Stability::Stable,
                "Admission webhook latency histogram in seconds, identified by name and broken out for each operation and API resource and type (validate or admit).",
            );
            let sorted: BTreeMap<_, _> = self
                .webhook_calls
                .iter()
                .map(|((n, t, o, r), h)| ((*n, *o, bool_label(*r), *t), h))
                .collect();
            for ((name, operation, rejected, kind), h) in sorted {
                e.histogram(
                    &[
                        ("name", name),
                        ("operation", operation),
                        ("rejected", rejected),
                        ("type", kind),
                    ],
                    h,
                );
            }
            e.family(
                "apiserver_admission_webhook_request_total",
                Kind::Counter,
                Stability::Alpha,
                "Admission webhook request total, identified by name and broken out for each admission type (validating or mutating) and operation. Additional labels specify whether the request was rejected or not and an HTTP status code. Codes greater than 600 are truncated to 600, to keep the metrics cardinality bounded.",
            );
            let sorted: BTreeMap<_, _> = self
                .webhook_requests
                .iter()
                .map(|((n, t, o, r, c), v)| ((*c, *n, *o, bool_label(*r), *t), v))
                .collect();
            for ((code, name, operation, rejected, kind), v) in sorted {
                let code = code.min(600).to_string();
                e.sample(
                    &[
                        ("code", &code),
                        ("name", name),
                        ("operation", operation),
                        ("rejected", rejected),
                        ("type", kind),
                    ],
                    *v as f64,
                );
            }
        }
        if !self.webhook_rejections.is_empty() {
            e.family(
                "apiserver_admission_webhook_rejection_count",
                Kind::Counter,
                Stability::Alpha,
                "Admission webhook rejection count, identified by name and broken out for each admission type (validating or admit) and operation. Additional labels specify an error type (calling_webhook_error or apiserver_internal_error if an error occurred; no_error otherwise) and optionally a non-zero rejection code if the webhook rejects the request with an HTTP status code (honored by the apiserver when the code is greater or equal to 400). Codes greater than 600 are truncated to 600, to keep the metrics cardinality bounded.",
            );
            let sorted: BTreeMap<_, _> = self
                .webhook_rejections
                .iter()
                .map(|((n, t, o, et, c), v)| ((*et, *n, *o, *c, *t), v))
                .collect();
            for ((error_type, name, operation, code, kind), v) in sorted {
                let code = code.min(600).to_string();
                e.sample(
                    &[
                        ("error_type", error_type),
                        ("name", name),
                        ("operation", operation),
                        ("rejection_code", &code),
                        ("type", kind),
                    ],
                    *v as f64,
                );
            }
        }
        if !self.webhook_fail_open.is_empty() {
            e.family(
                "apiserver_admission_webhook_fail_open_count",
                Kind::Counter,
                Stability::Alpha,
                "Admission webhook fail open count, identified by name and broken out for each admission type (validating or mutating).",
            );
            let sorted: BTreeMap<_, _> = self.webhook_fail_open.iter().collect();
            for ((name, kind), v) in sorted {
                e.sample(&[("name", name), ("type", kind)], *v as f64);
            }
        }
    }

    fn write_admission(&self, e: &mut Exposition) {
        let bool_label = |b: bool| if b { "true" } else { "false" };
        if !self.admission_plugins.is_empty() {
            e.family(
                "apiserver_admission_controller_admission_duration_seconds",
                Kind::Histogram,
                Stability::Stable,
                "Admission controller latency histogram in seconds, identified by name and broken out for each operation and API resource and type (validate or admit).",
            );
            let sorted: BTreeMap<_, _> = self
                .admission_plugins
                .iter()
                .map(|((n, t, o, r), h)| ((*n, *o, bool_label(*r), *t), h))
                .collect();
            for ((name, operation, rejected, kind), h) in sorted {
                e.histogram(
                    &[
                        ("name", name),
                        ("operation", operation),
                        ("rejected", rejected),
                        ("type", kind),
                    ],
                    h,
                );
            }
        }
        if !self.admission_steps.is_empty() {
            e.family(
                "apiserver_admission_step_duration_seconds",
                Kind::Histogram,
                Stability::Stable,
                "Admission sub-step latency histogram in seconds, broken out for each operation and API resource and step type (validate or admit).",
            );
            let sorted: BTreeMap<_, _> = self
                .admission_steps
                .iter()
                .map(|((t, o, r), h)| ((*o, bool_label(*r), *t), h))
                .collect();
            for ((operation, rejected, kind), h) in sorted {
                e.histogram(
                    &[
                        ("operation", operation),
                        ("rejected", rejected),
                        ("type", kind),
                    ],
                    h,
                );
            }
        }
    }

    fn write_flow(&self, e: &mut Exposition) {
        let f = &self.flow;
        let pair = |(pl, fs): &FlowKey| [("flow_schema", *fs), ("priority_level", *pl)];
        let gauges: [(&str, &str, &Map<FlowKey, i64>); 3] = [
            (
                "apiserver_flowcontrol_current_executing_requests",
                "Requests executing now, by priority level and flow schema.",
                &f.executing,
            ),
            (
                "apiserver_flowcontrol_current_executing_seats",
                "Seats held by executing requests, by priority level and flow schema.",
                &f.executing_seats,
            ),
            (
                "apiserver_flowcontrol_current_inqueue_requests",
                "Requests waiting in a queue now, by priority level and flow schema.",
                &f.in_queue,
            ),
        ];
        for (name, help, values) in gauges {
            if values.is_empty() {
                continue;
            }
            e.family(name, Kind::Gauge, Stability::Beta, help);
            let sorted: BTreeMap<_, _> = values.iter().map(|(k, v)| ((k.1, k.0), v)).collect();
            for ((fs, pl), n) in sorted {
                e.sample(&pair(&(pl, fs)), *n as f64);
            }
        }
        if !f.dispatched.is_empty() {
            e.family(
                "apiserver_flowcontrol_dispatched_requests_total",
                Kind::Counter,
                Stability::Beta,
                "Requests released for execution, by priority level and flow schema.",
            );
            let sorted: BTreeMap<_, _> =
                f.dispatched.iter().map(|(k, v)| ((k.1, k.0), v)).collect();
            for ((fs, pl), n) in sorted {
                e.sample(&pair(&(pl, fs)), *n as f64);
            }
        }
        if !f.rejected.is_empty() {
            e.family(
                "apiserver_flowcontrol_rejected_requests_total",
                Kind::Counter,
                Stability::Beta,
                "Requests refused, by priority level, flow schema and reason.",
            );
            let sorted: BTreeMap<_, _> = f
                .rejected
                .iter()
                .map(|(((pl, fs), r), v)| ((*fs, *pl, *r), v))
                .collect();
            for ((fs, pl, reason), n) in sorted {
                e.sample(
                    &[
                        ("flow_schema", fs),
                        ("priority_level", pl),
                        ("reason", reason),
                    ],
                    *n as f64,
                );
            }
        }
        if !f.waits.is_empty() {
            e.family(
                "apiserver_flowcontrol_request_wait_duration_seconds",
                Kind::Histogram,
                Stability::Beta,
                "Time requests waited in a queue, by priority level, flow schema and whether they then executed.",
            );
            let sorted: BTreeMap<_, _> = f
                .waits
                .iter()
                .map(|(((pl, fs), ex), h)| ((if *ex { "true" } else { "false" }, *fs, *pl), h))
                .collect();
            for ((execute, fs, pl), h) in sorted {
                e.histogram(
                    &[
                        ("execute", execute),
                        ("flow_schema", fs),
                        ("priority_level", pl),
                    ],
                    h,
                );
            }
        }
    }

    fn write_auth(&self, e: &mut Exposition) {
        let authn = sorted_results(&self.authentication, |i| AuthnResult::ALL[i].label());
        if !authn.is_empty() {
            e.family(
                "authentication_attempts",
                Kind::Counter,
                Stability::Alpha,
                "Authentication attempts, by result.",
            );
            for (result, h) in &authn {
                e.sample(&[("result", result)], h.count() as f64);
            }
            e.family(
                "authentication_duration_seconds",
                Kind::Histogram,
                Stability::Alpha,
                "Time spent authenticating a request, by result.",
            );
            for (result, h) in &authn {
                e.histogram(&[("result", result)], h);
            }
        }
        if !self.authz_decisions.is_empty() {
            e.family(
                "apiserver_authorization_decisions_total",
                Kind::Counter,
                Stability::Alpha,
                "Terminal decisions of each authorizer, by its type and name and the decision.",
            );
            let sorted: BTreeMap<_, _> = self.authz_decisions.iter().collect();
            for ((kind, name, decision), n) in sorted {
                e.sample(
                    &[("decision", decision), ("name", name), ("type", kind)],
                    *n as f64,
                );
            }
        }
        let authz = sorted_results(&self.authorization, |i| AuthzResult::ALL[i].label());
        if !authz.is_empty() {
            e.family(
                "authorization_attempts_total",
                Kind::Counter,
                Stability::Alpha,
                "Authorization attempts, by result (allowed, denied, no-opinion or error).",
            );
            for (result, h) in &authz {
                e.sample(&[("result", result)], h.count() as f64);
            }
            e.family(
                "authorization_duration_seconds",
                Kind::Histogram,
                Stability::Alpha,
                "Time spent authorizing a request, by result.",
            );
            for (result, h) in &authz {
                e.histogram(&[("result", result)], h);
            }
        }
    }

    fn write_requests(&self, e: &mut Exposition) {
        if !self.long_running.is_empty() {
            e.family(
                "apiserver_longrunning_requests",
                Kind::Gauge,
                Stability::Stable,
                "Long-running requests (watches, connects) open now, by verb, group, version, resource, subresource, scope and component.",
            );
            let sorted: BTreeMap<_, _> = self.long_running.iter().collect();
            for (l, n) in sorted {
                e.sample(&route_labels(l, None, None), *n as f64);
            }
        }
        let requests: BTreeMap<_, _> = self.requests.iter().collect();
        if !requests.is_empty() {
            e.family(
                "apiserver_request_duration_seconds",
                Kind::Histogram,
                Stability::Stable,
                "Time to answer a request, by verb, dry run value, group, version, resource, subresource, scope and component.",
            );
            for (l, s) in &requests {
                e.histogram(&route_labels(l, Some(l.dry_run), None), &s.duration);
            }
        }
        if !self.terminations.is_empty() {
            e.family(
                "apiserver_request_terminations_total",
                Kind::Counter,
                Stability::Alpha,
                "Requests the server ended in self-defense (429 over the in-flight limits, 504 past the request timeout).",
            );
            let sorted: BTreeMap<_, _> = self.terminations.iter().collect();
            for ((l, code), n) in sorted {
                let code = code.to_string();
                e.sample(&route_labels(l, None, Some(&code)), *n as f64);
            }
        }
        if !requests.is_empty() {
            e.family(
                "apiserver_request_total",
                Kind::Counter,
                Stability::Stable,
                "Requests answered, by verb, dry run value, group, version, resource, scope, component and HTTP response code.",
            );
            for (l, s) in &requests {
                let mut codes = s.codes.clone();
                codes.sort_unstable();
                for (code, n) in codes {
                    let code = code.to_string();
                    e.sample(&route_labels(l, Some(l.dry_run), Some(&code)), n as f64);
                }
            }
        }
        if requests.values().any(|s| s.sizes.is_some()) {
            e.family(
                "apiserver_response_sizes",
                Kind::Histogram,
                Stability::Stable,
                "Response sizes in bytes of reads, by verb, group, version, resource, subresource, scope and component.",
            );
            for (l, s) in &requests {
                if let Some(h) = &s.sizes {
                    e.histogram(&route_labels(l, None, None), h);
                }
            }
        }
    }

    fn write_watch_events(&self, e: &mut Exposition) {
        if !self.watchers.is_empty() {
            e.family(
                "apiserver_registered_watchers",
                Kind::Gauge,
                Stability::Alpha,
                "Watches open now, by group and kind.",
            );
            let sorted: BTreeMap<_, _> = self.watchers.iter().collect();
            for ((group, kind), n) in sorted {
                e.sample(&[("group", group), ("kind", kind)], *n as f64);
            }
        }
        if self.watch_events.is_empty() {
            return;
        }
        let sorted: BTreeMap<_, _> = self.watch_events.iter().collect();
        e.family(
            "apiserver_watch_events_sizes",
            Kind::Histogram,
            Stability::Beta,
            "Sizes in bytes of the events sent to watchers.",
        );
        for ((g, v, r), h) in &sorted {
            e.histogram(&[("group", g), ("resource", r), ("version", v)], h);
        }
        e.family(
            "apiserver_watch_events_total",
            Kind::Counter,
            Stability::Beta,
            "Events sent to watchers.",
        );
        for ((g, v, r), h) in &sorted {
            e.sample(
                &[("group", g), ("resource", r), ("version", v)],
                h.count() as f64,
            );
        }
    }
}

/// A request series' labels in name order, with `code` and `dry_run` where the family has
/// them.
fn route_labels<'a>(
    l: &'a RequestLabels,
    dry_run: Option<&'a str>,
    code: Option<&'a str>,
) -> Vec<(&'static str, &'a str)> {
    let mut v = Vec::with_capacity(9);
    if let Some(c) = code {
        v.push(("code", c));
    }
    v.push(("component", l.component));
    if let Some(d) = dry_run {
        v.push(("dry_run", d));
    }
    v.extend([
        ("group", l.group),
        ("resource", l.resource),
        ("scope", l.scope),
        ("subresource", l.subresource),
        ("verb", l.verb),
        ("version", l.version),
    ]);
    v
}

fn observe_result(v: &mut Vec<(usize, Histogram)>, i: usize, took: Duration) {
    match v.iter_mut().find(|(r, _)| *r == i) {
        Some((_, h)) => h.observe(took.as_secs_f64()),
        None => {
            let mut h = Histogram::new(histogram::AUTH_DURATION);
            h.observe(took.as_secs_f64());
            v.push((i, h));
        }
    }
}

fn merge_result(v: &mut Vec<(usize, Histogram)>, i: usize, other: &Histogram) {
    match v.iter_mut().find(|(r, _)| *r == i) {
        Some((_, h)) => h.merge(other),
        None => v.push((i, other.clone())),
    }
}

fn sorted_results(
    v: &[(usize, Histogram)],
    label: impl Fn(usize) -> &'static str,
) -> BTreeMap<&'static str, &Histogram> {
    v.iter().map(|(i, h)| (label(*i), h)).collect()
}
