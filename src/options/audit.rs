//! Audit flags: the policy and the log backend (kube-apiserver's `--audit-*` names and
//! defaults).

use std::path::PathBuf;

/// kube-apiserver's audit flags that kubeshard implements.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Auditing flags")]
pub struct AuditOptions {
    /// Path to the file holding the audit policy (an audit.k8s.io/v1 Policy). Without it
    /// nothing is audited.
    #[arg(long = "audit-policy-file", value_name = "string")]
    pub policy_file: Option<PathBuf>,
    /// If set, every audited request is written to this file as JSON lines; '-' means
    /// standard out.
    #[arg(long = "audit-log-path", value_name = "string")]
    pub log_path: Option<String>,
    /// The most days to keep old audit log files, by the time in their names (0: no limit).
    #[arg(
        long = "audit-log-maxage",
        value_name = "int",
        default_value_t = 0,
        allow_negative_numbers = true
    )]
    pub log_max_age: i64,
    /// The most old audit log files to keep (0: no limit).
    #[arg(
        long = "audit-log-maxbackup",
        value_name = "int",
        default_value_t = 0,
        allow_negative_numbers = true
    )]
    pub log_max_backup: i64,
    /// The size in megabytes an audit log file may reach before it is rotated (0: never).
    #[arg(
        long = "audit-log-maxsize",
        value_name = "int",
        default_value_t = 0,
        allow_negative_numbers = true
    )]
    pub log_max_size: i64,
    /// If set, rotated audit log files are compressed with gzip.
    #[arg(long = "audit-log-compress", value_name = "bool", default_value_t = false, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub log_compress: bool,
    /// Format of the audit log: json (one audit.k8s.io/v1 Event per line). Known formats are
    /// legacy,json; kubeshard writes json only.
    #[arg(
        long = "audit-log-format",
        value_name = "string",
        default_value = "json"
    )]
    pub log_format: String,
    /// How events reach the log. Known modes are batch,blocking,blocking-strict. kubeshard
    /// never stalls a shard on the log: every mode hands events to the writer thread through
    /// a buffer of --audit-log-batch-buffer-size; when it is full, events are dropped and
    /// counted, except that blocking-strict then fails the request (as upstream does when it
    /// cannot store the RequestReceived event).
    #[arg(
        long = "audit-log-mode",
        value_name = "string",
        default_value = "blocking"
    )]
    pub log_mode: String,
    /// The events the buffer to the writer thread holds.
    #[arg(
        long = "audit-log-batch-buffer-size",
        value_name = "int",
        default_value_t = 10000,
        allow_negative_numbers = true
    )]
    pub log_batch_buffer_size: i64,
    /// The most events the writer writes at once before flushing.
    #[arg(
        long = "audit-log-batch-max-size",
        value_name = "int",
        default_value_t = 1,
        allow_negative_numbers = true
    )]
    pub log_batch_max_size: i64,
    /// Path to a kubeconfig-format file naming the remote endpoint audit events are POSTed to
    /// (as audit.k8s.io/v1 EventLists), with its CA and credentials.
    #[arg(long = "audit-webhook-config-file", value_name = "string")]
    pub webhook_config_file: Option<PathBuf>,
    /// How events reach the webhook. Known modes are batch,blocking,blocking-strict; kubeshard
    /// always batches (a shard never waits for the webhook).
    #[arg(
        long = "audit-webhook-mode",
        value_name = "string",
        default_value = "batch"
    )]
    pub webhook_mode: String,
    /// The events the buffer to the webhook thread holds.
    #[arg(
        long = "audit-webhook-batch-buffer-size",
        value_name = "int",
        default_value_t = 10000,
        allow_negative_numbers = true
    )]
    pub webhook_batch_buffer_size: i64,
    /// The most events one request to the webhook carries.
    #[arg(
        long = "audit-webhook-batch-max-size",
        value_name = "int",
        default_value_t = 400,
        allow_negative_numbers = true
    )]
    pub webhook_batch_max_size: i64,
    /// How long events wait for a full batch before they are sent anyway.
    #[arg(long = "audit-webhook-batch-max-wait", value_name = "duration", default_value = "30s", value_parser = tuning::parse_duration)]
    pub webhook_batch_max_wait: std::time::Duration,
    /// How long to wait before retrying a batch the webhook did not accept (doubling after).
    #[arg(long = "audit-webhook-initial-backoff", value_name = "duration", default_value = "10s", value_parser = tuning::parse_duration)]
    pub webhook_initial_backoff: std::time::Duration,
    /// API group and version of the events written: only audit.k8s.io/v1.
    #[arg(
        long = "audit-log-version",
        value_name = "string",
        default_value = "audit.k8s.io/v1"
    )]
    pub log_version: String,
}

impl AuditOptions {
    /// Problems with these flags.
    pub fn validate(&self) -> Vec<String> {
        let mut errs = Vec::new();
        for (flag, v) in [
            ("--audit-log-maxage", self.log_max_age),
            ("--audit-log-maxbackup", self.log_max_backup),
            ("--audit-log-maxsize", self.log_max_size),
        ] {
            if v < 0 {
                errs.push(format!("{flag} {v} can't be a negative number"));
            }
        }
        match self.log_format.as_str() {
            "json" => {}
            "legacy" => errs.push(
                "--audit-log-format=legacy is not supported by kubeshard; use json".to_string(),
            ),
            other => errs.push(format!(
                "invalid audit log format {other}, allowed formats are \"legacy,json\""
            )),
        }
        if !matches!(
            self.log_mode.as_str(),
            "batch" | "blocking" | "blocking-strict"
        ) {
            errs.push(format!(
                "invalid audit log mode {}, allowed modes are \"batch,blocking,blocking-strict\"",
                self.log_mode
            ));
        }
        if self.log_batch_buffer_size <= 0 {
            errs.push("--audit-log-batch-buffer-size must be positive".to_string());
        }
        if self.log_batch_max_size <= 0 {
            errs.push("--audit-log-batch-max-size must be positive".to_string());
        }
        if self.log_version != "audit.k8s.io/v1" {
            errs.push(format!(
                "--audit-log-version {} is not supported: audit.k8s.io/v1",
                self.log_version
            ));
        }
        if !matches!(
            self.webhook_mode.as_str(),
            "batch" | "blocking" | "blocking-strict"
        ) {
            errs.push(format!(
                "invalid audit webhook mode {}, allowed modes are \"batch,blocking,blocking-strict\"",
                self.webhook_mode
            ));
        }
        if self.webhook_batch_buffer_size <= 0 || self.webhook_batch_max_size <= 0 {
            errs.push(
                "--audit-webhook-batch-buffer-size and --audit-webhook-batch-max-size must be positive"
                    .to_string(),
            );
        }
        if self.log_path.is_some() && self.policy_file.is_none() {
            log::warn!("--audit-log-path is set without --audit-policy-file: nothing is audited");
        }
        errs
    }
}
