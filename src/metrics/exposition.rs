//! The text formats a scrape answers in: Prometheus text 0.0.4 by default, OpenMetrics 1.0
//! when the scraper asks for it (`Accept: application/openmetrics-text`), as upstream's
//! registry negotiates. Numbers are written as Go writes them (`1e+06`), so bucket labels
//! read the same as kube-apiserver's.

use std::fmt::Write;

use super::histogram::Histogram;

/// The exposition format of one scrape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `text/plain; version=0.0.4`.
    Prometheus,
    /// `application/openmetrics-text; version=1.0.0`.
    OpenMetrics,
}

impl Format {
    /// The format an `Accept` header asks for.
    pub fn negotiate(accept: Option<&str>) -> Self {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Prometheus,
        }
    }

    /// The answer's `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// A metric family's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up.
    Counter,
    /// Goes up and down.
    Gauge,
    /// Buckets, sum and count.
    Histogram,
}

/// How settled a metric is, shown in its help text as upstream's registry shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stability {
    /// `[ALPHA]`.
    Alpha,
    /// `[BETA]`.
    Beta,
    /// `[STABLE]`.
    Stable,
    /// kubeshard's own series and process gauges: no marker.
    Unmarked,
}

/// One scrape's text being written.
pub struct Exposition {
    out: String,
    format: Format,
    /// The family being written and its kind (a counter's samples get `_total` in OpenMetrics).
    current: (&'static str, Kind),
}

impl Exposition {
    /// An empty scrape in `format`.
    pub fn new(format: Format) -> Self {
        Self {
            out: String::with_capacity(16 * 1024),
            format,
            current: ("", Kind::Gauge),
        }
    }

    /// Starts a family: its `# HELP` and `# TYPE` lines.
    pub fn family(&mut self, name: &'static str, kind: Kind, stability: Stability, help: &str) {
        let marker = match stability {
            Stability::Alpha => "[ALPHA] ",
            Stability::Beta => "[BETA] ",
            Stability::Stable => "[STABLE] ",
            Stability::Unmarked => "",
        };
        let type_name = match kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        };
        // OpenMetrics names a counter family without its `_total`.
        let family = match (self.format, kind) {
            (Format::OpenMetrics, Kind::Counter) => name.strip_suffix("_total").unwrap_or(name),
            _ => name,
        };
        let _ = writeln!(self.out, "# HELP {family} {marker}{help}");
        let _ = writeln!(self.out, "# TYPE {family} {type_name}");
        self.current = (name, kind);
    }

    /// One sample of the current family (a counter or gauge).
    pub fn sample(&mut self, labels: &[(&str, &str)], value: f64) {
        let (name, kind) = self.current;
        let suffix = match (self.format, kind) {
            (Format::OpenMetrics, Kind::Counter) if !name.ends_with("_total") => "_total",
            _ => "",
        };
        self.out.push_str(name);
        self.out.push_str(suffix);
        self.labels(labels, None);
        self.out.push(' ');
        push_number(&mut self.out, value);
        self.out.push('\n');
    }

    /// One histogram series of the current family: its buckets, `_sum` and `_count`.
    pub fn histogram(&mut self, labels: &[(&str, &str)], h: &Histogram) {
        let name = self.current.0;
        let mut le = String::new();
        let bounds = h.bounds();
        for (i, count) in h.cumulative().enumerate() {
            le.clear();
            match bounds.get(i) {
                Some(b) => push_number(&mut le, *b),
                None => le.push_str("+Inf"),
            }
            let _ = write!(self.out, "{name}_bucket");
            self.labels(labels, Some(&le));
            let _ = writeln!(self.out, " {count}");
        }
        let _ = write!(self.out, "{name}_sum");
        self.labels(labels, None);
        self.out.push(' ');
        push_number(&mut self.out, h.sum());
        self.out.push('\n');
        let _ = write!(self.out, "{name}_count");
        self.labels(labels, None);
        let _ = writeln!(self.out, " {}", h.count());
    }

