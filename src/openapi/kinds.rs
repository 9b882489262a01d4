//! The Rust type (from k8s-openapi) behind each kind kubeshard serves, for its JSON schema.

use k8s_openapi::api;
use schemars::{JsonSchema, Schema, SchemaGenerator};

/// A kind's schema (as a `$ref` into the generator's definitions) and its definition name.
pub(super) struct KindSchema {
    /// `$ref` to the definition.
    pub(super) reference: Schema,
    /// The definition's name, e.g. `io.k8s.api.core.v1.ConfigMap`.
    pub(super) name: String,
}

fn of<T: JsonSchema>(gen: &mut SchemaGenerator) -> KindSchema {
    KindSchema {
        reference: gen.subschema_for::<T>(),
        name: T::schema_name().into_owned(),
    }
}

/// The schema of `group/version, Kind=kind`, None for a kind without a known type.
pub(super) fn schema(
    gen: &mut SchemaGenerator,
    group: &str,
    version: &str,
    kind: &str,
) -> Option<KindSchema> {
    use api::{admissionregistration::v1 as adm, certificates::v1 as certs, resource::v1 as dra};
    use api::{
        apps::v1 as apps, authentication::v1 as authn, authorization::v1 as authz,
        autoscaling::v1 as as1, autoscaling::v2 as as2, batch::v1 as batch,
        coordination::v1 as coord, core::v1 as core, discovery::v1 as disc, events::v1 as events,
        flowcontrol::v1 as flow, networking::v1 as net, node::v1 as node, policy::v1 as policy,
        rbac::v1 as rbac, scheduling::v1 as sched, storage::v1 as storage,
    };
    Some(match (group, version, kind) {
        ("", "v1", "Namespace") => of::<core::Namespace>(gen),
        ("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration") => {
            of::<adm::MutatingWebhookConfiguration>(gen)
        }
        ("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration") => {
            of::<adm::ValidatingWebhookConfiguration>(gen)
        }
        ("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicy") => {
            of::<adm::ValidatingAdmissionPolicy>(gen)
        }
        ("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicyBinding") => {
            of::<adm::ValidatingAdmissionPolicyBinding>(gen)
        }
        ("", "v1", "Binding") => of::<core::Binding>(gen),
        ("", "v1", "ComponentStatus") => of::<core::ComponentStatus>(gen),
        ("", "v1", "ConfigMap") => of::<core::ConfigMap>(gen),
        ("", "v1", "Endpoints") => of::<core::Endpoints>(gen),
        ("", "v1", "Event") => of::<core::Event>(gen),
        ("", "v1", "LimitRange") => of::<core::LimitRange>(gen),
        ("", "v1", "Node") => of::<core::Node>(gen),
        ("", "v1", "PersistentVolumeClaim") => of::<core::PersistentVolumeClaim>(gen),
        ("", "v1", "PersistentVolume") => of::<core::PersistentVolume>(gen),
        ("", "v1", "Pod") => of::<core::Pod>(gen),
        ("", "v1", "PodTemplate") => of::<core::PodTemplate>(gen),
        ("", "v1", "ReplicationController") => of::<core::ReplicationController>(gen),
        ("", "v1", "ResourceQuota") => of::<core::ResourceQuota>(gen),
        ("", "v1", "Secret") => of::<core::Secret>(gen),
        ("", "v1", "ServiceAccount") => of::<core::ServiceAccount>(gen),
        ("", "v1", "Service") => of::<core::Service>(gen),
        ("apps", "v1", "ControllerRevision") => of::<apps::ControllerRevision>(gen),
        ("apps", "v1", "DaemonSet") => of::<apps::DaemonSet>(gen),
        ("apps", "v1", "Deployment") => of::<apps::Deployment>(gen),
        ("apps", "v1", "ReplicaSet") => of::<apps::ReplicaSet>(gen),
        ("apps", "v1", "StatefulSet") => of::<apps::StatefulSet>(gen),
        ("events.k8s.io", "v1", "Event") => of::<events::Event>(gen),
        ("authentication.k8s.io", "v1", "SelfSubjectReview") => of::<authn::SelfSubjectReview>(gen),
        ("authentication.k8s.io", "v1", "TokenReview") => of::<authn::TokenReview>(gen),
        ("authentication.k8s.io", "v1", "TokenRequest") => of::<authn::TokenRequest>(gen),
        ("authorization.k8s.io", "v1", "LocalSubjectAccessReview") => {
            of::<authz::LocalSubjectAccessReview>(gen)
        }
        ("authorization.k8s.io", "v1", "SelfSubjectAccessReview") => {
            of::<authz::SelfSubjectAccessReview>(gen)
        }
        ("authorization.k8s.io", "v1", "SelfSubjectRulesReview") => {
            of::<authz::SelfSubjectRulesReview>(gen)
        }
        ("authorization.k8s.io", "v1", "SubjectAccessReview") => {
            of::<authz::SubjectAccessReview>(gen)
        }
        ("autoscaling", "v1", "Scale") => of::<as1::Scale>(gen),
        ("autoscaling", "v1", "HorizontalPodAutoscaler") => of::<as1::HorizontalPodAutoscaler>(gen),
        ("autoscaling", "v2", "HorizontalPodAutoscaler") => of::<as2::HorizontalPodAutoscaler>(gen),
        ("batch", "v1", "CronJob") => of::<batch::CronJob>(gen),
        ("batch", "v1", "Job") => of::<batch::Job>(gen),
        ("networking.k8s.io", "v1", "IngressClass") => of::<net::IngressClass>(gen),
        ("networking.k8s.io", "v1", "Ingress") => of::<net::Ingress>(gen),
        ("networking.k8s.io", "v1", "NetworkPolicy") => of::<net::NetworkPolicy>(gen),
        ("networking.k8s.io", "v1", "IPAddress") => of::<net::IPAddress>(gen),
        ("networking.k8s.io", "v1", "ServiceCIDR") => of::<net::ServiceCIDR>(gen),
        ("certificates.k8s.io", "v1", "CertificateSigningRequest") => {
            of::<certs::CertificateSigningRequest>(gen)
        }
        ("policy", "v1", "PodDisruptionBudget") => of::<policy::PodDisruptionBudget>(gen),
        ("policy", "v1", "Eviction") => of::<policy::Eviction>(gen),
        ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding") => {
            of::<rbac::ClusterRoleBinding>(gen)
        }
        ("rbac.authorization.k8s.io", "v1", "ClusterRole") => of::<rbac::ClusterRole>(gen),
        ("rbac.authorization.k8s.io", "v1", "RoleBinding") => of::<rbac::RoleBinding>(gen),
        ("rbac.authorization.k8s.io", "v1", "Role") => of::<rbac::Role>(gen),
        ("storage.k8s.io", "v1", "StorageClass") => of::<storage::StorageClass>(gen),
        ("storage.k8s.io", "v1", "CSIDriver") => of::<storage::CSIDriver>(gen),
        ("storage.k8s.io", "v1", "CSINode") => of::<storage::CSINode>(gen),
        ("storage.k8s.io", "v1", "CSIStorageCapacity") => of::<storage::CSIStorageCapacity>(gen),
        ("storage.k8s.io", "v1", "VolumeAttachment") => of::<storage::VolumeAttachment>(gen),
        ("storage.k8s.io", "v1", "VolumeAttributesClass") => {
            of::<storage::VolumeAttributesClass>(gen)
        }
        ("resource.k8s.io", "v1", "DeviceClass") => of::<dra::DeviceClass>(gen),
        ("resource.k8s.io", "v1", "ResourceClaim") => of::<dra::ResourceClaim>(gen),
        ("resource.k8s.io", "v1", "ResourceClaimTemplate") => of::<dra::ResourceClaimTemplate>(gen),
        ("resource.k8s.io", "v1", "ResourceSlice") => of::<dra::ResourceSlice>(gen),
        ("scheduling.k8s.io", "v1", "PriorityClass") => of::<sched::PriorityClass>(gen),
        ("coordination.k8s.io", "v1", "Lease") => of::<coord::Lease>(gen),
        ("node.k8s.io", "v1", "RuntimeClass") => of::<node::RuntimeClass>(gen),
        ("discovery.k8s.io", "v1", "EndpointSlice") => of::<disc::EndpointSlice>(gen),
        ("flowcontrol.apiserver.k8s.io", "v1", "FlowSchema") => of::<flow::FlowSchema>(gen),
        ("flowcontrol.apiserver.k8s.io", "v1", "PriorityLevelConfiguration") => {
            of::<flow::PriorityLevelConfiguration>(gen)
        }
        _ => return None,
    })
}
