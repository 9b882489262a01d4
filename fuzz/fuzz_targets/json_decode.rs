//! JSON request bodies with `fieldValidation`, the steps `registry::store::decode::body` takes
//! (that function is private): `openapi::duplicates::duplicate_fields` on the bytes,
//! `registry::strategy::decode_object` (simd-json), `openapi::validate::check_body` against
//! the row's schema, then `strategy::check_type` and the row's `Conversion::to_stored`; and
//! `Resource::normalize` (defaults and Go's always-written fields), which stored objects go
//! through when read.
//!
//! Input: byte 0 picks a built-in row, byte 1 the directive, the rest is the body.
//! Properties: never panics; Ignore never warns or fails; Strict fails exactly when Warn
//! warns; after a Warn pass (unknown fields removed) the object has no unknown fields left;
//! for bodies serde_json reads, simd-json reads the same value (integers and strings; floats
//! are not compared), and `duplicate_fields` reports something exactly when some object in
//! the body repeats a key.
#![no_main]

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;
use std::rc::Rc;

use kubeshard::openapi::duplicates::duplicate_fields;
use kubeshard::openapi::validate::{check_body, Directive};
use kubeshard::registry::resources::{KindsConfig, Resource, ResourceTable};
use kubeshard::registry::strategy;
use libfuzzer_sys::fuzz_target;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

thread_local! {
    static ROWS: RefCell<Vec<Rc<Resource>>> =
        RefCell::new(ResourceTable::builtin(KindsConfig::default()).rows());
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let res = ROWS.with(|r| {
        let rows = r.borrow();
        Rc::clone(&rows[usize::from(data[0]) % rows.len()])
    });
    let directive = match data[1] % 3 {
        0 => Directive::Ignore,
        1 => Directive::Warn,
        _ => Directive::Strict,
    };
    let body = &data[2..];
    let (group, version, kind) = (res.api.group, res.api.version, res.api.kind);

    let duplicates = duplicate_fields(body);
    if let Ok(reference) = serde_json::from_slice::<Value>(body) {
        let repeats = has_repeated_key(body);
        assert_eq!(
            !duplicates.is_empty(),
            repeats,
            "duplicate_fields found {duplicates:?}, a serde pass found repeats: {repeats}"
        );
        let mut copy = body.to_vec();
        match strategy::decode_object(&res, &mut copy) {
            Ok(obj) => {
                if !has_float(&reference) {
                    assert_eq!(
                        Value::Object(obj),
                        reference,
                        "simd-json read another value"
                    );
                }
            }
            Err(e) => assert!(
                !reference.is_object() || has_float(&reference) || big_int(body),
                "serde_json reads an object that simd-json refuses: {}",
                e.message
            ),
        }
    }

    let mut copy = body.to_vec();
    let Ok(obj) = strategy::decode_object(&res, &mut copy) else {
        return;
    };
    let dups = if directive == Directive::Ignore {
        Vec::new()
    } else {
        duplicates.clone()
    };

    let mut ignored = obj.clone();
    assert_eq!(
        check_body(
            (group, version),
            kind,
            &mut ignored,
            Directive::Ignore,
            &dups
        )
        .map_err(|e| e.message),
        Ok(Vec::new())
    );
    let mut warned = obj.clone();
    let warnings = check_body(
        (group, version),
        kind,
        &mut warned,
        Directive::Warn,
        &duplicates,
    )
    .unwrap_or_else(|e| panic!("Warn failed: {}", e.message));
    let mut strict = obj.clone();
    let strict_result = check_body(
        (group, version),
        kind,
        &mut strict,
        Directive::Strict,
        &duplicates,
    );
    assert_eq!(
        strict_result.is_err(),
        !warnings.is_empty(),
        "Strict vs Warn: {warnings:?}"
    );
    if let Ok(w) = &strict_result {
        assert!(w.is_empty());
    }
    let mut again = warned.clone();
    let left = check_body((group, version), kind, &mut again, Directive::Strict, &[]);
    assert!(
        left.is_ok(),
        "unknown fields left after Warn removed them: {}",
        left.err().map(|e| e.message).unwrap_or_default()
    );
    assert_eq!(again, warned, "a second pass removed more");

    let mut obj = match directive {
        Directive::Ignore => ignored,
        Directive::Warn => warned,
        Directive::Strict => match strict_result {
            Ok(_) => strict,
            Err(_) => return,
        },
    };
    if let Some(conversion) = res.conversion {
        if strategy::check_type(res.api.api_version(), &mut obj, kind).is_err() {
            return;
        }
        match conversion.to_stored(obj) {
            Ok(stored) => {
                let _ = conversion.to_served(stored.clone());
                obj = stored;
            }
            Err(_) => return,
        }
    }
    res.normalize(&mut obj);
    let _ = serde_json::to_vec(&obj);
});

fn has_float(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.is_f64(),
        Value::Array(a) => a.iter().any(has_float),
        Value::Object(m) => m.values().any(has_float),
        _ => false,
    }
}

/// A digit run too long for a 64-bit integer (the parsers differ on those by design).
fn big_int(body: &[u8]) -> bool {
    let mut run = 0;
    for &b in body {
        run = if b.is_ascii_digit() { run + 1 } else { 0 };
        if run >= 19 {
            return true;
        }
    }
    false
}

/// Whether any object in `body` (valid JSON) gives a key twice, as serde_json decodes keys.
fn has_repeated_key(body: &[u8]) -> bool {
    let mut de = serde_json::Deserializer::from_slice(body);
    let mut found = false;
    let ok = Seed(&mut found).deserialize(&mut de).is_ok();
    ok && found
}

struct Seed<'a>(&'a mut bool);

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Seed(&mut *self.0))?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(k) = map.next_key::<String>()? {
            if !seen.insert(k) {
                *self.0 = true;
            }
            map.next_value_seed(Seed(&mut *self.0))?;
        }
        Ok(())
    }
}
