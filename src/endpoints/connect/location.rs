//! Where a connect subresource goes, as upstream's pod, node and service registries decide:
//! the container a request names (or the only one), the kubelet path and query of `log`,
//! `exec`, `attach` and `portforward`, and the `scheme:name:port` forms of `proxy`.

use serde_json::Value;

use crate::api::status::Status;
use crate::request::Query;

/// `name`, `name:port` or `scheme:name:port` (scheme `http` or `https`), as upstream's
/// `SplitSchemeNamePort`; None for anything else.
pub(super) fn split_scheme_name_port(id: &str) -> Option<(&str, &str, &str)> {
    let parts: Vec<&str> = id.split(':').collect();
    let (scheme, name, port) = match parts.as_slice() {
        [n] => ("", *n, ""),
        [n, p] => ("", *n, *p),
        [s, n, p] => (*s, *n, *p),
        _ => return None,
    };
    (!name.is_empty() && matches!(scheme, "" | "http" | "https")).then_some((scheme, name, port))
}

fn names(list: Option<&Value>) -> impl Iterator<Item = &str> {
    list.and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|c| c.get("name").and_then(Value::as_str))
}

/// Every container of the pod in upstream's visiting order: init, regular, ephemeral.
fn all_containers(pod: &Value) -> Vec<&str> {
    let spec = pod.get("spec");
    let field = |f: &str| spec.and_then(|s| s.get(f));
    names(field("initContainers"))
        .chain(names(field("containers")))
        .chain(names(field("ephemeralContainers")))
        .collect()
}

/// The container a request addresses: the one it names, which must exist, or the pod's only
/// container. Upstream's 400s otherwise.
pub(super) fn container<'a>(
    pod: &'a Value,
    asked: Option<&'a str>,
    name: &str,
) -> Result<&'a str, Status> {
    if let Some(c) = asked.filter(|c| !c.is_empty()) {
        if all_containers(pod).contains(&c) {
            return Ok(c);
        }
        return Err(Status::bad_request(format!(
            "container {c} is not valid for pod {name}"
        )));
    }
    let regular: Vec<&str> = names(pod.pointer("/spec/containers")).collect();
    match regular.as_slice() {
        [one] => Ok(one),
        [] => Err(Status::bad_request(format!(
            "a container name must be specified for pod {name}"
        ))),
        _ => Err(Status::bad_request(format!(
            "a container name must be specified for pod {name}, choose one of: [{}]",
            all_containers(pod).join(" ")
        ))),
    }
}

/// The node a pod runs on; `None` when it has not been scheduled.
pub(super) fn node_name(pod: &Value) -> Option<&str> {
    pod.pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
}

