//! Logs as kube-apiserver writes them: klog's text lines by default
//! (`I1203 17:10:21.123456   4242 mod.rs:231] message`), or with `--logging-format=json`
//! component-base's JSON lines (`{"ts":…,"caller":"server/mod.rs:231","msg":"…","v":0}`);
//! `-v` sets the verbosity. Structured entries (`info_s`, the request log) carry key/value
//! pairs in both formats. Checking a verbosity is one relaxed atomic load, so code on the
//! request path logs nothing and costs nothing at the default level.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::atomic::{AtomicU8, Ordering};

/// The line format (`--logging-format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    /// klog text.
    #[default]
    Text,
    /// component-base JSON.
    Json,
}

impl Format {
    /// The flag's value, or upstream's error text.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => Err(format!(
                "--logging-format: Unsupported value: {other:?}: supported values: \"json\", \"text\""
            )),
        }
    }
}

static VERBOSITY: AtomicU8 = AtomicU8::new(0);
static FORMAT: AtomicU8 = AtomicU8::new(0);

/// Whether entries of verbosity `v` are written (`-v` is at least `v`).
pub fn enabled(v: u8) -> bool {
    VERBOSITY.load(Ordering::Relaxed) >= v
}

fn format() -> Format {
    if FORMAT.load(Ordering::Relaxed) == 1 {
        Format::Json
    } else {
        Format::Text
    }
}

/// A value of a structured entry.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    /// Written quoted.
    Str(&'a str),
    /// Written as a number.
    Int(i64),
}

/// Installs the logger: `format`, verbosity `v` (0–1 info, 2–4 debug, 5+ trace records of
/// the `log` crate; `RUST_LOG` overrides per module).
pub fn init(format: Format, v: u8) {
    VERBOSITY.store(v, Ordering::Relaxed);
    FORMAT.store(u8::from(format == Format::Json), Ordering::Relaxed);
    let level = match v {
        0..=1 => log::LevelFilter::Info,
        2..=4 => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    };
    let mut b = env_logger::Builder::new();
    b.filter_level(level)
        .filter_module("rustls", log::LevelFilter::Warn)
        .filter_module("h2", log::LevelFilter::Warn)
        .format(move |out, record| {
            let caller = caller(record.file(), record.line());
            let line = match format {
                Format::Text => text_line(
                    severity(record.level()),
                    &caller,
                    &record.args().to_string(),
                    &[],
                ),
                Format::Json => json_line(
                    &caller,
                    &record.args().to_string(),
                    verbosity_of(record.level()),
                    &[],
                ),
            };
            out.write_all(line.as_bytes())
        });
    if let Ok(spec) = std::env::var("RUST_LOG") {
        b.parse_filters(&spec);
    }
    b.init();
}

/// A structured info entry at verbosity `v` (klog's `V(v).InfoS`), from `caller`
/// (`file.rs:line`), if `-v` allows it.
pub fn info_s(v: u8, caller: &str, msg: &str, kvs: &[(&str, Value<'_>)]) {
    if !enabled(v) {
        return;
    }
    let line = match format() {
        Format::Text => text_line('I', caller, &quoted(msg), kvs),
        Format::Json => json_line(caller, msg, Some(v), kvs),
    };
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

fn severity(l: log::Level) -> char {
    match l {
        log::Level::Error => 'E',
        log::Level::Warn => 'W',
        _ => 'I',
    }
}

/// JSON's `v` (None for errors, which upstream writes without one).
fn verbosity_of(l: log::Level) -> Option<u8> {
    match l {
        log::Level::Error => None,
        log::Level::Warn | log::Level::Info => Some(0),
        log::Level::Debug => Some(2),
        log::Level::Trace => Some(5),
    }
}

/// `dir/file.rs:line` (klog text keeps only the file name).
fn caller(file: Option<&str>, line: Option<u32>) -> String {
    let file = file.unwrap_or("???");
    let short = file.strip_prefix("src/").unwrap_or(file);
    format!("{short}:{}", line.unwrap_or(0))
}

fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// klog's header and the message, then ` key="value"` pairs.
fn text_line(severity: char, caller: &str, msg: &str, kvs: &[(&str, Value<'_>)]) -> String {
    let now = time::OffsetDateTime::now_utc();
    let file = caller.rsplit('/').next().unwrap_or(caller);
    let mut line = format!(
        "{severity}{:02}{:02} {:02}:{:02}:{:02}.{:06} {:>7} {file}] {msg}",
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.microsecond(),
        std::process::id(),
    );
    for (k, v) in kvs {
        let _ = match v {
            Value::Str(s) => write!(line, " {k}={}", quoted(s)),
            Value::Int(n) => write!(line, " {k}={n}"),
        };
    }
    line.push('\n');
    line
}

/// component-base's JSON line: ts (seconds), caller, msg, v, then the pairs.
fn json_line(caller: &str, msg: &str, v: Option<u8>, kvs: &[(&str, Value<'_>)]) -> String {
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let mut line = format!(
        "{{\"ts\":{ts:.6},\"caller\":{},\"msg\":{}",
        quoted(caller),
        quoted(msg)
    );
    if let Some(v) = v {
        let _ = write!(line, ",\"v\":{v}");
    }
    for (k, val) in kvs {
        let _ = match val {
            Value::Str(s) => write!(line, ",{}:{}", quoted(k), quoted(s)),
            Value::Int(n) => write!(line, ",{}:{n}", quoted(k)),
        };
    }
    line.push_str("}\n");
    line
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn text_lines_have_klogs_header_and_quoted_pairs() {
        let l = text_line(
            'I',
            "filters/chain.rs:12",
            "\"HTTP\"",
            &[("verb", Value::Str("GET")), ("resp", Value::Int(200))],
        );
        let (head, rest) = l.split_once("] ").unwrap();
        assert!(
            head.starts_with('I') && head.ends_with(" chain.rs:12"),
            "{head}"
        );
        assert_eq!(head.as_bytes()[5], b' ');
        assert_eq!(rest, "\"HTTP\" verb=\"GET\" resp=200\n");
    }

    #[test]
    fn json_lines_are_component_base_objects() {
        let l = json_line(
            "server/mod.rs:9",
            "m",
            Some(3),
            &[("URI", Value::Str("/a\"b"))],
        );
        let v: serde_json::Value = serde_json::from_str(&l).unwrap();
        assert_eq!(v["caller"], "server/mod.rs:9");
        assert_eq!((v["msg"].as_str(), v["v"].as_u64()), (Some("m"), Some(3)));
        assert_eq!(v["URI"], "/a\"b");
        assert!(v["ts"].as_f64().unwrap() > 1.6e9);
        let e = json_line("x.rs:1", "bad", None, &[]);
        assert!(!e.contains("\"v\""));
        assert_eq!(
            Format::parse("xml").unwrap_err(),
            "--logging-format: Unsupported value: \"xml\": supported values: \"json\", \"text\""
        );
    }
}
