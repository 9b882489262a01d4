//! ConfigMaps and Secrets: their keys must be valid config keys (upstream's
//! `IsConfigMapKey`); a Secret's `type` defaults to `Opaque` and selectors may use it.

use serde_json::{json, Value};

use super::fields::default;
use super::{Defaulter, KindHooks, Object};
use crate::api::validation::FieldError;

/// The hooks of `v1` ConfigMaps.
#[derive(Debug, Default)]
pub struct ConfigMapHooks;

impl KindHooks for ConfigMapHooks {
    fn validate(&self, obj: &Object) -> Vec<FieldError> {
        let mut errs = Vec::new();
        config_keys(obj.get("data"), "data", &mut errs);
        config_keys(obj.get("binaryData"), "binaryData", &mut errs);
        errs
    }
}

/// The hooks of `v1` Secrets.
#[derive(Debug, Default)]
pub struct SecretHooks;

impl KindHooks for SecretHooks {
    fn defaulter(&self) -> Option<Defaulter> {
        Some(secret_defaults)
    }

    fn validate(&self, obj: &Object) -> Vec<FieldError> {
        let mut errs = Vec::new();
        config_keys(obj.get("data"), "data", &mut errs);
        errs
    }

    fn selectable_fields(&self) -> &'static [&'static str] {
        &["type"]
    }
}

/// upstream's defaults of Secrets.
pub fn secret_defaults(obj: &mut Object) {
    default(obj, "type", json!("Opaque"));
}

fn config_keys(data: Option<&Value>, path: &str, errs: &mut Vec<FieldError>) {
    for k in data
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, _)| k)
    {
        let ok = !k.is_empty()
            && k.len() <= 253
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && k != "."
            && k != ".."
            && !k.starts_with("..");
        if !ok {
            errs.push(FieldError::invalid(
                format!("{path}[{k}]"),
                k,
                "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn keys_and_secret_type() {
        let cm = json!({"data": {"ok": "1", "a b": "2"}});
        let errs = ConfigMapHooks.validate(cm.as_object().unwrap());
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].field, "data[a b]");
        let mut s = json!({"data": {}}).as_object().cloned().unwrap();
        SecretHooks.defaults(&mut s);
        assert_eq!(s["type"], "Opaque");
        let mut typed = json!({"type": "kubernetes.io/tls"})
            .as_object()
            .cloned()
            .unwrap();
        SecretHooks.defaults(&mut typed);
        assert_eq!(typed["type"], "kubernetes.io/tls");
    }
}
