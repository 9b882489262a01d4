//! Go durations: `tuning::parse_duration` (every duration flag and tuning value, and
//! `kubeshard::options` through clap) and `tuning::format_duration` (Go's `String()`).
//!
//! Input: the duration text (lossy UTF-8).
//! Properties: never panics; what parses formats to Go's form, and that form parses back to
//! exactly the same duration (and formats the same again); surrounding spaces and a leading
//! `+` do not change the value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tuning::{format_duration, parse_duration};

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let Ok(d) = parse_duration(&s) else {
        return;
    };
    let text = format_duration(d);
    let back = parse_duration(&text).unwrap_or_else(|e| {
        panic!("{s:?} parsed as {d:?}, whose form {text:?} does not parse: {e}")
    });
    assert_eq!(back, d, "{s:?} -> {d:?} -> {text:?} -> {back:?}");
    assert_eq!(format_duration(back), text);
    let t = s.trim();
    if !t.starts_with('+') {
        assert_eq!(
            parse_duration(&format!(" +{t} ")),
            Ok(d),
            "{s:?} with a leading +"
        );
    }
});
