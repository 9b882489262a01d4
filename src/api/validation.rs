//! Field validation with upstream's rules and messages (apimachinery's `validation` package):
//! names (DNS-1123 subdomain / label / path segment), label and annotation keys and values.

use serde_json::Value;

use super::status::StatusCause;

/// How a kind's `metadata.name` is validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameRule {
    /// RFC 1123 subdomain (most kinds).
    Subdomain,
    /// RFC 1123 label (namespaces).
    Label,
    /// RFC 1035 label: a label that starts with a letter (services).
    Dns1035Label,
    /// Any path segment (RBAC kinds): not `.`/`..`, no `/` or `%`.
    PathSegment,
    /// An IP address in canonical form (IPAddresses are named by the address they hold).
    IpAddress,
}

/// One field problem, as upstream's `field.Error`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// `FieldValueInvalid`, `FieldValueRequired`, ...
    pub reason: &'static str,
    /// JSON path, e.g. `metadata.name`.
    pub field: String,
    /// The message after the field: `Invalid value: "x": ...`.
    pub message: String,
}

impl FieldError {
    /// `Invalid value: <value>: <detail>`.
    pub fn invalid(field: impl Into<String>, value: &str, detail: impl AsRef<str>) -> Self {
        let v = serde_json::to_string(value).unwrap_or_default();
        Self {
            reason: "FieldValueInvalid",
            field: field.into(),
            message: format!("Invalid value: {v}: {}", detail.as_ref()),
        }
    }

    /// `Invalid value: <value>: <detail>` for any JSON value (a number shows unquoted).
    pub fn invalid_value(field: impl Into<String>, value: &Value, detail: impl AsRef<str>) -> Self {
        Self {
            reason: "FieldValueInvalid",
            field: field.into(),
            message: format!("Invalid value: {value}: {}", detail.as_ref()),
        }
    }

    /// `Required value: <detail>`.
    pub fn required(field: impl Into<String>, detail: &str) -> Self {
        let message = if detail.is_empty() {
            "Required value".to_string()
        } else {
            format!("Required value: {detail}")
        };
        Self {
            reason: "FieldValueRequired",
            field: field.into(),
            message,
        }
    }

    /// `Too long: may not be more than <n> bytes` (apimachinery's wording since v1.32).
    pub fn too_long(field: impl Into<String>, max: usize) -> Self {
        Self {
            reason: "FieldValueTooLong",
            field: field.into(),
            message: format!(
                "Too long: may not be more than {max} byte{}",
                if max == 1 { "" } else { "s" }
            ),
        }
    }

    /// `Forbidden: <detail>`.
    pub fn forbidden(field: impl Into<String>, detail: &str) -> Self {
        Self {
            reason: "FieldValueForbidden",
            field: field.into(),
            message: format!("Forbidden: {detail}"),
        }
    }

    /// `Unsupported value: <value>: supported values: "a", "b"`.
    pub fn not_supported(field: impl Into<String>, value: &str, supported: &[&str]) -> Self {
        let quoted: Vec<String> = supported.iter().map(|s| format!("{s:?}")).collect();
        Self {
            reason: "FieldValueNotSupported",
            field: field.into(),
            message: format!(
                "Unsupported value: {value:?}: supported values: {}",
                quoted.join(", ")
            ),
        }
    }

    /// `Duplicate value: <value>`.
    pub fn duplicate(field: impl Into<String>, value: &str) -> Self {
        Self {
            reason: "FieldValueDuplicate",
            field: field.into(),
            message: format!("Duplicate value: {value:?}"),
        }
    }

    /// `Invalid value: <value>: field is immutable`, for any JSON value (objects are shown
    /// as their JSON, where upstream prints the Go value).
    pub fn immutable(field: impl Into<String>, value: Option<&Value>) -> Self {
        Self::invalid_value(field, value.unwrap_or(&Value::Null), "field is immutable")
    }

    /// The Status cause for this error.
    pub fn cause(&self) -> StatusCause {
        StatusCause {
            reason: Some(self.reason.to_string()),
            message: self.message.clone(),
            field: Some(self.field.clone()),
        }
    }
}

const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1035_LABEL_FMT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN_FMT: &str =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
/// Total size of all annotations (keys + values), upstream's `TotalAnnotationSizeLimitB`.
pub const TOTAL_ANNOTATION_SIZE: usize = 256 * 1024;

fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    let mut s = format!("{msg} (");
    if !examples.is_empty() {
        let quoted: Vec<String> = examples.iter().map(|e| format!("'{e}'")).collect();
        s.push_str(&format!("e.g. {}, ", quoted.join(",  or ")));
    }
    s.push_str(&format!("regex used for validation is '{fmt}')"));
    s
}

fn is_alnum_lower(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

fn is_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && is_alnum_lower(b[0])
        && is_alnum_lower(b[b.len() - 1])
        && b.iter().all(|&c| is_alnum_lower(c) || c == b'-')
}

/// Problems with `value` as an RFC 1123 label (empty when valid).
pub fn dns1123_label(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 63 {
        errs.push("must be no more than 63 characters".to_string());
    }
    if !is_dns1123_label(value) {
        errs.push(regex_error(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
            DNS1123_LABEL_FMT,
            &["my-name", "123-abc"],
        ));
    }
    errs
}

/// Problems with `value` as an RFC 1035 label (empty when valid).
pub fn dns1035_label(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 63 {
        errs.push("must be no more than 63 characters".to_string());
    }
    if !value.as_bytes().first().is_some_and(u8::is_ascii_lowercase) || !is_dns1123_label(value) {
        errs.push(regex_error(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character",
            DNS1035_LABEL_FMT,
            &["my-name", "abc-123"],
        ));
    }
    errs
}

/// Problems with `value` as an RFC 1123 subdomain (empty when valid).
pub fn dns1123_subdomain(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 253 {
        errs.push("must be no more than 253 characters".to_string());
    }
    if value.is_empty() || !value.split('.').all(is_dns1123_label) {
        errs.push(regex_error(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errs
}

/// Problems with `value` as a path segment name.
pub fn path_segment(value: &str) -> Vec<String> {
    if value == "." || value == ".." {
        return vec![format!("may not be '{value}'")];
    }
    ["/", "%"]
        .iter()
        .filter(|bad| value.contains(**bad))
        .map(|bad| format!("may not contain '{bad}'"))
        .collect()
}

/// Problems with `value` as an IP address, in the order of upstream's `IsValidIP`: it must
/// parse, have no leading zeros, not be IPv4-mapped IPv6, and be written canonically.
pub fn ip_address(value: &str) -> Vec<String> {
    match parse_ip(value) {
        Err(BadIp::Invalid) => {
            vec!["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)".into()]
        }
        Err(BadIp::LeadingZeros) => vec!["must not have leading 0s".into()],
        Ok(ip) if is_v4_mapped(ip) => vec!["must not be an IPv4-mapped IPv6 address".into()],
        Ok(ip) if ip.to_string() != value => {
            vec![format!("must be in canonical form ({:?})", ip.to_string())]
        }
        Ok(_) => Vec::new(),
    }
}

fn is_v4_mapped(ip: std::net::IpAddr) -> bool {
    matches!(ip, std::net::IpAddr::V6(a) if a.to_ipv4_mapped().is_some())
}

/// Why a string is not an address.
enum BadIp {
    /// Not an address at all.
    Invalid,
    /// A dotted IPv4 address with a leading zero: Go's `ParseIP` reads it, Rust's parser does
    /// not, and upstream then refuses it with its own message.
    LeadingZeros,
}

fn parse_ip(value: &str) -> Result<std::net::IpAddr, BadIp> {
    if let Ok(ip) = value.parse() {
        return Ok(ip);
    }
    let octets: Vec<&str> = value.split('.').collect();
    let dotted_decimal = octets.len() == 4
        && octets.iter().all(|o| {
            (1..=3).contains(&o.len())
                && o.bytes().all(|b| b.is_ascii_digit())
                && o.parse::<u16>().is_ok_and(|n| n <= 255)
        });
    if dotted_decimal && octets.iter().any(|o| o.len() > 1 && o.starts_with('0')) {
        Err(BadIp::LeadingZeros)
    } else {
        Err(BadIp::Invalid)
    }
}

/// Problems with `value` as a CIDR, in the order of upstream's `IsValidCIDR`: it must parse,
/// have no leading zeros, no IPv4-mapped IPv6 address, no bits beyond the prefix length, and
/// be written canonically.
pub fn cidr(value: &str) -> Vec<String> {
    const INVALID: &str = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)";
    const LEADING_ZEROS: &str = "must not have leading 0s in IP or prefix length";
    let Some((ip, len)) = value.split_once('/') else {
        return vec![INVALID.into()];
    };
    let ip = match parse_ip(ip) {
        Ok(ip) => ip,
        Err(BadIp::LeadingZeros) => return vec![LEADING_ZEROS.into()],
        Err(BadIp::Invalid) => return vec![INVALID.into()],
    };
    let Ok(bits) = len.parse::<u8>() else {
        return vec![INVALID.into()];
    };
    if len.len() > 1 && len.starts_with('0') {
        return vec![LEADING_ZEROS.into()];
    }
    let network = match ip {
        std::net::IpAddr::V4(a) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            std::net::IpAddr::V4((u32::from(a) & mask).into())
        }
        std::net::IpAddr::V6(a) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            std::net::IpAddr::V6((u128::from(a) & mask).into())
        }
        _ => return vec![INVALID.into()],
    };
    if is_v4_mapped(ip) {
        return vec!["must not have an IPv4-mapped IPv6 address".into()];
    }
    if network != ip {
        return vec!["must not have bits set beyond the prefix length".into()];
    }
    let canonical = format!("{network}/{bits}");
    if canonical != value {
        return vec![format!("must be in canonical form ({canonical:?})")];
    }
    Vec::new()
}

