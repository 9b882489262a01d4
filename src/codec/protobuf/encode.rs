//! JSON -> the protobuf wire format, over the same generated field table the decoder walks:
//! what a client that accepts only `application/vnd.kubernetes.protobuf` gets. Special messages
//! (times, quantities, IntOrString, embedded JSON) are the inverse of the decoder's.

use base64::Engine;
use serde_json::{Map, Value};

use super::decode::{messages, DecodeError, F, T};

const MAX_DEPTH: usize = 100;

fn key(out: &mut Vec<u8>, tag: u32, wire: u8) {
    varint(out, (u64::from(tag) << 3) | u64::from(wire));
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(super) fn bytes_field(out: &mut Vec<u8>, tag: u32, b: &[u8]) {
    key(out, tag, 2);
    varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// The key and length of a length-delimited field whose `len` bytes follow separately.
pub(super) fn length_prefix(out: &mut Vec<u8>, tag: u32, len: usize) {
    key(out, tag, 2);
    varint(out, len as u64);
}

fn int_field(out: &mut Vec<u8>, tag: u32, v: i64) {
    key(out, tag, 0);
    // Negative int32 and int64 both go out as ten-byte two's complement varints.
    varint(out, v as u64);
}

/// Encodes a JSON value as the message `name` (its fields only, no envelope).
pub(super) fn message(name: &str, v: &Value, depth: usize) -> Result<Vec<u8>, DecodeError> {
    if depth > MAX_DEPTH {
        return Err(DecodeError("nesting too deep".into()));
    }
    if let Some(b) = special(name, v)? {
        return Ok(b);
    }
    let Some(fields) = messages().get(name) else {
        return Err(DecodeError(format!("unknown message {name}")));
    };
    let mut out = Vec::new();
    let Some(obj) = v.as_object() else {
        return Ok(out);
    };
    let mut sorted: Vec<&F> = fields.iter().collect();
    sorted.sort_by_key(|f| f.0);
    for f in sorted {
        let Some(val) = obj.get(f.1).filter(|v| !v.is_null()) else {
            continue;
        };
        match (&f.2, val) {
            (T::MapStr | T::MapBytes | T::MapMsg(_), Value::Object(m)) => {
                map_field(&mut out, f, m, depth)?;
            }
            (_, Value::Array(items)) if f.3 => {
                for item in items {
                    scalar_or_message(&mut out, f, item, depth)?;
                }
            }
            _ => scalar_or_message(&mut out, f, val, depth)?,
        }
    }
    Ok(out)
}

fn map_field(
    out: &mut Vec<u8>,
    f: &F,
    m: &Map<String, Value>,
    depth: usize,
) -> Result<(), DecodeError> {
    // Go marshals map entries sorted by key.
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    for k in keys {
        let mut entry = Vec::new();
        bytes_field(&mut entry, 1, k.as_bytes());
        let v = &m[k];
        match &f.2 {
            T::MapStr => bytes_field(&mut entry, 2, v.as_str().unwrap_or("").as_bytes()),
            T::MapBytes => bytes_field(&mut entry, 2, &base64(v.as_str().unwrap_or(""))?),
            T::MapMsg(name) => bytes_field(&mut entry, 2, &message(name, v, depth + 1)?),
            _ => {}
        }
        bytes_field(out, f.0, &entry);
    }
    Ok(())
}

fn base64(s: &str) -> Result<Vec<u8>, DecodeError> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|_| DecodeError("bytes field is not base64".into()))
}

fn scalar_or_message(out: &mut Vec<u8>, f: &F, v: &Value, depth: usize) -> Result<(), DecodeError> {
    let wrong = || DecodeError(format!("field {} has the wrong JSON type", f.1));
    match &f.2 {
        T::Str => bytes_field(out, f.0, v.as_str().ok_or_else(wrong)?.as_bytes()),
        T::Bytes => bytes_field(out, f.0, &base64(v.as_str().ok_or_else(wrong)?)?),
        T::Bool => int_field(out, f.0, i64::from(v.as_bool().ok_or_else(wrong)?)),
        T::I32 | T::I64 => int_field(out, f.0, v.as_i64().ok_or_else(wrong)?),
        T::F64 => {
            key(out, f.0, 1);
            out.extend_from_slice(&v.as_f64().ok_or_else(wrong)?.to_le_bytes());
        }
        T::Msg(name) => bytes_field(out, f.0, &message(name, v, depth + 1)?),
        T::MapStr | T::MapBytes | T::MapMsg(_) => return Err(wrong()),
    }
    Ok(())
}

/// Messages whose JSON is not an object of their fields (the decoder's `special`, inverted).
fn special(name: &str, v: &Value) -> Result<Option<Vec<u8>>, DecodeError> {
    let mut out = Vec::new();
    match name {
        "apimachinery.pkg.apis.meta.v1.Time" | "apimachinery.pkg.apis.meta.v1.MicroTime" => {
            if let Some(s) = v.as_str() {
                let t =
                    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                        .map_err(|_| DecodeError(format!("not an RFC 3339 time: {s:?}")))?;
                int_field(&mut out, 1, t.unix_timestamp());
                if t.nanosecond() != 0 {
                    int_field(&mut out, 2, i64::from(t.nanosecond()));
                }
            }
        }
        "apimachinery.pkg.apis.meta.v1.Duration" => {
            let s = v.as_str().unwrap_or("0s");
            let d = tuning::duration::parse_duration(s)
                .map_err(|_| DecodeError(format!("not a duration: {s:?}")))?;
            int_field(&mut out, 1, i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
        }
        "apimachinery.pkg.api.resource.Quantity" => {
            let s = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            bytes_field(&mut out, 1, s.as_bytes());
        }
        "apimachinery.pkg.util.intstr.IntOrString" => match v {
            Value::String(s) => {
                int_field(&mut out, 1, 1);
                bytes_field(&mut out, 3, s.as_bytes());
            }
            other => {
                int_field(&mut out, 1, 0);
                int_field(&mut out, 2, other.as_i64().unwrap_or(0));
            }
        },
        "apimachinery.pkg.runtime.RawExtension" | "apimachinery.pkg.apis.meta.v1.FieldsV1" => {
            let raw = serde_json::to_vec(v).map_err(|e| DecodeError(e.to_string()))?;
            bytes_field(&mut out, 1, &raw);
        }
        _ => return Ok(None),
    }
    Ok(Some(out))
}

/// The `runtime.Unknown` envelope (without the magic) around an encoded object.
pub(super) fn unknown(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
    let mut type_meta = Vec::new();
    bytes_field(&mut type_meta, 1, api_version.as_bytes());
    bytes_field(&mut type_meta, 2, kind.as_bytes());
    let mut out = Vec::new();
    bytes_field(&mut out, 1, &type_meta);
    bytes_field(&mut out, 2, raw);
    bytes_field(&mut out, 3, b"");
    bytes_field(&mut out, 4, b"");
    out
}
