//! The `process_*` gauges every Prometheus client exports, read from `/proc/self` at the
//! scrape (nothing is kept between scrapes).

use super::exposition::{Exposition, Kind, Stability};

/// Linux reports CPU times and start times in USER_HZ ticks, fixed at 100 by the user ABI.
const TICKS_PER_SECOND: f64 = 100.0;

/// Writes what `/proc` tells of this process; a file that cannot be read leaves its gauges
/// out rather than failing the scrape.
pub fn write(e: &mut Exposition) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) in its parentheses.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // `rest` starts at field 3 (state): field n is fields[n - 3].
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<f64>().ok());
    if let (Some(user), Some(system)) = (field(14), field(15)) {
        e.family(
            "process_cpu_seconds_total",
            Kind::Counter,
            Stability::Unmarked,
            "Total user and system CPU time spent in seconds.",
        );
        e.sample(&[], (user + system) / TICKS_PER_SECOND);
    }
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let max_fds = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse::<f64>().ok());
    if let Some(max) = max_fds {
        e.family(
            "process_max_fds",
            Kind::Gauge,
            Stability::Unmarked,
            "Maximum number of open file descriptors.",
        );
        e.sample(&[], max);
    }
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        e.family(
            "process_open_fds",
            Kind::Gauge,
            Stability::Unmarked,
            "Number of open file descriptors.",
        );
        e.sample(&[], dir.count() as f64);
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map(|v| v * 1024.0)
    };
    if let Some(rss) = kib("VmRSS:") {
        e.family(
            "process_resident_memory_bytes",
            Kind::Gauge,
            Stability::Unmarked,
            "Resident memory size in bytes.",
        );
        e.sample(&[], rss);
    }
    let boot = std::fs::read_to_string("/proc/stat")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse::<f64>().ok());
    if let (Some(boot), Some(start)) = (boot, field(22)) {
        e.family(
            "process_start_time_seconds",
            Kind::Gauge,
            Stability::Unmarked,
            "Start time of the process since unix epoch in seconds.",
        );
        e.sample(&[], boot + start / TICKS_PER_SECOND);
    }
    if let Some(size) = kib("VmSize:") {
        e.family(
            "process_virtual_memory_bytes",
            Kind::Gauge,
            Stability::Unmarked,
            "Virtual memory size in bytes.",
        );
        e.sample(&[], size);
    }
}

#[cfg(test)]
mod tests {
    use super::super::exposition::Format;
    use super::*;

    #[test]
    fn reads_this_process() {
        let mut e = Exposition::new(Format::Prometheus);
        write(&mut e);
        let text = e.finish();
        for name in [
            "process_cpu_seconds_total ",
            "process_max_fds ",
            "process_open_fds ",
            "process_resident_memory_bytes ",
            "process_start_time_seconds ",
            "process_virtual_memory_bytes ",
        ] {
            assert!(
                text.contains(&format!("\n{name}")),
                "{name} missing: {text}"
            );
        }
    }
}
