//! `kubeshard`: options -> complete() -> validate() -> run().
#![forbid(unsafe_code)]

use kubeshard::options::{self, Invocation};
use kubeshard::server::{self, version::VersionInfo};

fn main() {
    let opts = match options::parse(std::env::args_os()) {
        Ok(Invocation::Version) => {
            println!("{}", VersionInfo::current().short());
            return;
        }
        Ok(Invocation::Run(o)) => o.complete(),
        Err((text, code)) => {
            if code == 0 {
                print!("{text}");
            } else {
                eprintln!("{text}");
            }
            std::process::exit(code);
        }
    };
    let errs = opts.validate();
    if !errs.is_empty() {
        for e in &errs {
            eprintln!("Error: {e}");
        }
        std::process::exit(1);
    }
    init_logging(opts.verbosity);
    std::process::exit(server::run(opts));
}

/// klog-like verbosity: 0-1 info, 2-4 debug, 5+ trace; RUST_LOG overrides.
fn init_logging(v: u8) {
    let level = match v {
        0..=1 => log::LevelFilter::Info,
        2..=4 => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    };
    let mut b = env_logger::Builder::new();
    b.filter_level(level)
        .filter_module("rustls", log::LevelFilter::Warn)
        .filter_module("h2", log::LevelFilter::Warn);
    if let Ok(spec) = std::env::var("RUST_LOG") {
        b.parse_filters(&spec);
    }
    b.init();
}
