//! Go-style durations (`500ms`, `1m0s`, `1h30m`, `1.5s`), as kube-apiserver's flags take them.

use std::time::Duration;

/// Why a duration string was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid duration {0:?}: expected a number with a unit, e.g. 500ms, 10s, 1m0s")]
pub struct DurationError(pub String);

/// Parses a Go `time.ParseDuration` string. Negative durations are rejected (no kubeshard
/// setting means anything by them).
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let err = || DurationError(text.to_string());
    let s = text.trim();
    let s = s.strip_prefix('+').unwrap_or(s);
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() || s.starts_with('-') {
        return Err(err());
    }
    let mut total_ns: u128 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(err)?;
        let (num, tail) = rest.split_at(num_len);
        if num.is_empty() || num == "." {
            return Err(err());
        }
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let scale: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(err()),
        };
        let (int, frac) = num.split_once('.').unwrap_or((num, ""));
        let int: u128 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| err())?
        };
        let mut ns = int.checked_mul(scale).ok_or_else(err)?;
        let mut div = 1u128;
        for d in frac.chars().take(18) {
            div *= 10;
            let digit = (u128::from(d.to_digit(10).ok_or_else(err)?) * scale) / div;
            ns = ns.checked_add(digit).ok_or_else(err)?;
        }
        total_ns = total_ns.checked_add(ns).ok_or_else(err)?;
        rest = tail;
    }
    let secs = u64::try_from(total_ns / 1_000_000_000).map_err(|_| err())?;
    Ok(Duration::new(secs, (total_ns % 1_000_000_000) as u32))
}

/// Formats a duration the way Go prints one (`1m0s`, `500ms`, `0s`).
pub fn format_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".into();
    }
    if ns < 1_000_000_000 {
        let (v, unit) = if ns < 1_000 {
            (ns as f64, "ns")
        } else if ns < 1_000_000 {
            (ns as f64 / 1e3, "µs")
        } else {
            (ns as f64 / 1e6, "ms")
        };
        return format!("{}{unit}", trim_float(v));
    }
    let total_s = d.as_secs();
    let h = total_s / 3600;
    let m = (total_s % 3600) / 60;
    let s = (total_s % 60) as f64 + f64::from(d.subsec_nanos()) / 1e9;
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&format!("{}s", trim_float(s)));
    out
}

fn trim_float(v: f64) -> String {
    let s = format!("{v:.9}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// serde helper: a `Duration` field written as a Go duration string.
pub mod serde_go {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    /// Reads `"32s"`-style strings.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        super::parse_duration(&s).map_err(serde::de::Error::custom)
    }

    /// Writes Go-style strings.
    pub fn serialize<S: Serializer>(v: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_duration(*v))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn parses_go_durations() {
        let ok = [
            ("0", Duration::ZERO),
            ("0s", Duration::ZERO),
            ("500ms", Duration::from_millis(500)),
            ("1m0s", Duration::from_secs(60)),
            ("1h30m", Duration::from_secs(5400)),
            ("1.5s", Duration::from_millis(1500)),
            ("10us", Duration::from_micros(10)),
            (
                "2h45m30.5s",
                Duration::from_millis((2 * 3600 + 45 * 60 + 30) * 1000 + 500),
            ),
        ];
        for (s, d) in ok {
            assert_eq!(parse_duration(s), Ok(d), "{s}");
        }
        for bad in ["", "10", "1x", "-1s", "s", "1.s.", "abc", "1m-3s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should fail");
        }
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(format_duration(Duration::from_secs(60)), "1m0s");
        assert_eq!(format_duration(Duration::ZERO), "0s");
        assert_eq!(format_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(format_duration(Duration::from_secs(3661)), "1h1m1s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
    }

    #[test]
    fn overflow_in_a_fraction_is_an_error() {
        // fuzz/go_duration (read off the code): the fraction's sum overflowed.
        assert!(parse_duration("340282366920938463463374607431768211.9us").is_err());
    }
}
