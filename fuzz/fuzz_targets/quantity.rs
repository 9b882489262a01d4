//! Resource quantities: `kubeshard::registry::quantity::Quantity::parse` (`500m`, `1.5Gi`,
//! `2e3`), `checked_add` and the ordering used to compare requests and limits.
//!
//! Input: the quantity text (lossy UTF-8).
//! Properties: never panics; a parsed quantity's canonical strings (`<billionths>n`, and the
//! plain decimal `<units>.<9 digits>`) parse back to the same value; `+`, surrounding spaces
//! and a redundant decimal suffix do not change it; negation negates it; adding zero and the
//! sign helpers agree with the value.
#![no_main]

use kubeshard::registry::quantity::Quantity;
use libfuzzer_sys::fuzz_target;

const NANO: i128 = 1_000_000_000;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let Some(q) = Quantity::parse(&s) else {
        return;
    };
    let nanos = format!("{}n", q.0);
    assert_eq!(
        Quantity::parse(&nanos),
        Some(q),
        "{s:?} -> {q:?} -> {nanos:?}"
    );
    let sign = if q.0 < 0 { "-" } else { "" };
    let abs = q.0.unsigned_abs();
    let decimal = format!("{sign}{}.{:09}", abs / NANO as u128, abs % NANO as u128);
    assert_eq!(
        Quantity::parse(&decimal),
        Some(q),
        "{s:?} -> {q:?} -> {decimal:?}"
    );

    let t = s.trim();
    if !t.starts_with(['+', '-']) {
        assert_eq!(
            Quantity::parse(&format!(" +{t} ")),
            Some(q),
            "{s:?} with a leading +"
        );
        if let Some(neg) = Quantity::parse(&format!("-{t}")) {
            assert_eq!(neg.0, -q.0, "{s:?} negated");
        }
    }
    assert_eq!(q.checked_add(Quantity(0)), Some(q));
    assert_eq!(q.is_positive(), q > Quantity(0));
    if let Some(sum) = q.checked_add(q) {
        assert_eq!(sum.0, q.0 * 2);
        assert!(q.0 == 0 || (sum > q) == q.is_positive());
    }
});
