//! Admission: the plugins the Store runs at its pre-write point (`registry::store::admission`
//! is the seam). Each plugin is one file; [`default_chain`] is the chain kube-apiserver runs
//! by default, of the plugins kubeshard has.

pub mod namespace_lifecycle;

use std::rc::Rc;

use crate::registry::store::AdmissionChain;

/// The plugins on by default, in upstream's order.
pub fn default_chain() -> AdmissionChain {
    AdmissionChain::new(vec![Rc::new(namespace_lifecycle::NamespaceLifecycle)])
}
