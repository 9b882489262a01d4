//! The protobuf wire format, walked with the generated field table into upstream's JSON: the
//! JSON names, base64 for bytes, RFC 3339 for times, a number or a string for IntOrString,
//! embedded JSON for RawExtension and FieldsV1, and zero values left out where Go's
//! `omitempty` leaves them out.

use std::collections::HashMap;
use std::sync::OnceLock;

use base64::Engine;
use serde_json::{Map, Number, Value};

use super::schema::MESSAGES;

/// One field: tag, JSON name, type, repeated.
#[derive(Debug)]
pub(super) struct F(pub u32, pub &'static str, pub T, pub bool);

/// A field's protobuf type.
#[derive(Debug)]
pub(super) enum T {
    Str,
    Bool,
    I32,
    I64,
    F64,
    Bytes,
    MapStr,
    MapBytes,
    MapMsg(&'static str),
    Msg(&'static str),
}

/// Why a body could not be decoded.
#[derive(Debug)]
pub struct DecodeError(pub String);

fn err<T>(m: impl Into<String>) -> Result<T, DecodeError> {
    Err(DecodeError(m.into()))
}

pub(super) fn messages() -> &'static HashMap<&'static str, &'static [F]> {
    static M: OnceLock<HashMap<&'static str, &'static [F]>> = OnceLock::new();
    M.get_or_init(|| MESSAGES.iter().map(|(n, f)| (*n, *f)).collect())
}

/// Whether a message of this full name is known.
pub(super) fn known(name: &str) -> bool {
    messages().contains_key(name)
}

/// Pointer fields whose zero value means something (Go sends them only when set).
const KEEP_ZERO: &[&str] = &[
    "replicas",
    "revisionHistoryLimit",
    "backoffLimit",
    "backoffLimitPerIndex",
    "maxFailedIndexes",
    "parallelism",
    "completions",
    "terminationGracePeriodSeconds",
    "activeDeadlineSeconds",
    "progressDeadlineSeconds",
    "successfulJobsHistoryLimit",
    "failedJobsHistoryLimit",
    "startingDeadlineSeconds",
    "ttlSecondsAfterFinished",
    "gracePeriodSeconds",
    "priority",
    "runAsUser",
    "runAsGroup",
    "fsGroup",
    "minReplicas",
    "value",
    "port",
    "containerPort",
    "weight",
    "defaultMode",
    "mode",
];

/// Pointer booleans whose `false` means something (their default is true, or they are
/// required).
const KEEP_FALSE: &[&str] = &[
    "automountServiceAccountToken",
    "enableServiceLinks",
    "allowPrivilegeEscalation",
    "hostUsers",
    "ready",
    "serving",
    "terminating",
    "suspend",
    "optional",
];

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let Some(&byte) = self.b.get(self.pos) else {
                return err("truncated varint");
            };
            self.pos += 1;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        err("varint too long")
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.b.len());
        let Some(end) = end else {
            return err("truncated field");
        };
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// The next field: (tag, wire type, varint or fixed value, bytes).
    fn field(&mut self) -> Result<(u32, Wire<'a>), DecodeError> {
        let key = self.varint()?;
        let tag = u32::try_from(key >> 3).map_err(|_| DecodeError("bad tag".into()))?;
        let w = match key & 7 {
            0 => Wire::Varint(self.varint()?),
            1 => {
                let b = self.take(8)?;
                Wire::Fixed64(u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
            }
            2 => {
                let n = usize::try_from(self.varint()?)
                    .map_err(|_| DecodeError("length too large".into()))?;
                Wire::Bytes(self.take(n)?)
            }
            5 => {
                self.take(4)?;
                Wire::Fixed32
            }
            other => return err(format!("unsupported wire type {other}")),
        };
        Ok((tag, w))
    }

    fn done(&self) -> bool {
        self.pos >= self.b.len()
    }
}

enum Wire<'a> {
    Varint(u64),
    Fixed64(u64),
    Fixed32,
    Bytes(&'a [u8]),
}

const MAX_DEPTH: usize = 100;

/// Decodes `bytes` as the message `name` into its JSON value.
pub(super) fn message(name: &str, bytes: &[u8], depth: usize) -> Result<Value, DecodeError> {
    if depth > MAX_DEPTH {
        return err("nesting too deep");
    }
    if let Some(v) = special(name, bytes, depth)? {
        return Ok(v);
    }
    let Some(fields) = messages().get(name) else {
        return err(format!("unknown message {name}"));
    };
    let mut out = Map::new();
    let mut r = Reader { b: bytes, pos: 0 };
    while !r.done() {
        let (tag, wire) = r.field()?;
        let Some(f) = fields.iter().find(|f| f.0 == tag) else {
            continue; // a field this table does not know: skipped, as protobuf does
        };
        let v = value(&f.2, wire, depth)?;
        match (&f.2, f.3) {
            (T::MapStr | T::MapBytes | T::MapMsg(_), _) => {
                if let Value::Object(entry) = v {
                    let m = out.entry(f.1).or_insert_with(|| Value::Object(Map::new()));
                    if let Value::Object(m) = m {
                        m.extend(entry);
                    }
                }
            }
            (_, true) => match v {
                // A packed repeated scalar arrives as one array.
                Value::Array(items) if !matches!(f.2, T::Msg(_)) => {
                    push_all(&mut out, f.1, items);
                }
                one => push_all(&mut out, f.1, vec![one]),
            },
            (_, false) => {
                if keep(f.1, &v) {
                    out.insert(f.1.to_string(), v);
                }
            }
        }
    }
    Ok(Value::Object(out))
}

fn push_all(out: &mut Map<String, Value>, key: &str, items: Vec<Value>) {
    let e = out.entry(key).or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(a) = e {
        a.extend(items);
    }
}

/// Go's `omitempty`: zero scalars are left out, except pointer fields where zero matters.
fn keep(name: &str, v: &Value) -> bool {
    match v {
        Value::String(s) => !s.is_empty(),
        Value::Bool(b) => *b || KEEP_FALSE.contains(&name),
        Value::Number(n) => n.as_f64() != Some(0.0) || KEEP_ZERO.contains(&name),
        _ => true,
    }
}

fn value(t: &T, wire: Wire<'_>, depth: usize) -> Result<Value, DecodeError> {
    Ok(match (t, wire) {
        (T::Str, Wire::Bytes(b)) => Value::String(utf8(b)?),
        (T::Bytes, Wire::Bytes(b)) => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        (T::Bool, Wire::Varint(v)) => Value::Bool(v != 0),
        (T::I32, Wire::Varint(v)) => Value::Number(Number::from(v as i32)),
        (T::I64, Wire::Varint(v)) => Value::Number(Number::from(v as i64)),
        (T::F64, Wire::Fixed64(v)) => Number::from_f64(f64::from_bits(v))
            .map(Value::Number)
            .unwrap_or(Value::Null),
        (T::I32 | T::I64, Wire::Bytes(b)) => {
            // packed
            let mut r = Reader { b, pos: 0 };
            let mut items = Vec::new();
            while !r.done() {
                let v = r.varint()?;
                items.push(Value::Number(match t {
                    T::I32 => Number::from(v as i32),
                    _ => Number::from(v as i64),
                }));
            }
            Value::Array(items)
        }
        (T::Msg(name), Wire::Bytes(b)) => message(name, b, depth + 1)?,
        (T::MapStr | T::MapBytes | T::MapMsg(_), Wire::Bytes(b)) => {
            let mut r = Reader { b, pos: 0 };
            let (mut k, mut v) = (String::new(), None);
            while !r.done() {
                match r.field()? {
                    (1, Wire::Bytes(kb)) => k = utf8(kb)?,
                    (2, Wire::Bytes(vb)) => {
                        v = Some(match t {
                            T::MapStr => Value::String(utf8(vb)?),
                            T::MapBytes => {
                                Value::String(base64::engine::general_purpose::STANDARD.encode(vb))
                            }
                            T::MapMsg(name) => message(name, vb, depth + 1)?,
                            _ => Value::Null,
                        })
                    }
                    _ => {}
                }
            }
            let v = v.unwrap_or(match t {
                T::MapMsg(name) => message(name, &[], depth + 1)?,
                _ => Value::String(String::new()),
            });
            let mut m = Map::new();
            m.insert(k, v);
            Value::Object(m)
        }
        (_, Wire::Fixed32) => Value::Null,
        _ => return err("field has an unexpected wire type"),
    })
}

fn utf8(b: &[u8]) -> Result<String, DecodeError> {
    String::from_utf8(b.to_vec()).map_err(|_| DecodeError("invalid UTF-8 in a string".into()))
}

/// Messages whose JSON is not an object of their fields.
fn special(name: &str, bytes: &[u8], _depth: usize) -> Result<Option<Value>, DecodeError> {
    let scalars = || -> Result<HashMap<u32, Wire<'_>>, DecodeError> {
        let mut r = Reader { b: bytes, pos: 0 };
        let mut m = HashMap::new();
        while !r.done() {
            let (tag, w) = r.field()?;
            m.insert(tag, w);
        }
        Ok(m)
    };
    let int = |m: &HashMap<u32, Wire<'_>>, tag| match m.get(&tag) {
        Some(Wire::Varint(v)) => *v as i64,
        _ => 0,
    };
    let text = |m: &HashMap<u32, Wire<'_>>, tag| match m.get(&tag) {
        Some(Wire::Bytes(b)) => utf8(b),
        _ => Ok(String::new()),
    };
    let raw_json = |m: &HashMap<u32, Wire<'_>>| -> Result<Value, DecodeError> {
        match m.get(&1) {
            Some(Wire::Bytes(b)) if !b.is_empty() => {
                serde_json::from_slice(b).map_err(|e| DecodeError(format!("embedded JSON: {e}")))
            }
            _ => Ok(Value::Null),
        }
    };
    Ok(Some(match name {
        "apimachinery.pkg.apis.meta.v1.Time" | "apimachinery.pkg.apis.meta.v1.MicroTime" => {
            let m = scalars()?;
            let (secs, nanos) = (int(&m, 1), int(&m, 2));
            if secs == 0 && nanos == 0 {
                Value::Null
            } else {
                Value::String(rfc3339(secs, nanos, name.ends_with("MicroTime"))?)
            }
        }
        "apimachinery.pkg.apis.meta.v1.Duration" => {
            let m = scalars()?;
            let nanos = int(&m, 1).max(0) as u64;
            Value::String(tuning::duration::format_duration(
                std::time::Duration::from_nanos(nanos),
            ))
        }
        "apimachinery.pkg.api.resource.Quantity" => Value::String(text(&scalars()?, 1)?),
        "apimachinery.pkg.util.intstr.IntOrString" => {
            let m = scalars()?;
            if int(&m, 1) == 1 {
                Value::String(text(&m, 3)?)
            } else {
                Value::Number(Number::from(int(&m, 2) as i32))
            }
        }
        "apimachinery.pkg.runtime.RawExtension" | "apimachinery.pkg.apis.meta.v1.FieldsV1" => {
            raw_json(&scalars()?)?
        }
        _ => return Ok(None),
    }))
}

fn rfc3339(secs: i64, nanos: i64, micro: bool) -> Result<String, DecodeError> {
    let t = time::OffsetDateTime::from_unix_timestamp(secs)
        .map_err(|_| DecodeError("time out of range".into()))?;
    let base = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    Ok(if micro {
        format!("{base}.{:06}Z", nanos / 1000)
    } else {
        format!("{base}Z")
    })
}