/// Go's `url.QueryEscape`.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Go's `url.Values.Encode`: sorted by key, values in order.
pub(super) fn encode(pairs: &mut [(&str, String)]) -> String {
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", escape(k), escape(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A `PodLogOptions` integer: absent, or a number (else upstream's 400).
fn int_param(q: &Query, key: &str) -> Result<Option<i64>, Status> {
    match q.get(key) {
        None => Ok(None),
        Some(v) => v.parse::<i64>().map(Some).map_err(|_| {
            Status::bad_request(format!("strconv.ParseInt: parsing {v:?}: invalid syntax"))
        }),
    }
}

/// `pods/log`'s query checked as `ValidatePodLogOptions` checks it and turned into the
/// kubelet's `/containerLogs` query.
pub(super) fn log_query(q: &Query, pod: &str) -> Result<String, Status> {
    let tail = int_param(q, "tailLines")?;
    let limit = int_param(q, "limitBytes")?;
    let since = int_param(q, "sinceSeconds")?;
    let since_time = q.non_empty("sinceTime");
    let mut causes = Vec::new();
    if let Some(t) = tail.filter(|t| *t < 0) {
        causes.push((
            "tailLines",
            format!("Invalid value: {t}: must be greater than or equal to 0"),
        ));
    }
    if let Some(l) = limit.filter(|l| *l < 1) {
        causes.push((
            "limitBytes",
            format!("Invalid value: {l}: must be greater than 0"),
        ));
    }
    match (since, since_time) {
        (Some(_), Some(_)) => causes.push((
            "",
            "at most one of `sinceTime` or `sinceSeconds` may be specified".to_string(),
        )),
        (Some(s), None) if s < 1 => causes.push((
            "sinceSeconds",
            format!("Invalid value: {s}: must be greater than 0"),
        )),
        _ => {}
    }
    if !causes.is_empty() {
        let causes = causes
            .into_iter()
            .map(|(field, msg)| crate::api::status::StatusCause {
                reason: Some(if msg.starts_with("Invalid value") {
                    "FieldValueInvalid".into()
                } else {
                    "FieldValueForbidden".into()
                }),
                message: if field.is_empty() {
                    msg
                } else {
                    format!("{field}: {msg}")
                },
                field: (!field.is_empty()).then(|| field.to_string()),
            })
            .collect();
        return Err(Status::invalid("", "PodLogOptions", pod, causes));
    }
    let mut params: Vec<(&str, String)> = Vec::new();
    for flag in ["follow", "previous", "timestamps"] {
        if q.flag(flag) {
            params.push((flag, "true".into()));
        }
    }
    if let Some(s) = since {
        params.push(("sinceSeconds", s.to_string()));
    }
    if let Some(t) = since_time {
        params.push(("sinceTime", t.to_string()));
    }
    if let Some(t) = tail {
        params.push(("tailLines", t.to_string()));
    }
    if let Some(l) = limit {
        params.push(("limitBytes", l.to_string()));
    }
    Ok(encode(&mut params))
}

/// The kubelet query of `exec` and `attach` (`stdin`, `stdout`, `stderr`, `tty` as `1`, every
/// `command`) and of `portforward` (`ports` joined).
pub(super) fn stream_query(q: &Query, exec: bool, portforward: bool) -> String {
    let mut params: Vec<(&str, String)> = Vec::new();
    if portforward {
        let ports: Vec<&str> = q.all("ports").collect();
        if !ports.is_empty() {
            params.push(("port", ports.join(",")));
        }
        return encode(&mut params);
    }
    for flag in ["stdin", "stdout", "stderr", "tty"] {
        if q.flag(flag) {
            params.push((flag, "1".into()));
        }
    }
    if exec {
        for c in q.all("command") {
            params.push(("command", c.to_string()));
        }
    }
    encode(&mut params)
}

/// A pod's primary IP, only when it may be proxied to (Go's `IsGlobalUnicast`: not
/// loopback, link-local, multicast or unspecified); else upstream's "address not allowed".
pub(super) fn proxyable_pod_ip(pod: &Value) -> Result<std::net::IpAddr, Status> {
    let ip = pod
        .pointer("/status/podIPs/0/ip")
        .or_else(|| pod.pointer("/status/podIP"))
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<std::net::IpAddr>().ok());
    match ip {
        Some(ip) if global_unicast(ip) => Ok(ip),
        _ => Err(Status::bad_request("address not allowed")),
    }
}

fn global_unicast(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => {
            !(v4.is_loopback()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_unspecified()
                || v4.is_broadcast())
        }
        std::net::IpAddr::V6(v6) => {
            !(v6.is_loopback()
                || v6.is_multicast()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xffc0) == 0xfe80)
        }
    }
}

/// The port a pod proxy request names, else the pod's first declared container port.
pub(super) fn pod_port(pod: &Value, asked: &str) -> Option<String> {
    if !asked.is_empty() {
        return Some(asked.to_string());
    }
    pod.pointer("/spec/containers")
        .and_then(Value::as_array)?
        .iter()
        .find_map(|c| c.pointer("/ports/0/containerPort").and_then(Value::as_u64))
        .map(|p| p.to_string())
}

