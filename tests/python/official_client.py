"""The official Kubernetes Python client against kubeshard: typed reads of kinds whose Go types
always encode some status fields, a watch (the client sends watch=True), and an informer-style
list-then-watch from the list's resourceVersion, and server-side apply through
create_from_dict(apply=True). Exits non-zero, with the reason, on the first
difference. Usage: official_client.py KUBECONFIG NAMESPACE"""
import sys
import threading
import time

from kubernetes import client, config, watch


def main(kubeconfig, ns):
    config.load_kube_config(kubeconfig)
    core, apps = client.CoreV1Api(), client.AppsV1Api()
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))

    labels = {"app": "py"}
    template = client.V1PodTemplateSpec(
        metadata=client.V1ObjectMeta(labels=labels),
        spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="nginx")]),
    )
    rc = client.V1ReplicationController(
        metadata=client.V1ObjectMeta(name="rc"),
        spec=client.V1ReplicationControllerSpec(replicas=1, selector=labels, template=template),
    )
    made = core.create_namespaced_replication_controller(ns, rc)
    assert made.status.replicas == 0, made.status
    got = core.read_namespaced_replication_controller("rc", ns)
    assert got.status.replicas == 0, got.status
    assert got.spec.template.metadata.creation_timestamp is None

    ds = client.V1DaemonSet(
        metadata=client.V1ObjectMeta(name="ds"),
        spec=client.V1DaemonSetSpec(
            selector=client.V1LabelSelector(match_labels=labels), template=template
        ),
    )
    apps.create_namespaced_daemon_set(ns, ds)
    got = apps.read_namespaced_daemon_set("ds", ns)
    s = got.status
    assert (s.current_number_scheduled, s.desired_number_scheduled,
            s.number_misscheduled, s.number_ready) == (0, 0, 0, 0), s
    listed = apps.list_namespaced_daemon_set(ns)
    assert [d.metadata.name for d in listed.items] == ["ds"], listed

    # A watch: the client asks with watch=True and reads events, not a list.
    def make_later():
        time.sleep(1)
        core.create_namespaced_config_map(
            ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="watched"), data={"k": "v"})
        )

    threading.Thread(target=make_later).start()
    seen = None
    w = watch.Watch()
    for ev in w.stream(core.list_namespaced_config_map, ns, timeout_seconds=10):
        if ev["type"] == "ADDED" and ev["object"].metadata.name == "watched":
            seen = ev["object"]
            w.stop()
    assert seen is not None and seen.data == {"k": "v"}, "no ADDED event for the ConfigMap"

    # Informer-style: list, then watch from the list's resourceVersion.
    rcs = core.list_namespaced_replication_controller(ns)
    rv = rcs.metadata.resource_version
    core.patch_namespaced_replication_controller("rc", ns, {"spec": {"replicas": 2}})
    kinds = []
    for ev in watch.Watch().stream(
        core.list_namespaced_replication_controller, ns, resource_version=rv, timeout_seconds=5
    ):
        kinds.append((ev["type"], ev["object"].spec.replicas, ev["object"].status.replicas))
        if ev["type"] == "MODIFIED":
            break
    assert kinds == [("MODIFIED", 2, 0)], kinds
    # Server-side apply as the client's utils do it (the dynamic client, manager
    # python-client): create on the first apply, update on the second, one Apply entry.
    from kubernetes import utils

    doc = {"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": "applied", "namespace": ns}, "data": {"a": "1"}}
    for value in ("1", "2"):
        doc["data"]["a"] = value
        utils.create_from_dict(client.ApiClient(), doc, namespace=ns, apply=True)
    got = core.read_namespaced_config_map("applied", ns)
    assert got.data == {"a": "2"}, got.data
    owners = [(m.manager, m.operation) for m in got.metadata.managed_fields]
    assert owners == [("python-client", "Apply")], owners
    print("official python client: ok")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
