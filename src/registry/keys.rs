//! Storage keys in kube-apiserver's etcd layout:
//! `<prefix>/<segment>/<namespace>/<name>` for namespaced resources,
//! `<prefix>/<segment>/<name>` for cluster-scoped ones, where `<segment>` is the resource's key
//! segment from the table (`configmaps`, `minions` for nodes, `services/specs`, ...).

/// The key of one object.
pub fn object_key(prefix: &str, segment: &str, namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) => format!("{prefix}/{segment}/{ns}/{name}"),
        None => format!("{prefix}/{segment}/{name}"),
    }
}

/// The prefix holding every object of a resource in a namespace, or in all namespaces (and
/// every object of a cluster-scoped resource) with `None`. Always ends with `/`.
pub fn collection_prefix(prefix: &str, segment: &str, namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) => format!("{prefix}/{segment}/{ns}/"),
        None => format!("{prefix}/{segment}/"),
    }
}

/// Splits a key under `collection` back into (namespace, name) for namespaced resources
/// listed across namespaces, or (None, name).
pub fn split_key<'a>(
    collection: &str,
    key: &'a str,
    namespaced_all: bool,
) -> Option<(Option<&'a str>, &'a str)> {
    let rest = key.strip_prefix(collection)?;
    if namespaced_all {
        let (ns, name) = rest.split_once('/')?;
        Some((Some(ns), name))
    } else {
        Some((None, rest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_layout() {
        assert_eq!(
            object_key("/registry", "configmaps", Some("default"), "x"),
            "/registry/configmaps/default/x"
        );
        assert_eq!(
            object_key("/registry", "minions", None, "n1"),
            "/registry/minions/n1"
        );
        assert_eq!(
            collection_prefix("/registry", "services/specs", None),
            "/registry/services/specs/"
        );
        assert_eq!(
            split_key("/registry/pods/", "/registry/pods/ns1/p", true),
            Some((Some("ns1"), "p"))
        );
    }
}