/// A ready address of a Service's Endpoints for the port the request names (a port name or
/// number; empty: the Service's only port), as upstream's service proxy picks one.
pub(super) fn service_endpoint(
    svc: &Value,
    endpoints: Option<&Value>,
    asked_port: &str,
    id: &str,
) -> Result<(String, u16), Status> {
    let none = || Status::unavailable(format!("no endpoints available for service {id:?}"));
    let ports = svc
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let svc_port = if asked_port.is_empty() {
        match ports {
            [one] => one,
            _ => return Err(none()),
        }
    } else {
        ports
            .iter()
            .find(|p| {
                p.get("name").and_then(Value::as_str) == Some(asked_port)
                    || p.get("port")
                        .and_then(Value::as_u64)
                        .map(|n| n.to_string())
                        .as_deref()
                        == Some(asked_port)
            })
            .ok_or_else(|| {
                Status::unavailable(format!(
                    "no service port {asked_port:?} found for service {:?}",
                    svc.pointer("/metadata/name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                ))
            })?
    };
    let port_name = svc_port
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let subsets = endpoints
        .and_then(|e| e.get("subsets"))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for ss in subsets {
        let port = ss
            .get("ports")
            .and_then(Value::as_array)
            .and_then(|ps| {
                ps.iter().find(|p| {
                    p.get("name").and_then(Value::as_str).unwrap_or_default() == port_name
                })
            })
            .and_then(|p| p.get("port"))
            .and_then(Value::as_u64)
            .and_then(|p| u16::try_from(p).ok());
        let addr = ss
            .pointer("/addresses/0/ip")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<std::net::IpAddr>().ok());
        if let (Some(port), Some(ip)) = (port, addr) {
            if !global_unicast(ip) {
                return Err(Status::bad_request("address not allowed"));
            }
            return Ok((ip.to_string(), port));
        }
    }
    Err(none())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_split_as_upstream() {
        assert_eq!(split_scheme_name_port("web"), Some(("", "web", "")));
        assert_eq!(
            split_scheme_name_port("web:8080"),
            Some(("", "web", "8080"))
        );
        assert_eq!(
            split_scheme_name_port("https:web:443"),
            Some(("https", "web", "443"))
        );
        assert_eq!(split_scheme_name_port("ftp:web:21"), None);
        assert_eq!(split_scheme_name_port(":80"), None);
        assert_eq!(split_scheme_name_port("a:b:c:d"), None);
    }

    #[test]
    fn containers_are_chosen_with_upstreams_messages() {
        let pod = json!({"spec": {
            "initContainers": [{"name": "setup"}],
            "containers": [{"name": "app"}, {"name": "sidecar"}],
        }});
        assert_eq!(
            container(&pod, None, "p").unwrap_err().message,
            "a container name must be specified for pod p, choose one of: [setup app sidecar]"
        );
        assert_eq!(container(&pod, Some("setup"), "p").unwrap(), "setup");
        assert_eq!(
            container(&pod, Some("x"), "p").unwrap_err().message,
            "container x is not valid for pod p"
        );
        let one = json!({"spec": {"containers": [{"name": "app"}]}});
        assert_eq!(container(&one, None, "p").unwrap(), "app");
    }

    #[test]
    fn log_options_are_validated_and_forwarded_sorted() {
        let q = Query::parse(Some("follow=true&tailLines=10&container=app&timestamps=1"));
        assert_eq!(
            log_query(&q, "p").unwrap(),
            "follow=true&tailLines=10&timestamps=true"
        );
        let bad = Query::parse(Some("tailLines=-1&limitBytes=0"));
        let e = log_query(&bad, "p").unwrap_err();
        assert_eq!(e.code, 422);
        assert!(
            e.message.starts_with("PodLogOptions \"p\" is invalid: "),
            "{}",
            e.message
        );
        let both = Query::parse(Some("sinceSeconds=5&sinceTime=2026-01-01T00:00:00Z"));
        assert_eq!(log_query(&both, "p").unwrap_err().code, 422);
        assert_eq!(
            log_query(&Query::parse(Some("tailLines=x")), "p")
                .unwrap_err()
                .code,
            400
        );
    }

    #[test]
    fn exec_queries_carry_ones_and_every_command() {
        let q = Query::parse(Some(
            "command=sh&command=-c&command=echo%20hi&stdout=true&stdin=false",
        ));
        assert_eq!(
            stream_query(&q, true, false),
            "command=sh&command=-c&command=echo+hi&stdout=1"
        );
        let q = Query::parse(Some("ports=80&ports=443"));
        assert_eq!(stream_query(&q, false, true), "port=80%2C443");
    }

    #[test]
    fn loopback_pods_and_endpoints_are_not_proxied() {
        let pod = json!({"status": {"podIP": "127.0.0.1"}});
        assert_eq!(
            proxyable_pod_ip(&pod).unwrap_err().message,
            "address not allowed"
        );
        let pod = json!({"status": {"podIPs": [{"ip": "10.1.2.3"}]}});
        assert!(proxyable_pod_ip(&pod).is_ok());
        let svc =
            json!({"metadata": {"name": "web"}, "spec": {"ports": [{"name": "http", "port": 80}]}});
        assert_eq!(
            service_endpoint(&svc, None, "", "web").unwrap_err().code,
            503
        );
        let eps = json!({"subsets": [{"addresses": [{"ip": "10.1.2.3"}], "ports": [{"name": "http", "port": 8080}]}]});
        assert_eq!(
            service_endpoint(&svc, Some(&eps), "http", "web").unwrap(),
            ("10.1.2.3".to_string(), 8080)
        );
    }
}
