//! Request bodies as objects of a row: decoded, checked against the kind's schema under
//! `fieldValidation` (unknown fields dropped and warned about, or refused with Strict; fields
//! given twice likewise), and converted to the stored version when the row serves another.

use serde_json::{Map, Value};

use super::facts::RequestFacts;
use crate::api::status::Status;
use crate::openapi::duplicates::duplicate_fields;
use crate::openapi::validate::{check_body, Directive};
use crate::registry::resources::Resource;
use crate::registry::strategy;

/// An object decoded from a request, and the warnings its decoding produced.
pub(super) struct Decoded {
    pub(super) obj: Map<String, Value>,
    pub(super) warnings: Vec<String>,
}

/// A create or update body as an object of `res`, in the stored form.
pub(super) fn body(
    res: &Resource,
    req: &RequestFacts,
    mut body: Vec<u8>,
) -> Result<Decoded, Status> {
    let duplicates = if req.field_validation == Directive::Ignore {
        Vec::new()
    } else {
        duplicate_fields(&body)
    };
    let obj = strategy::decode_object(res, &mut body)?;
    checked(res, req.field_validation, obj, &duplicates)
}

/// An object built by the server from a request (a patched object) as `res` stores it.
pub(super) fn object(
    res: &Resource,
    req: &RequestFacts,
    obj: Map<String, Value>,
) -> Result<Decoded, Status> {
    checked(res, req.field_validation, obj, &[])
}

fn checked(
    res: &Resource,
    directive: Directive,
    mut obj: Map<String, Value>,
    duplicates: &[String],
) -> Result<Decoded, Status> {
    let warnings = check_body(
        (res.api.group, res.api.version),
        res.api.kind,
        &mut obj,
        directive,
        duplicates,
    )?;
    if let Some(conversion) = res.conversion {
        strategy::check_type(res.api.api_version(), &mut obj, res.api.kind)?;
        obj = conversion.to_stored(obj)?;
    }
    Ok(Decoded { obj, warnings })
}
