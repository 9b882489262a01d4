//! `metav1.Status`: the body of every API error, with kube-apiserver's codes, reasons and texts.
//! The reason is an enum and the HTTP code follows from it, as upstream's `StatusReason`s each
//! belong to one code.

use serde::Serialize;

/// Extra facts about an error (the object it concerns, field causes, retry hint).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StatusDetails {
    /// The object's name, when the error concerns one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The object's API group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The object's kind (the resource's plural for NotFound, as upstream).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The object's uid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// Field-level causes (Invalid).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<StatusCause>,
    /// Seconds the client should wait before retrying.
    #[serde(rename = "retryAfterSeconds", skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<u32>,
}

/// One field-level reason for an error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatusCause {
    /// Machine-readable reason, e.g. `FieldValueInvalid`.
    #[serde(rename = "reason", skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human-readable description.
    pub message: String,
    /// The field path, e.g. `metadata.name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// upstream's `metav1.StatusReason`s that kubeshard answers with; each has one HTTP code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// 400: the request is malformed.
    BadRequest,
    /// 401: the request could not be authenticated.
    Unauthorized,
    /// 403: the request is not allowed.
    Forbidden,
    /// 404: nothing is there.
    NotFound,
    /// 405: the resource does not serve this verb.
    MethodNotAllowed,
    /// 406: no acceptable response type.
    NotAcceptable,
    /// 409: the object already exists.
    AlreadyExists,
    /// 409: a write lost to another (or a precondition failed).
    Conflict,
    /// 410: a resourceVersion older than the history kept.
    Expired,
    /// 413: the body or object is over its limit.
    RequestEntityTooLarge,
    /// 415: a body type the endpoint cannot read.
    UnsupportedMediaType,
    /// 422: the object is invalid.
    Invalid,
    /// 429: too many requests.
    TooManyRequests,
    /// 500: the server failed.
    InternalError,
    /// 503: the server cannot take the request now.
    ServiceUnavailable,
    /// 504: the request did not finish in time.
    Timeout,
    /// 500 with upstream's empty reason: an error that is no API status (a failed dial).
    Unknown,
}

impl Reason {
    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "BadRequest",
            Self::Unauthorized => "Unauthorized",
            Self::Forbidden => "Forbidden",
            Self::NotFound => "NotFound",
            Self::MethodNotAllowed => "MethodNotAllowed",
            Self::NotAcceptable => "NotAcceptable",
            Self::AlreadyExists => "AlreadyExists",
            Self::Conflict => "Conflict",
            Self::Expired => "Expired",
            Self::RequestEntityTooLarge => "RequestEntityTooLarge",
            Self::UnsupportedMediaType => "UnsupportedMediaType",
            Self::Invalid => "Invalid",
            Self::TooManyRequests => "TooManyRequests",
            Self::InternalError => "InternalError",
            Self::ServiceUnavailable => "ServiceUnavailable",
            Self::Timeout => "Timeout",
            Self::Unknown => "",
        }
    }

    /// The reason named `wire` (None: a reason kubeshard has no variant for).
    pub fn from_wire(wire: &str) -> Option<Self> {
        [
            Self::BadRequest,
            Self::Unauthorized,
            Self::Forbidden,
            Self::NotFound,
            Self::MethodNotAllowed,
            Self::NotAcceptable,
            Self::AlreadyExists,
            Self::Conflict,
            Self::Expired,
            Self::RequestEntityTooLarge,
            Self::UnsupportedMediaType,
            Self::Invalid,
            Self::TooManyRequests,
            Self::InternalError,
            Self::ServiceUnavailable,
            Self::Timeout,
        ]
        .into_iter()
        .find(|r| r.as_str() == wire)
    }

    /// The HTTP status code upstream answers this reason with.
    pub fn code(self) -> u16 {
        match self {
            Self::BadRequest => 400,
            Self::Unauthorized => 401,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::NotAcceptable => 406,
            Self::AlreadyExists | Self::Conflict => 409,
            Self::Expired => 410,
            Self::RequestEntityTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::Invalid => 422,
            Self::TooManyRequests => 429,
            Self::InternalError => 500,
            Self::ServiceUnavailable => 503,
            Self::Timeout => 504,
            Self::Unknown => 500,
        }
    }
}

