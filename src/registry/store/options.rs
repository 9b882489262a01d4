//! The options of list, watch and delete requests, parsed and checked as upstream checks
//! `ListOptions` and `DeleteOptions`: values that reach the Store are valid.

use std::time::Duration;

use serde::Deserialize;

use crate::api::status::{Status, StatusCause};
use crate::request::Query;

/// How long a watch without `timeoutSeconds` lasts when nothing chose a length for it (the
/// server's own watches): the middle of upstream's default 30-60 minutes.
const DEFAULT_WATCH_TIMEOUT: Duration = Duration::from_secs(45 * 60);

/// upstream's length of a watch that gives no `timeoutSeconds` (or 0): `--min-request-timeout`
/// times a random factor in [1, 2), so that watches opened together do not all end together.
pub fn randomized_watch_timeout(min_request_timeout: Duration) -> Duration {
    min_request_timeout.mul_f64(1.0 + fastrand::f64())
}

/// `ListOptions` of a list, watch or deletecollection.
#[derive(Clone, Debug, Default)]
pub struct ListOptions {
    /// `labelSelector` as given (parsed with the kind's fields by the Store).
    pub label_selector: String,
    /// `fieldSelector` as given.
    pub field_selector: String,
    /// `limit` (0: all).
    pub limit: usize,
    /// `continue`.
    pub continue_token: Option<String>,
    /// `resourceVersion` as given ("" when absent).
    pub resource_version: String,
    /// `resourceVersionMatch` as given.
    pub resource_version_match: String,
    /// `allowWatchBookmarks`.
    pub allow_watch_bookmarks: bool,
    /// `sendInitialEvents`, when given.
    pub send_initial_events: Option<bool>,
    /// How long a watch lasts: `timeoutSeconds` when given and not 0 (the endpoint fills in a
    /// randomized length otherwise; [`ListOptions::watch_length`]).
    pub watch_timeout: Option<Duration>,
}

impl ListOptions {
    /// Reads the options from a request's query.
    pub fn from_query(q: &Query) -> Result<Self, Status> {
        let limit = match q.get("limit") {
            None | Some("") => 0,
            Some(l) => l
                .parse::<i64>()
                .map_err(|_| Status::bad_request(format!("invalid limit {l:?}")))?
                .max(0) as usize,
        };
        Ok(Self {
            label_selector: q.get("labelSelector").unwrap_or_default().to_string(),
            field_selector: q.get("fieldSelector").unwrap_or_default().to_string(),
            limit,
            continue_token: q.non_empty("continue").map(str::to_string),
            resource_version: q.get("resourceVersion").unwrap_or_default().to_string(),
            resource_version_match: q
                .get("resourceVersionMatch")
                .unwrap_or_default()
                .to_string(),
            allow_watch_bookmarks: q.flag("allowWatchBookmarks"),
            send_initial_events: q.bool_opt("sendInitialEvents"),
            watch_timeout: q
                .get("timeoutSeconds")
                .and_then(|s| s.parse::<u64>().ok())
                .filter(|&s| s > 0)
                .map(Duration::from_secs),
        })
    }

    /// How long the watch these options open lasts.
    pub fn watch_length(&self) -> Duration {
        self.watch_timeout.unwrap_or(DEFAULT_WATCH_TIMEOUT)
    }
}

/// `Preconditions` of a delete.
#[derive(Debug, Default, Deserialize, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Preconditions {
    /// The uid the object must have.
    pub uid: Option<String>,
    /// The resourceVersion the object must be at.
    pub resource_version: Option<String>,
}

/// `propagationPolicy`: what happens to dependents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Propagation {
    /// Dependents are deleted first (`foregroundDeletion` finalizer).
    Foreground,
    /// The object goes now; dependents later.
    Background,
    /// Dependents are orphaned (`orphan` finalizer).
    Orphan,
}

/// `DeleteOptions`, the fields kubeshard acts on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeleteOptions {
    /// Preconditions on the object deleted.
    pub preconditions: Option<Preconditions>,
    /// The propagation policy asked for.
    pub propagation: Option<Propagation>,
    /// `gracePeriodSeconds`.
    pub grace_period_seconds: Option<i64>,
    /// `dryRun: [All]`.
    pub dry_run: bool,
}

/// The body's fields as sent.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeleteOptionsBody {
    #[serde(default)]
    preconditions: Option<Preconditions>,
    #[serde(default)]
    propagation_policy: Option<String>,
    #[serde(default)]
    grace_period_seconds: Option<i64>,
    #[serde(default)]
    dry_run: Vec<String>,
    #[serde(default)]
    orphan_dependents: Option<bool>,
}

