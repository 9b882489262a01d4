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
    kubeshard::logs::init(
        kubeshard::logs::Format::parse(&opts.logging_format).unwrap_or_default(),
        opts.verbosity,
    );
    std::process::exit(server::run(opts));
}