/// An error as a client sees it: a `metav1.Status` body and the HTTP code of its reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// HTTP status code (the reason's).
    pub code: u16,
    /// `metav1.StatusReason`.
    pub reason: Reason,
    /// Human-readable message, upstream's wording.
    pub message: String,
    /// Details (empty object when none); boxed to keep `Result<_, Status>` small.
    pub details: Box<StatusDetails>,
    /// Leave `details` out of the body, as upstream's 401 does (it builds that Status
    /// without any).
    pub omit_details: bool,
}

/// `resource` for the core group, `resource.group` otherwise (upstream's GroupResource).
pub fn qualified(group: &str, resource: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    }
}

#[derive(Serialize)]
struct StatusBody<'a> {
    kind: &'static str,
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    metadata: Empty,
    status: &'static str,
    message: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a StatusDetails>,
    code: u16,
}

#[derive(Serialize)]
struct Empty {}

impl Status {
    /// A Status with the given reason and message and no details.
    pub fn new(reason: Reason, message: impl Into<String>) -> Self {
        Self {
            code: reason.code(),
            reason,
            message: message.into(),
            details: Box::default(),
            omit_details: false,
        }
    }

    /// The answer for a path nothing serves.
    pub fn path_not_found() -> Self {
        Self::new(
            Reason::NotFound,
            "the server could not find the requested resource",
        )
    }

    /// A handler panicked (upstream's message).
    pub fn panicked() -> Self {
        Self::new(
            Reason::InternalError,
            "This request caused apiserver to panic. Look in the logs for details.",
        )
    }

    /// An internal error with upstream's prefix.
    pub fn internal(err: impl std::fmt::Display) -> Self {
        Self::new(
            Reason::InternalError,
            format!("Internal error occurred: {err}"),
        )
    }

    /// upstream's `NewInternalError`: the prefixed message, and the error as the one cause.
    pub fn internal_cause(err: impl std::fmt::Display) -> Self {
        let cause = err.to_string();
        let mut e = Self::internal(&cause);
        e.details.causes = vec![StatusCause {
            reason: None,
            message: cause,
            field: None,
        }];
        e
    }

    /// `<resource>[.<group>] "<name>" not found` (404).
    pub fn not_found(group: &str, resource: &str, name: &str) -> Self {
        Self::about(
            Reason::NotFound,
            group,
            resource,
            name,
            format!("{} \"{name}\" not found", qualified(group, resource)),
        )
    }

    /// `<resource>[.<group>] "<name>" already exists` (409).
    pub fn already_exists(group: &str, resource: &str, name: &str) -> Self {
        Self::about(
            Reason::AlreadyExists,
            group,
            resource,
            name,
            format!("{} \"{name}\" already exists", qualified(group, resource)),
        )
    }

    /// upstream's `NewForbidden` (403) of an object: `<resource> "<name>" is forbidden: why`
    /// (without the name when it is empty, as for a create with `generateName`).
    pub fn forbidden(group: &str, resource: &str, name: &str, why: &str) -> Self {
        let what = qualified(group, resource);
        let message = if name.is_empty() {
            format!("{what} is forbidden: {why}")
        } else {
            format!("{what} {name:?} is forbidden: {why}")
        };
        let mut e = Self::about(Reason::Forbidden, group, resource, name, message);
        e.details.name = (!name.is_empty()).then(|| name.to_string());
        e
    }

    /// The optimistic-concurrency conflict (409), upstream's wording.
    pub fn conflict_modified(group: &str, resource: &str, name: &str) -> Self {
        Self::conflict(group, resource, name, "the object has been modified; please apply your changes to the latest version and try again")
    }