impl DeleteOptions {
    /// A delete's options: the body's DeleteOptions (empty: none) with the query's overrides.
    pub fn parse(body: &[u8], q: &Query) -> Result<Self, Status> {
        let mut opts: DeleteOptionsBody = if body.iter().all(u8::is_ascii_whitespace) {
            DeleteOptionsBody::default()
        } else {
            serde_json::from_slice(body).map_err(|e| {
                Status::bad_request(format!(
                    "the body of the request could not be decoded as DeleteOptions: {e}"
                ))
            })?
        };
        if let Some(p) = q.get("propagationPolicy") {
            opts.propagation_policy = Some(p.to_string());
        }
        if let Some(g) = q.get("gracePeriodSeconds") {
            opts.grace_period_seconds = g.parse().ok();
        }
        if let Some(o) = q.bool_opt("orphanDependents") {
            opts.orphan_dependents = Some(o);
        }
        opts.dry_run.extend(q.all("dryRun").map(str::to_string));
        let invalid =
            |cause: StatusCause| Status::invalid("meta.k8s.io", "DeleteOptions", "", vec![cause]);
        if let (Some(_), Some(p)) = (opts.orphan_dependents, &opts.propagation_policy) {
            return Err(invalid(StatusCause {
                reason: Some("FieldValueInvalid".into()),
                message: format!(
                    "Invalid value: {}: orphanDependents and deletionPropagation cannot be both set",
                    quoted(p)
                ),
                field: Some("propagationPolicy".into()),
            }));
        }
        let propagation = match (opts.propagation_policy.as_deref(), opts.orphan_dependents) {
            (Some("Foreground"), _) => Some(Propagation::Foreground),
            (Some("Background"), _) => Some(Propagation::Background),
            (Some("Orphan"), _) => Some(Propagation::Orphan),
            (Some(other), _) => {
                return Err(invalid(StatusCause {
                    reason: Some("FieldValueNotSupported".into()),
                    message: format!("Unsupported value: {}: supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\"", quoted(other)),
                    field: Some("propagationPolicy".into()),
                }))
            }
            (None, Some(true)) => Some(Propagation::Orphan),
            _ => None,
        };
        Ok(Self {
            preconditions: opts.preconditions,
            propagation,
            grace_period_seconds: opts.grace_period_seconds,
            dry_run: dry_run_values(&opts.dry_run, "DeleteOptions")?,
        })
    }
}

/// `dryRun` of a write whose options are of `options_kind` (`CreateOptions`, ...): true for
/// `All`, false when absent; any other value is upstream's 422.
pub fn dry_run(q: &Query, options_kind: &str) -> Result<bool, Status> {
    let values: Vec<String> = q.all("dryRun").map(str::to_string).collect();
    dry_run_values(&values, options_kind)
}

fn dry_run_values(values: &[String], options_kind: &str) -> Result<bool, Status> {
    if values.iter().all(|v| v == "All") {
        return Ok(!values.is_empty());
    }
    let listed: Vec<String> = values.iter().map(|v| quoted(v)).collect();
    Err(Status::invalid(
        "meta.k8s.io",
        options_kind,
        "",
        vec![StatusCause {
            reason: Some("FieldValueNotSupported".into()),
            message: format!(
                "Unsupported value: []string{{{}}}: supported values: \"All\"",
                listed.join(", ")
            ),
            field: Some("dryRun".into()),
        }],
    ))
}

/// A string as Go's `%q` prints it (for field error values).
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn delete_options_from_body_and_query() {
        let q = Query::parse(Some("propagationPolicy=Foreground"));
        let o =
            DeleteOptions::parse(br#"{"preconditions":{"uid":"u"},"dryRun":["All"]}"#, &q).unwrap();
        assert_eq!(o.propagation, Some(Propagation::Foreground));
        assert!(o.dry_run);
        assert_eq!(o.preconditions.unwrap().uid.as_deref(), Some("u"));
        let orphan =
            DeleteOptions::parse(br#"{"orphanDependents":true}"#, &Query::default()).unwrap();
        assert_eq!(orphan.propagation, Some(Propagation::Orphan));
        let bad =
            DeleteOptions::parse(b"", &Query::parse(Some("propagationPolicy=Later"))).unwrap_err();
        assert_eq!(bad.code, 422);
        assert_eq!(bad.message, "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"Later\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\"");
        let both = DeleteOptions::parse(
            br#"{"propagationPolicy":"Foreground"}"#,
            &Query::parse(Some("orphanDependents=true")),
        )
        .unwrap_err();
        assert!(both.message.ends_with("propagationPolicy: Invalid value: \"Foreground\": orphanDependents and deletionPropagation cannot be both set"), "{}", both.message);
        let dry = DeleteOptions::parse(b"", &Query::parse(Some("dryRun=Some"))).unwrap_err();
        assert_eq!(dry.message, "DeleteOptions.meta.k8s.io \"\" is invalid: dryRun: Unsupported value: []string{\"Some\"}: supported values: \"All\"");
        assert!(dry_run(&Query::parse(Some("dryRun=All")), "CreateOptions").unwrap());
        assert!(!dry_run(&Query::default(), "CreateOptions").unwrap());
        assert_eq!(
            DeleteOptions::parse(b"", &Query::parse(Some("orphanDependents=True")))
                .unwrap()
                .propagation,
            Some(Propagation::Orphan)
        );
        assert_eq!(
            DeleteOptions::parse(b"{", &Query::default())
                .unwrap_err()
                .code,
            400
        );
    }

    #[test]
    fn list_options() {
        let o = ListOptions::from_query(&Query::parse(Some(
            "limit=5&continue=&allowWatchBookmarks=true&timeoutSeconds=7",
        )))
        .unwrap();
        assert_eq!(o.limit, 5);
        assert_eq!(o.continue_token, None);
        assert!(o.allow_watch_bookmarks);
        assert_eq!(o.watch_timeout, Some(Duration::from_secs(7)));
        assert_eq!(
            ListOptions::from_query(&Query::parse(Some("limit=x")))
                .unwrap_err()
                .code,
            400
        );
    }
}
