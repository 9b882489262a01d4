//! Endpoints: a port's protocol defaults to TCP.

use serde_json::json;

use super::fields::{default, objects};
use super::{Defaulter, KindHooks, Object};

/// The hooks of `v1` Endpoints.
#[derive(Debug, Default)]
pub struct EndpointsHooks;

impl KindHooks for EndpointsHooks {
    fn defaulter(&self) -> Option<Defaulter> {
        Some(endpoints_defaults)
    }
}

/// upstream's defaults of Endpointss.
pub fn endpoints_defaults(o: &mut Object) {
    for subset in objects(o.get_mut("subsets")) {
        for port in objects(subset.get_mut("ports")) {
            default(port, "protocol", json!("TCP"));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn port_protocol_defaults_to_tcp() {
        let mut e = json!({"subsets": [{"ports": [{"port": 1}, {"port": 2, "protocol": "UDP"}]}]})
            .as_object()
            .cloned()
            .unwrap();
        EndpointsHooks.defaults(&mut e);
        assert_eq!(e["subsets"][0]["ports"][0]["protocol"], "TCP");
        assert_eq!(e["subsets"][0]["ports"][1]["protocol"], "UDP");
    }
}
