//! CPU lists: parsing `--cpus` and reading the CPUs this process may run on.

use std::collections::BTreeSet;
use std::fmt;

/// An ordered, non-empty set of CPU ids: one shard runs on each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpuList(Vec<usize>);

/// Why a CPU list could not be parsed or used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum CpuListError {
    /// The text is not of the form `0,1` or `0-3` (or a mix).
    #[error("invalid CPU list {0:?}: expected ids and ranges such as 0,1 or 0-3")]
    Syntax(String),
    /// The list names no CPU.
    #[error("the CPU list is empty")]
    Empty,
    /// A CPU in the list is not one this process may run on.
    #[error("CPU {cpu} is not available to this process (allowed: {allowed})")]
    NotAllowed {
        /// The CPU asked for.
        cpu: usize,
        /// The CPUs the process may use.
        allowed: CpuList,
    },
    /// The affinity mask could not be read.
    #[error("cannot read the CPU affinity of this process: {0}")]
    Affinity(String),
}

impl CpuList {
    /// Parses a Linux-style CPU list: comma-separated ids and inclusive ranges.
    pub fn parse(text: &str) -> Result<Self, CpuListError> {
        let mut set = BTreeSet::new();
        for part in text.split(',').map(str::trim) {
            if part.is_empty() {
                return Err(CpuListError::Syntax(text.to_string()));
            }
            let bad = || CpuListError::Syntax(text.to_string());
            match part.split_once('-') {
                Some((lo, hi)) => {
                    let lo: usize = lo.trim().parse().map_err(|_| bad())?;
                    let hi: usize = hi.trim().parse().map_err(|_| bad())?;
                    if lo > hi || hi - lo > 4096 {
                        return Err(bad());
                    }
                    set.extend(lo..=hi);
                }
                None => {
                    set.insert(part.parse().map_err(|_| bad())?);
                }
            }
        }
        Self::from_ids(set)
    }

    /// The CPUs this process may run on (its scheduler affinity mask).
    pub fn allowed() -> Result<Self, CpuListError> {
        let ids = crate::rt::affinity::allowed_cpus()
            .map_err(|e| CpuListError::Affinity(e.to_string()))?;
        Self::from_ids(ids)
    }

    /// Fails when any CPU of `self` is outside `allowed`.
    pub fn check_within(&self, allowed: &CpuList) -> Result<(), CpuListError> {
        match self.0.iter().find(|c| !allowed.0.contains(c)) {
            Some(&cpu) => Err(CpuListError::NotAllowed {
                cpu,
                allowed: allowed.clone(),
            }),
            None => Ok(()),
        }
    }

    fn from_ids(ids: impl IntoIterator<Item = usize>) -> Result<Self, CpuListError> {
        let v: Vec<usize> = ids
            .into_iter()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if v.is_empty() {
            return Err(CpuListError::Empty);
        }
        Ok(Self(v))
    }

    /// The CPU ids, ascending.
    pub fn ids(&self) -> &[usize] {
        &self.0
    }

    /// How many CPUs (and so shards).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: a `CpuList` is never empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for CpuList {
    /// Compact form: `0-3,6`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut i = 0;
        let mut first = true;
        while i < self.0.len() {
            let start = self.0[i];
            let mut end = start;
            while i + 1 < self.0.len() && self.0[i + 1] == end + 1 {
                i += 1;
                end = self.0[i];
            }
            if !first {
                f.write_str(",")?;
            }
            first = false;
            if start == end {
                write!(f, "{start}")?;
            } else {
                write!(f, "{start}-{end}")?;
            }
            i += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn parses_ids_and_ranges() {
        assert_eq!(CpuList::parse("0,1").map(|c| c.0), Ok(vec![0, 1]));
        assert_eq!(CpuList::parse("0-3").map(|c| c.0), Ok(vec![0, 1, 2, 3]));
        assert_eq!(
            CpuList::parse("6, 0-2,1").map(|c| c.0),
            Ok(vec![0, 1, 2, 6])
        );
        assert_eq!(
            CpuList::parse("0-2,6").map(|c| c.to_string()),
            Ok("0-2,6".to_string())
        );
    }

    #[test]
    fn rejects_bad_lists() {
        for bad in ["", "a", "1-", "3-1", "1,,2", "-1", "0-999999"] {
            assert!(CpuList::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn allowed_is_nonempty_and_checks() {
        let allowed = CpuList::allowed().expect("affinity");
        assert!(!allowed.is_empty());
        let first = CpuList::parse(&allowed.ids()[0].to_string()).expect("parse");
        assert!(first.check_within(&allowed).is_ok());
        let far = CpuList::parse("4000").expect("parse");
        assert!(matches!(
            far.check_within(&allowed),
            Err(CpuListError::NotAllowed { cpu: 4000, .. })
        ));
    }
}
