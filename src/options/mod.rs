//! The command line, shaped like kube-apiserver's: named flag groups, then
//! options -> complete() -> validate() (every problem reported at once) -> run().

mod admission;
mod audit;
mod authentication;
mod authorization;
mod etcd;
mod generic;
mod kubelet;
mod secure_serving;
mod shards;

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{CommandFactory, FromArgMatches, Parser};

pub use self::admission::AdmissionOptions;
pub use self::audit::AuditOptions;
pub use self::authentication::AuthenticationOptions;
pub use self::authorization::AuthorizationOptions;
pub use self::etcd::{parse_watch_cache_size, EtcdOptions, WatchCacheSize};
pub use self::generic::GenericOptions;
pub use self::kubelet::KubeletOptions;
pub use self::secure_serving::SecureServingOptions;
pub use self::shards::ShardOptions;

/// Every flag, as parsed, before defaults that depend on other flags are filled in.
#[derive(Debug, Parser)]
#[command(
    name = "kubeshard",
    about = "The Kubernetes API server, thread-per-core on io_uring.",
    long_about = "kubeshard validates and configures data for the api objects which include pods, \
services, replicationcontrollers, and others. It serves the Kubernetes API the way \
kube-apiserver does, with one shard per CPU core.",
    disable_version_flag = true,
    disable_help_flag = true,
    max_term_width = 100
)]
pub struct Options {
    #[command(flatten)]
    pub generic: GenericOptions,
    #[command(flatten)]
    pub etcd: EtcdOptions,
    #[command(flatten)]
    pub secure_serving: SecureServingOptions,
    #[command(flatten)]
    pub authentication: AuthenticationOptions,
    #[command(flatten)]
    pub authorization: AuthorizationOptions,
    #[command(flatten)]
    pub audit: AuditOptions,
    #[command(flatten)]
    pub admission: AdmissionOptions,
    #[command(flatten)]
    pub shards: ShardOptions,
    #[command(flatten)]
    pub kubelet: KubeletOptions,
    #[command(flatten)]
    pub misc: MiscOptions,
}