/// upstream's `ValidateCSIDriverName` (CSI and DRA driver names): required, at most 63
/// characters, and a DNS-1123 subdomain once lower-cased. An empty name is reported twice,
/// required and not a subdomain, as upstream does.
pub fn csi_driver_name(name: &str, field: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if name.is_empty() {
        errs.push(FieldError::required(field, ""));
    }
    if name.len() > 63 {
        errs.push(FieldError::too_long(field, 63));
    }
    for msg in dns1123_subdomain(&name.to_lowercase()) {
        errs.push(FieldError::invalid(field, name, msg));
    }
    errs
}

/// Problems with `name` under `rule`.
pub fn name(rule: NameRule, name: &str) -> Vec<String> {
    match rule {
        NameRule::Subdomain => dns1123_subdomain(name),
        NameRule::Label => dns1123_label(name),
        NameRule::Dns1035Label => dns1035_label(name),
        NameRule::PathSegment => path_segment(name),
        NameRule::IpAddress => ip_address(name),
    }
}

fn is_qualified_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    let ok = |c: u8| c.is_ascii_alphanumeric();
    !b.is_empty()
        && ok(b[0])
        && ok(b[b.len() - 1])
        && b.iter().all(|&c| ok(c) || matches!(c, b'-' | b'_' | b'.'))
}

/// Problems with a qualified name (`[prefix/]name`), e.g. a label key.
pub fn qualified_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let (prefix, name) = match value.split_once('/') {
        Some((p, n)) if !n.contains('/') => (Some(p), n),
        Some(_) => {
            return vec![format!(
                "a qualified name {}",
                regex_error(
                    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
                    QUALIFIED_NAME_FMT,
                    &["MyName", "my.name", "123-abc"]
                )
            ) + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"];
        }
        None => (None, value),
    };
    if let Some(p) = prefix {
        if p.is_empty() {
            errs.push("prefix part must be non-empty".to_string());
        } else {
            errs.extend(
                dns1123_subdomain(p)
                    .into_iter()
                    .map(|m| format!("prefix part {m}")),
            );
        }
    }
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > 63 {
        errs.push("name part must be no more than 63 characters".to_string());
    }
    if !name.is_empty() && !is_qualified_name_part(name) {
        errs.push(format!(
            "name part {}",
            regex_error(
                "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
                QUALIFIED_NAME_FMT,
                &["MyName", "my.name", "123-abc"]
            )
        ));
    }
    errs
}

/// Problems with a label value.
pub fn label_value(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 63 {
        errs.push("must be no more than 63 characters".to_string());
    }
    if !value.is_empty() && !is_qualified_name_part(value) {
        errs.push(regex_error(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

/// The object at `field`, if present; null and absent are None, anything else is an error.
fn string_map<'a>(
    value: Option<&'a Value>,
    field: &str,
) -> Result<Option<&'a serde_json::Map<String, Value>>, FieldError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(other) => Err(FieldError::invalid(
            field,
            &other.to_string(),
            "must be a map of strings",
        )),
    }
}