    fn labels(&mut self, labels: &[(&str, &str)], le: Option<&str>) {
        if labels.is_empty() && le.is_none() {
            return;
        }
        self.out.push('{');
        let mut first = true;
        let all = labels.iter().copied().chain(le.map(|v| ("le", v)));
        for (k, v) in all {
            if !first {
                self.out.push(',');
            }
            first = false;
            self.out.push_str(k);
            self.out.push_str("=\"");
            for c in v.chars() {
                match c {
                    '\\' => self.out.push_str("\\\\"),
                    '"' => self.out.push_str("\\\""),
                    '\n' => self.out.push_str("\\n"),
                    c => self.out.push(c),
                }
            }
            self.out.push('"');
        }
        self.out.push('}');
    }

    /// The text, with OpenMetrics' closing `# EOF`.
    pub fn finish(mut self) -> String {
        if self.format == Format::OpenMetrics {
            self.out.push_str("# EOF\n");
        }
        self.out
    }
}

/// Writes `v` as Go's `strconv.FormatFloat(v, 'g', -1, 64)` does: the shortest digits that
/// read back as `v`, in exponent form (`1e+06`, `1e-05`) when the exponent is below -4 or at
/// least 6.
fn push_number(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
        return;
    }
    if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
        return;
    }
    if v == 0.0 {
        out.push('0');
        return;
    }
    let sci = format!("{v:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..6).contains(&exp) {
        let _ = write!(out, "{v}");
        return;
    }
    let sign = if exp < 0 { '-' } else { '+' };
    let _ = write!(out, "{mantissa}e{sign}{:02}", exp.abs());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(v: f64) -> String {
        let mut s = String::new();
        push_number(&mut s, v);
        s
    }

    #[test]
    fn numbers_as_go_writes_them() {
        assert_eq!(num(0.005), "0.005");
        assert_eq!(num(1.0), "1");
        assert_eq!(num(1000.0), "1000");
        assert_eq!(num(131072.0), "131072");
        assert_eq!(num(1e6), "1e+06");
        assert_eq!(num(1e9), "1e+09");
        assert_eq!(num(2.5e7), "2.5e+07");
        assert_eq!(num(16.384), "16.384");
        assert_eq!(num(0.0), "0");
        assert_eq!(num(1e-5), "1e-05");
        assert_eq!(num(12.0), "12");
        assert_eq!(num(1234567.0), "1.234567e+06");
    }

    #[test]
    fn families_samples_and_histograms() {
        let mut e = Exposition::new(Format::Prometheus);
        e.family("x_total", Kind::Counter, Stability::Stable, "Things.");
        e.sample(&[("code", "200"), ("path", "a\"b")], 3.0);
        let mut h = Histogram::new(&[1.0, 1e6]);
        h.observe(0.5);
        e.family("y_seconds", Kind::Histogram, Stability::Alpha, "Times.");
        e.histogram(&[("verb", "GET")], &h);
        let text = e.finish();
        assert_eq!(
            text,
            "# HELP x_total [STABLE] Things.\n# TYPE x_total counter\nx_total{code=\"200\",path=\"a\\\"b\"} 3\n\
             # HELP y_seconds [ALPHA] Times.\n# TYPE y_seconds histogram\n\
             y_seconds_bucket{verb=\"GET\",le=\"1\"} 1\ny_seconds_bucket{verb=\"GET\",le=\"1e+06\"} 1\n\
             y_seconds_bucket{verb=\"GET\",le=\"+Inf\"} 1\ny_seconds_sum{verb=\"GET\"} 0.5\n\
             y_seconds_count{verb=\"GET\"} 1\n"
        );
    }

    #[test]
    fn openmetrics_counters_and_eof() {
        let mut e = Exposition::new(Format::OpenMetrics);
        e.family(
            "authentication_attempts",
            Kind::Counter,
            Stability::Alpha,
            "A.",
        );
        e.sample(&[("result", "success")], 1.0);
        e.family("x_total", Kind::Counter, Stability::Alpha, "B.");
        e.sample(&[], 2.0);
        let text = e.finish();
        assert!(text.contains("# TYPE authentication_attempts counter\nauthentication_attempts_total{result=\"success\"} 1\n"), "{text}");
        assert!(text.contains("# TYPE x counter\nx_total 2\n"), "{text}");
        assert!(text.ends_with("# EOF\n"));
        assert_eq!(
            Format::negotiate(Some(
                "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"
            )),
            Format::OpenMetrics
        );
        assert_eq!(Format::negotiate(None), Format::Prometheus);
    }
}