/// Flags that fit no other group.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Misc flags")]
pub struct MiscOptions {
    /// number for the log level verbosity
    #[arg(short = 'v', long = "v", value_name = "Level", default_value_t = 0)]
    pub verbosity: u8,
    /// Sets the log format. Permitted formats: "json", "text".
    #[arg(long = "logging-format", value_name = "string", default_value = "text")]
    pub logging_format: String,
    /// Print version information and quit
    #[arg(long = "version", action = clap::ArgAction::SetTrue)]
    pub version: bool,
    /// help for kubeshard
    #[arg(short = 'h', long = "help", action = clap::ArgAction::Help)]
    pub help: Option<bool>,
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Invocation {
    /// Print the version and exit 0.
    Version,
    /// Run the server with these options.
    Run(Box<Options>),
}

/// Parses argv. `Err` holds the text to print and the exit code (0 for --help).
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Invocation, (String, i32)> {
    let cmd = Options::command();
    let matches = cmd.try_get_matches_from(args).map_err(|e| match e.kind() {
        clap::error::ErrorKind::DisplayHelp => (e.render().to_string(), 0),
        _ => (one_line_error(&e), 1),
    })?;
    let opts = Options::from_arg_matches(&matches).map_err(|e| (one_line_error(&e), 1))?;
    if opts.misc.version {
        return Ok(Invocation::Version);
    }
    Ok(Invocation::Run(Box::new(opts)))
}

/// clap's errors are multi-line with usage hints; kube-apiserver prints one line.
fn one_line_error(e: &clap::Error) -> String {
    let rendered = e.render().to_string();
    let first = rendered
        .lines()
        .next()
        .unwrap_or("invalid arguments")
        .trim();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    format!("Error: {first}")
}

/// Options after complete(): defaults that depend on other flags are filled in.
#[derive(Debug, Clone)]
pub struct CompletedOptions {
    /// Generic server settings.
    pub generic: GenericOptions,
    /// Storage backend settings.
    pub etcd: EtcdOptions,
    /// Serving settings with the cert dir resolved.
    pub secure_serving: SecureServingOptions,
    /// Client CA, if given.
    pub client_ca_file: Option<PathBuf>,
    /// Authentication settings.
    pub authentication: AuthenticationOptions,
    /// Authorization settings.
    pub authorization: AuthorizationOptions,
    /// Audit policy and log.
    pub audit: AuditOptions,
    /// Admission plugins and their settings.
    pub admission: AdmissionOptions,
    /// Shards and tuning.
    pub shards: ShardOptions,
    /// How to reach kubelets.
    pub kubelet: KubeletOptions,
    /// Log verbosity.
    pub verbosity: u8,
    /// `--logging-format` (validated by `validate`).
    pub logging_format: String,
}

impl Options {
    /// Fills in defaults that depend on other flags (the cert dir lives under the data dir).
    pub fn complete(self) -> CompletedOptions {
        let mut secure_serving = self.secure_serving;
        if secure_serving.cert_dir.is_none() {
            secure_serving.cert_dir = Some(self.shards.data_dir.join("pki"));
        }
        CompletedOptions {
            generic: self.generic,
            etcd: self.etcd,
            secure_serving,
            client_ca_file: self.authentication.client_ca_file.clone(),
            authentication: self.authentication,
            authorization: self.authorization,
            audit: self.audit,
            admission: self.admission,
            shards: self.shards,
            kubelet: self.kubelet,
            verbosity: self.misc.verbosity,
            logging_format: self.misc.logging_format,
        }
    }
}

impl CompletedOptions {
    /// Every problem with the options, all at once (empty: valid).
    pub fn validate(&self) -> Vec<String> {
        let mut errs = Vec::new();
        if let Err(e) = crate::logs::Format::parse(&self.logging_format) {
            errs.push(e);
        }
        errs.extend(self.generic.validate());
        errs.extend(self.etcd.validate());
        errs.extend(self.secure_serving.validate());
        errs.extend(self.authentication.validate());
        errs.extend(self.authorization.validate());
        errs.extend(self.audit.validate());
        errs.extend(self.admission.validate());
        errs.extend(self.shards.validate());
        errs.extend(self.kubelet.validate());
        errs
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn run_opts(args: &[&str]) -> Result<CompletedOptions, (String, i32)> {
        let argv = std::iter::once("kubeshard")
            .chain(args.iter().copied())
            .map(OsString::from);
        match parse(argv)? {
            Invocation::Run(o) => Ok(o.complete()),
            Invocation::Version => Err(("version".into(), 0)),
        }
    }

    #[test]
    fn defaults_match_kube_apiserver() {
        let o = run_opts(&[]).unwrap();
        assert_eq!(o.secure_serving.bind_address.to_string(), "0.0.0.0");
        assert_eq!(o.secure_serving.secure_port, 6443);
        assert_eq!(
            o.generic.request_timeout,
            std::time::Duration::from_secs(60)
        );
        assert_eq!(o.generic.shutdown_delay_duration, std::time::Duration::ZERO);
        assert_eq!(o.shards.data_dir, PathBuf::from("./kubeshard-data"));
        assert_eq!(
            o.secure_serving.cert_dir,
            Some(PathBuf::from("./kubeshard-data/pki"))
        );
        assert_eq!(o.etcd.etcd_prefix, "/registry");
    }

    #[test]
    fn go_style_values_parse() {
        let o = run_opts(&[
            "--secure-port=7443",
            "--request-timeout",
            "1m30s",
            "--shutdown-delay-duration=500ms",
            "-v=3",
            "--cpus=0",
        ])
        .unwrap();
        assert_eq!(o.secure_serving.secure_port, 7443);
        assert_eq!(
            o.generic.request_timeout,
            std::time::Duration::from_secs(90)
        );
        assert_eq!(
            o.generic.shutdown_delay_duration,
            std::time::Duration::from_millis(500)
        );
        assert_eq!(o.verbosity, 3);
        assert_eq!(
            o.shards.cpus.as_ref().map(|c| c.ids().to_vec()),
            Some(vec![0])
        );
    }

    #[test]
    fn errors_are_one_line_with_exit_1() {
        for args in [
            &["--no-such-flag"][..],
            &["--secure-port=abc"],
            &["--request-timeout=10"],
        ] {
            let (msg, code) = run_opts(args).unwrap_err();
            assert_eq!(code, 1, "{args:?}");
            assert_eq!(msg.lines().count(), 1, "{msg}");
            assert!(msg.starts_with("Error: "), "{msg}");
        }
    }

    #[test]
    fn validate_reports_every_problem() {
        let o = run_opts(&[
            "--tls-cert-file=/nonexistent/a.crt",
            "--etcd-servers=notaurl",
        ])
        .unwrap();
        let errs = o.validate();
        assert!(errs.len() >= 2, "{errs:?}");
    }

    #[test]
    fn request_timeout_flags_are_checked_as_upstream() {
        let o = run_opts(&["--min-request-timeout=60", "--goaway-chance=0.001"]).unwrap();
        assert_eq!(o.generic.min_request_timeout, 60);
        assert!(o.validate().is_empty(), "{:?}", o.validate());
        let o = run_opts(&[
            "--goaway-chance=0.5",
            "--min-request-timeout=-1",
            "--max-requests-inflight=-1",
        ])
        .unwrap();
        let errs = o.validate();
        assert!(
            errs.contains(
                &"--goaway-chance can not be less than 0 or greater than 0.02".to_string()
            ),
            "{errs:?}"
        );
        assert!(
            errs.contains(&"--min-request-timeout can not be negative value".to_string()),
            "{errs:?}"
        );
        assert!(
            errs.contains(&"--max-requests-inflight can not be negative value".to_string()),
            "{errs:?}"
        );
    }

    #[test]
    fn help_has_named_sections() {
        let (text, code) = run_opts(&["--help"]).unwrap_err();
        assert_eq!(code, 0);
        for section in [
            "Generic flags:",
            "Etcd flags:",
            "Secure serving flags:",
            "Authentication flags:",
            "Authorization flags:",
            "Shards and tuning flags:",
            "Misc flags:",
        ] {
            assert!(text.contains(section), "missing {section} in\n{text}");
        }
    }
}