/// Validates `metadata.labels` (an object of strings) at `field`.
pub fn labels(value: Option<&Value>, field: &str) -> Vec<FieldError> {
    let mut out = Vec::new();
    let map = match string_map(value, field) {
        Ok(Some(m)) => m,
        Ok(None) => return out,
        Err(e) => return vec![e],
    };
    for (k, val) in map {
        out.extend(
            qualified_name(k)
                .into_iter()
                .map(|m| FieldError::invalid(field, k, m)),
        );
        match val.as_str() {
            Some(s) => out.extend(
                label_value(s)
                    .into_iter()
                    .map(|m| FieldError::invalid(field, s, m)),
            ),
            None => out.push(FieldError::invalid(
                format!("{field}[{k}]"),
                &val.to_string(),
                "must be a string",
            )),
        }
    }
    out
}

/// Validates `metadata.annotations` at `field`: qualified keys, 256 KiB in all.
pub fn annotations(value: Option<&Value>, field: &str) -> Vec<FieldError> {
    let mut out = Vec::new();
    let map = match string_map(value, field) {
        Ok(Some(m)) => m,
        Ok(None) => return out,
        Err(e) => return vec![e],
    };
    let mut total = 0;
    for (k, val) in map {
        out.extend(
            qualified_name(&k.to_lowercase())
                .into_iter()
                .map(|m| FieldError::invalid(field, k, m)),
        );
        total += k.len();
        match val.as_str() {
            Some(s) => total += s.len(),
            None => out.push(FieldError::invalid(
                format!("{field}[{k}]"),
                &val.to_string(),
                "must be a string",
            )),
        }
    }
    if total > TOTAL_ANNOTATION_SIZE {
        out.push(FieldError::too_long(field, TOTAL_ANNOTATION_SIZE));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_upstream_rules_and_messages() {
        assert!(dns1123_subdomain("example.com").is_empty());
        assert!(dns1123_subdomain("a-b.c").is_empty());
        let e = dns1123_subdomain("Bad_Name");
        assert_eq!(e, vec!["a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')".to_string()]);
        assert_eq!(dns1123_subdomain(&"a".repeat(254)).len(), 1);
        assert!(dns1123_label("my-ns").is_empty());
        assert_eq!(dns1123_label("my.ns"), vec!["a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')".to_string()]);
        assert_eq!(
            dns1123_label(&"a".repeat(64)),
            vec!["must be no more than 63 characters".to_string()]
        );
        assert!(path_segment("system:admin").is_empty());
        assert_eq!(path_segment(".."), vec!["may not be '..'".to_string()]);
        assert_eq!(path_segment("a/b"), vec!["may not contain '/'".to_string()]);
    }

    #[test]
    fn labels_and_annotations() {
        let ok = serde_json::json!({"app": "web", "example.com/tier": "front_end-1", "empty": ""});
        assert!(labels(Some(&ok), "metadata.labels").is_empty());
        let bad = serde_json::json!({"-bad": "x", "k": "bad value!"});
        let errs = labels(Some(&bad), "metadata.labels");
        assert_eq!(errs.len(), 2);
        assert!(errs.iter().all(|e| e.field == "metadata.labels"));
        assert!(
            errs[0]
                .message
                .starts_with("Invalid value: \"-bad\": name part must consist of"),
            "{:?}",
            errs[0]
        );
        assert!(
            errs[1].message.starts_with(
                "Invalid value: \"bad value!\": a valid label must be an empty string"
            ),
            "{:?}",
            errs[1]
        );
        let big = serde_json::json!({"k": "v".repeat(TOTAL_ANNOTATION_SIZE)});
        let errs = annotations(Some(&big), "metadata.annotations");
        assert_eq!(
            errs,
            vec![FieldError::too_long(
                "metadata.annotations",
                TOTAL_ANNOTATION_SIZE
            )]
        );
        assert!(annotations(
            Some(&serde_json::json!({"Example.COM/Key": "v"})),
            "metadata.annotations"
        )
        .is_empty());
    }
}
