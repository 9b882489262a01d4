//! kubeshard's own flags: the data directory, CPUs and tuning profile.

use std::path::PathBuf;

use shards::cpus::CpuList;
use tuning::Tuning;

/// Where data lives, which CPUs run shards, and which tuning profile applies.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Shards and tuning flags")]
pub struct ShardOptions {
    /// Directory for the embedded store and the bootstrap PKI (created if missing).
    #[arg(
        long = "data-dir",
        value_name = "string",
        default_value = "./kubeshard-data"
    )]
    pub data_dir: PathBuf,
    /// CPUs to run shards on, one shard per CPU (a list such as 0,1 or 0-3). Default: every
    /// CPU this process may run on.
    #[arg(long = "cpus", value_name = "list", value_parser = CpuList::parse)]
    pub cpus: Option<CpuList>,
    /// A TOML file of tuning knobs (see tuning/profiles/); unnamed knobs keep their defaults.
    #[arg(long = "tuning-profile", value_name = "file")]
    pub tuning_profile: Option<PathBuf>,
}

impl ShardOptions {
    /// Problems with these flags.
    pub fn validate(&self) -> Vec<String> {
        let mut errs = Vec::new();
        match (CpuList::allowed(), &self.cpus) {
            (Ok(allowed), Some(cpus)) => {
                if let Err(e) = cpus.check_within(&allowed) {
                    errs.push(format!("--cpus: {e}"));
                }
            }
            (Err(e), _) => errs.push(format!("--cpus: {e}")),
            _ => {}
        }
        if let Some(p) = &self.tuning_profile {
            if let Err(e) = Tuning::load(p) {
                errs.push(format!("--tuning-profile: {e}"));
            }
        }
        errs
    }

    /// The CPUs to run on: the flag, or every allowed CPU.
    pub fn cpu_list(&self) -> Result<CpuList, String> {
        match &self.cpus {
            Some(c) => Ok(c.clone()),
            None => CpuList::allowed().map_err(|e| e.to_string()),
        }
    }

    /// The tuning profile in force (defaults without the flag).
    pub fn tuning(&self) -> Result<Tuning, String> {
        match &self.tuning_profile {
            Some(p) => Tuning::load(p).map_err(|e| e.to_string()),
            None => Ok(Tuning::default()),
        }
    }
}
