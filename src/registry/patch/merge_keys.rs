//! Which list fields of the built-in kinds merge in a strategic merge patch, and by what.
//!
//! The facts are the `patchStrategy`/`patchMergeKey` tags of upstream's API types (published as
//! `x-kubernetes-patch-strategy` / `x-kubernetes-patch-merge-key` in the OpenAPI document).
//! Lists not named here are atomic: a patch replaces them. Paths are field names from the
//! object's root with list indices left out; a rule matches on the end of the path.

/// How a list field merges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListStrategy {
    /// Elements are objects matched by this key.
    MergeByKey(&'static str),
    /// Elements are scalars merged as a set.
    MergePrimitives,
}

/// Lists inside a pod spec (`spec`, `spec.template.spec`, `spec.jobTemplate.spec.template.spec`)
/// and inside its containers.
const POD_SPEC_LISTS: &[(&str, &str)] = &[
    ("containers", "name"),
    ("initContainers", "name"),
    ("ephemeralContainers", "name"),
    ("volumes", "name"),
    ("imagePullSecrets", "name"),
    ("hostAliases", "ip"),
    ("topologySpreadConstraints", "topologyKey"),
    ("resourceClaims", "name"),
    ("schedulingGates", "name"),
];

const CONTAINER_LISTS: &[(&str, &str)] = &[
    ("env", "name"),
    ("ports", "containerPort"),
    ("volumeMounts", "mountPath"),
    ("volumeDevices", "devicePath"),
    ("resizePolicy", "resourceName"),
];

/// The strategy of the list at `path` in an object of `kind`; None: atomic.
pub fn list_strategy(kind: &str, path: &[String]) -> Option<ListStrategy> {
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    let last = *p.last()?;
    let parent = p.len().checked_sub(2).map(|i| p[i]);
    match (p.as_slice(), last) {
        (["metadata", "finalizers"], _) => return Some(ListStrategy::MergePrimitives),
        (["metadata", "ownerReferences"], _) => return Some(ListStrategy::MergeByKey("uid")),
        (["spec", "ports"], _) if kind == "Service" => {
            return Some(ListStrategy::MergeByKey("port"))
        }
        (["status", "conditions"], _) => return Some(ListStrategy::MergeByKey("type")),
        (["status", "addresses"], _) if kind == "Node" => {
            return Some(ListStrategy::MergeByKey("type"))
        }
        (["spec", "taints"], _) if kind == "Node" => return None,
        _ => {}
    }
    if in_pod_spec(&p[..p.len() - 1]) {
        if let Some((_, key)) = POD_SPEC_LISTS.iter().find(|(f, _)| *f == last) {
            return Some(ListStrategy::MergeByKey(key));
        }
    }
    if matches!(
        parent,
        Some("containers" | "initContainers" | "ephemeralContainers")
    ) {
        if let Some((_, key)) = CONTAINER_LISTS.iter().find(|(f, _)| *f == last) {
            return Some(ListStrategy::MergeByKey(key));
        }
    }
    None
}

/// Whether `path` names a pod spec: a Pod's `spec`, or a `template.spec` at any depth.
fn in_pod_spec(path: &[&str]) -> bool {
    matches!(path, ["spec"]) || path.ends_with(&["template", "spec"])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(kind: &str, path: &str) -> Option<ListStrategy> {
        let p: Vec<String> = path.split('.').map(str::to_string).collect();
        list_strategy(kind, &p)
    }

    #[test]
    fn rules() {
        use ListStrategy::*;
        assert_eq!(
            s("Deployment", "spec.template.spec.containers"),
            Some(MergeByKey("name"))
        );
        assert_eq!(
            s("CronJob", "spec.jobTemplate.spec.template.spec.volumes"),
            Some(MergeByKey("name"))
        );
        assert_eq!(
            s("Pod", "spec.containers.ports"),
            Some(MergeByKey("containerPort"))
        );
        assert_eq!(s("Service", "spec.ports"), Some(MergeByKey("port")));
        assert_eq!(s("Pod", "metadata.finalizers"), Some(MergePrimitives));
        assert_eq!(s("Pod", "spec.tolerations"), None);
        assert_eq!(s("Pod", "spec.containers.args"), None);
    }
}
