//! Where a shard's webhook plugins read their configurations from: the Mutating- or
//! ValidatingWebhookConfigurations of the shard's replica, compiled when they change
//! ([`CompiledView`]), in upstream's order (by configuration name, then as listed).

use std::rc::Rc;
use std::time::Instant;

use serde_json::Value;

use super::hook::Webhook;
use crate::admission::replica::{CompiledView, Replica};
use crate::api::resources::lookup;
use crate::api::status::Status;
use crate::registry::kinds::ObjectReads;

/// Mutating or validating: which configuration kind a plugin reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookKind {
    /// `MutatingWebhookConfiguration`.
    Mutating,
    /// `ValidatingWebhookConfiguration`.
    Validating,
}

impl HookKind {
    fn plural(self) -> &'static str {
        match self {
            Self::Mutating => "mutatingwebhookconfigurations",
            Self::Validating => "validatingwebhookconfigurations",
        }
    }
}

/// A shard's view of one configuration kind.
#[derive(Debug)]
pub struct HookSource {
    kind: HookKind,
    /// The shard's replica (also read for namespaces, Services and Endpoints).
    pub replica: Replica,
    view: Option<CompiledView<Rc<Webhook>>>,
}

impl HookSource {
    /// The `kind` configurations of `replica`.
    pub fn new(kind: HookKind, replica: Replica) -> Self {
        let view = lookup("admissionregistration.k8s.io", "v1", kind.plural())
            .map(|res| CompiledView::new(&replica, res));
        Self {
            kind,
            replica,
            view,
        }
    }

    /// Which configuration kind this is.
    pub fn kind(&self) -> HookKind {
        self.kind
    }

    /// Every webhook of every configuration, in upstream's order.
    pub async fn hooks(
        &self,
        reads: &dyn ObjectReads,
        deadline: Instant,
    ) -> Result<Rc<[Rc<Webhook>]>, Status> {
        match &self.view {
            Some(v) => v.get(&self.replica, reads, deadline, compile_all).await,
            None => Ok(Rc::from(Vec::new())),
        }
    }
}

fn compile_all(mut objects: Vec<Value>) -> Vec<Rc<Webhook>> {
    let name = |o: &Value| {
        o.pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    objects.sort_by_key(name);
    let mut out = Vec::new();
    for o in &objects {
        let config = name(o);
        let uid = o
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .unwrap_or(&config);
        for (i, w) in o
            .get("webhooks")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            match Webhook::compile(&config, uid, i, w) {
                Ok(h) => out.push(Rc::new(h)),
                Err(e) => log::warn!("admission webhook {config}/{i} is not used: {e}"),
            }
        }
    }
    out
}