    /// A 409 Conflict with a reason text.
    pub fn conflict(group: &str, resource: &str, name: &str, why: &str) -> Self {
        Self::about(
            Reason::Conflict,
            group,
            resource,
            name,
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": {why}",
                qualified(group, resource)
            ),
        )
    }

    /// 422 Invalid: `<Kind>[.<group>] "<name>" is invalid: <causes>`.
    pub fn invalid(group: &str, kind: &str, name: &str, causes: Vec<StatusCause>) -> Self {
        let listed: Vec<String> = causes
            .iter()
            .map(|c| match &c.field {
                Some(f) => format!("{f}: {}", c.message),
                None => c.message.clone(),
            })
            .collect();
        let summary = if listed.len() == 1 {
            listed[0].clone()
        } else {
            format!("[{}]", listed.join(", "))
        };
        let mut e = Self::about(
            Reason::Invalid,
            group,
            kind,
            name,
            format!(
                "{} \"{name}\" is invalid: {summary}",
                qualified(group, kind)
            ),
        );
        e.details.causes = causes;
        e
    }

    /// 400 BadRequest with a message.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(Reason::BadRequest, message)
    }

    /// 405: the resource does not support this verb.
    pub fn method_not_supported(group: &str, resource: &str, verb: &str) -> Self {
        let mut e = Self::new(
            Reason::MethodNotAllowed,
            format!(
                "{verb} is not supported on resources of kind \"{}\"",
                qualified(group, resource)
            ),
        );
        e.details.group = (!group.is_empty()).then(|| group.to_string());
        e.details.kind = Some(resource.to_string());
        e
    }

    /// 406: no acceptable response type.
    pub fn not_acceptable(supported: &[&str]) -> Self {
        Self::new(
            Reason::NotAcceptable,
            format!(
                "only the following media types are accepted: {}",
                supported.join(", ")
            ),
        )
    }

    /// 415: a body type the endpoint cannot read.
    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(Reason::UnsupportedMediaType, format!("the body of the request was in an unknown format - accepted media types include: application/json, application/vnd.kubernetes.protobuf (got {content_type:?})"))
    }

    /// 413: body over the limit.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            Reason::RequestEntityTooLarge,
            format!("Request entity too large: limit is {limit}"),
        )
    }

    /// 401 for requests that could not be authenticated.
    pub fn unauthorized() -> Self {
        let mut e = Self::new(Reason::Unauthorized, "Unauthorized");
        e.omit_details = true;
        e
    }

    /// 410 Expired: a resourceVersion or continue token older than the history kept.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(Reason::Expired, message)
    }

    /// 503: storage or the server cannot take the request now.
    pub fn unavailable(message: impl Into<String>) -> Self {
        let mut e = Self::new(Reason::ServiceUnavailable, message);
        e.details.retry_after_seconds = Some(1);
        e
    }

    /// 504: the request did not finish within its deadline (upstream's wording).
    pub fn timeout() -> Self {
        let mut e = Self::new(Reason::Timeout, "Timeout: request did not complete within requested timeout - context deadline exceeded");
        e.details.retry_after_seconds = Some(0);
        e
    }

    fn about(reason: Reason, group: &str, kind: &str, name: &str, message: String) -> Self {
        let mut e = Self::new(reason, message);
        e.details.name = Some(name.to_string());
        e.details.group = (!group.is_empty()).then(|| group.to_string());
        e.details.kind = Some(kind.to_string());
        e
    }

    /// The JSON body: kind, apiVersion, metadata, status, message, reason, details, code.
    pub fn to_json(&self) -> Vec<u8> {
        let body = StatusBody {
            kind: "Status",
            api_version: "v1",
            metadata: Empty {},
            status: "Failure",
            message: &self.message,
            reason: self.reason.as_str(),
            details: (!self.omit_details).then_some(&*self.details),
            code: self.code,
        };
        // Serializing plain strings and numbers cannot fail.
        serde_json::to_vec(&body).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_match_upstream() {
        assert_eq!(
            Status::not_found("", "configmaps", "nope").message,
            r#"configmaps "nope" not found"#
        );
        assert_eq!(
            Status::not_found("apps", "deployments", "d").message,
            r#"deployments.apps "d" not found"#
        );
        assert_eq!(
            Status::conflict_modified("", "configmaps", "c1").message,
            r#"Operation cannot be fulfilled on configmaps "c1": the object has been modified; please apply your changes to the latest version and try again"#
        );
        let body = String::from_utf8(Status::already_exists("", "configmaps", "c1").to_json())
            .unwrap_or_default();
        assert!(
            body.contains(r#""details":{"name":"c1","kind":"configmaps"},"code":409"#),
            "{body}"
        );
    }

    #[test]
    fn not_found_body_matches_upstream() {
        let body = String::from_utf8(Status::path_not_found().to_json()).unwrap_or_default();
        assert_eq!(
            body,
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server could not find the requested resource","reason":"NotFound","details":{},"code":404}"#
        );
    }
}
