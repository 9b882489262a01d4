//! Versions stored as another: autoscaling/v1 HorizontalPodAutoscalers (stored as v2) and
//! events.k8s.io/v1 Events (stored as core Events), each read and written through both
//! versions with the `kube` crate's typed clients, and kubectl 1.29's `autoscale`, which
//! speaks autoscaling/v1.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;

use futures_util::{StreamExt, TryStreamExt};
use k8s_openapi::api::autoscaling::{v1 as as1, v2 as as2};
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::events::v1 as events;
use kube::api::{ListParams, ObjectMeta, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::{Api, Client};
use serde_json::json;
use support::rt;
use support::server::Kubeshard;

async fn client(ks: &Kubeshard) -> Client {
    support::kube_client(ks).await
}

fn target(name: &str) -> as1::CrossVersionObjectReference {
    as1::CrossVersionObjectReference {
        api_version: Some("apps/v1".into()),
        kind: "Deployment".into(),
        name: name.into(),
    }
}

#[test]
fn hpa_v1_and_v2_are_one_object() {
    let ks = Kubeshard::start(&[]);
    rt().block_on(async {
        let c = client(&ks).await;
        let v1: Api<as1::HorizontalPodAutoscaler> = Api::namespaced(c.clone(), "default");
        let v2: Api<as2::HorizontalPodAutoscaler> = Api::namespaced(c.clone(), "default");

        // Created through v1, with a CPU target: v2 sees a Resource metric.
        let hpa = as1::HorizontalPodAutoscaler {
            metadata: ObjectMeta {
                name: Some("web".into()),
                ..Default::default()
            },
            spec: Some(as1::HorizontalPodAutoscalerSpec {
                scale_target_ref: target("web"),
                min_replicas: Some(2),
                max_replicas: 5,
                target_cpu_utilization_percentage: Some(60),
            }),
            status: None,
        };
        let created = v1.create(&PostParams::default(), &hpa).await.unwrap();
        let spec = created.spec.clone().unwrap();
        assert_eq!(spec.target_cpu_utilization_percentage, Some(60));
        assert_eq!(spec.min_replicas, Some(2));
        let as_v2 = v2.get("web").await.unwrap();
        let metrics = as_v2.spec.as_ref().unwrap().metrics.clone().unwrap();
        assert_eq!(metrics.len(), 1);
        let cpu = metrics[0].resource.as_ref().unwrap();
        assert_eq!((cpu.name.as_str(), cpu.target.average_utilization), ("cpu", Some(60)));
        assert_eq!(as_v2.metadata.resource_version, created.metadata.resource_version);

        // A v2 metric v1 cannot say travels in v1's annotation, and survives a v1 update.
        let patch = json!({"spec": {"metrics": [
            {"type": "Pods", "pods": {"metric": {"name": "qps"},
                "target": {"type": "AverageValue", "averageValue": "1k"}}},
            {"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 60}}}]}});
        v2.patch("web", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
        let mut got = v1.get("web").await.unwrap();
        let anns = got.metadata.annotations.clone().unwrap_or_default();
        let others: serde_json::Value =
            serde_json::from_str(&anns["autoscaling.alpha.kubernetes.io/metrics"]).unwrap();
        assert_eq!(
            others,
            json!([{"type": "Pods", "pods": {"metricName": "qps", "targetAverageValue": "1k"}}])
        );
        got.spec.as_mut().unwrap().max_replicas = 9;
        let updated = v1.replace("web", &PostParams::default(), &got).await.unwrap();
        assert_eq!(updated.spec.as_ref().unwrap().max_replicas, 9);
        let as_v2 = v2.get("web").await.unwrap();
        let spec = as_v2.spec.unwrap();
        assert_eq!(spec.max_replicas, 9);
        let kinds: Vec<String> = spec.metrics.unwrap().into_iter().map(|m| m.type_).collect();
        assert_eq!(kinds, ["Pods", "Resource"]);
        assert!(as_v2.metadata.annotations.unwrap_or_default().is_empty());

        // Lists, strategic merge patches and watches of v1 are in v1's shape too.
        let list = v1.list(&ListParams::default()).await.unwrap();
        assert_eq!(list.items.len(), 1);
        assert_eq!(
            list.items[0].spec.as_ref().unwrap().target_cpu_utilization_percentage,
            Some(60)
        );
        let smp = json!({"spec": {"targetCPUUtilizationPercentage": 75}});
        let patched = v1
            .patch("web", &PatchParams::default(), &Patch::Strategic(&smp))
            .await
            .unwrap();
        assert_eq!(patched.spec.unwrap().target_cpu_utilization_percentage, Some(75));
        let rv = list.metadata.resource_version.unwrap();
        let mut stream = v1.watch(&WatchParams::default().timeout(5), &rv).await.unwrap().boxed();
        match stream.try_next().await.unwrap() {
            Some(WatchEvent::Modified(o)) => {
                assert_eq!(o.spec.unwrap().target_cpu_utilization_percentage, Some(75))
            }
            other => panic!("expected the patch as MODIFIED, got {other:?}"),
        }

        // A v1 body that is not v1 is refused, as upstream's decoder does.
        let wrong = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "x"}, "spec": {"maxReplicas": 1,
            "scaleTargetRef": {"kind": "Deployment", "name": "d"}}});
        let http = ks.client(true, false);
        let resp = http
            .post(ks.url("/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers"))
            .json(&wrong)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400);
        let status: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(
            status["message"],
            "the API version in the data (autoscaling/v2) does not match the expected API version (autoscaling/v1)"
        );
    });
}

#[test]
fn kubectl_autoscale_speaks_v1() {
    let bin = "/usr/lib/google-cloud-sdk/bin/kubectl.1.29";
    if !std::path::Path::new(bin).exists() {
        eprintln!("skipping: {bin} is not installed");
        return;
    }
    let ks = Kubeshard::start(&[]);
    let run = |args: &[&str]| {
        let (ok, out, err) = support::kubectl_bin(bin, &ks, args);
        assert!(ok, "kubectl {args:?}: {err}");
        out
    };
    run(&["create", "deployment", "web", "--image=nginx"]);
    let out = run(&[
        "autoscale",
        "deployment",
        "web",
        "--min=2",
        "--max=5",
        "--cpu-percent=70",
    ]);
    assert_eq!(
        out.trim(),
        "horizontalpodautoscaler.autoscaling/web autoscaled"
    );
    let table = run(&["get", "hpa", "web"]);
    let row: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(row[..2], ["web", "Deployment/web"], "{table}");
    assert!(row.contains(&"<unknown>/70%"), "{table}");
    let v2: serde_json::Value =
        serde_json::from_str(&run(&["get", "hpa.v2.autoscaling", "web", "-o", "json"])).unwrap();
    assert_eq!(
        v2["spec"]["metrics"][0]["resource"]["target"],
        json!({"type": "Utilization", "averageUtilization": 70})
    );
}

#[test]
fn events_k8s_io_and_core_events_are_one_object() {
    let ks = Kubeshard::start(&[]);
    rt().block_on(async {
        let c = client(&ks).await;
        let new: Api<events::Event> = Api::namespaced(c.clone(), "default");
        let old: Api<core::Event> = Api::namespaced(c.clone(), "default");

        let ev = events::Event {
            metadata: ObjectMeta {
                name: Some("pulled".into()),
                ..Default::default()
            },
            event_time: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(
                "2026-11-22T10:00:00Z".parse().unwrap(),
            )),
            regarding: Some(core::ObjectReference {
                kind: Some("Pod".into()),
                name: Some("web-1".into()),
                namespace: Some("default".into()),
                ..Default::default()
            }),
            note: Some("Successfully pulled image".into()),
            reason: Some("Pulled".into()),
            type_: Some("Normal".into()),
            action: Some("Pull".into()),
            reporting_controller: Some("kubelet".into()),
            reporting_instance: Some("node-1".into()),
            ..Default::default()
        };
        let created = new.create(&PostParams::default(), &ev).await.unwrap();
        assert_eq!(created.note.as_deref(), Some("Successfully pulled image"));
        assert_eq!(
            created.regarding.as_ref().unwrap().name.as_deref(),
            Some("web-1")
        );

        let as_core = old.get("pulled").await.unwrap();
        assert_eq!(
            as_core.message.as_deref(),
            Some("Successfully pulled image")
        );
        assert_eq!(as_core.involved_object.name.as_deref(), Some("web-1"));
        assert_eq!(as_core.reporting_component.as_deref(), Some("kubelet"));

        // Written through core, read through events.k8s.io.
        let core_ev = core::Event {
            metadata: ObjectMeta {
                name: Some("killed".into()),
                ..Default::default()
            },
            involved_object: core::ObjectReference {
                kind: Some("Pod".into()),
                name: Some("web-2".into()),
                ..Default::default()
            },
            message: Some("Stopping container".into()),
            reason: Some("Killing".into()),
            count: Some(3),
            source: Some(core::EventSource {
                component: Some("kubelet".into()),
                host: None,
            }),
            ..Default::default()
        };
        old.create(&PostParams::default(), &core_ev).await.unwrap();
        let list = new.list(&ListParams::default()).await.unwrap();
        let by_name: BTreeMap<String, events::Event> = list
            .items
            .into_iter()
            .map(|e| (e.metadata.name.clone().unwrap(), e))
            .collect();
        let killed = &by_name["killed"];
        assert_eq!(killed.note.as_deref(), Some("Stopping container"));
        assert_eq!(killed.deprecated_count, Some(3));
        assert_eq!(
            killed
                .deprecated_source
                .as_ref()
                .and_then(|s| s.component.as_deref()),
            Some("kubelet")
        );
        assert_eq!(by_name["pulled"].action.as_deref(), Some("Pull"));

        // A merge patch in events.k8s.io's names, seen by a core watch.
        let rv = old
            .get("killed")
            .await
            .unwrap()
            .metadata
            .resource_version
            .unwrap();
        let mut stream = old
            .watch(&WatchParams::default().timeout(5), &rv)
            .await
            .unwrap()
            .boxed();
        let patch = json!({"note": "Stopped"});
        new.patch("killed", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap();
        match stream.try_next().await.unwrap() {
            Some(WatchEvent::Modified(e)) => assert_eq!(e.message.as_deref(), Some("Stopped")),
            other => panic!("expected MODIFIED, got {other:?}"),
        }
        let mut stream = new
            .watch(&WatchParams::default().timeout(5), &rv)
            .await
            .unwrap()
            .boxed();
        match stream.try_next().await.unwrap() {
            Some(WatchEvent::Modified(e)) => assert_eq!(e.note.as_deref(), Some("Stopped")),
            other => panic!("expected MODIFIED, got {other:?}"),
        }
    });
}
