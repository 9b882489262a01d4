//! Interned strings: names learned at run time (from configuration files, later from CRDs)
//! made `'static` once, so metric labels and table rows can hold them as `&'static str`.
//! Each distinct string is stored once for the life of the process.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

static INTERNED: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);

/// The process-wide copy of `s`.
pub fn intern(s: &str) -> &'static str {
    let mut set = INTERNED.lock().unwrap_or_else(PoisonError::into_inner);
    let set = set.get_or_insert_with(HashSet::new);
    if let Some(found) = set.get(s) {
        return found;
    }
    let leaked: &'static str = Box::leak(s.to_owned().into_boxed_str());
    set.insert(leaked);
    leaked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_copy_per_string() {
        let a = intern(&String::from("hook-a"));
        let b = intern(&String::from("hook-a"));
        assert!(std::ptr::eq(a, b));
        assert_eq!(intern("hook-b"), "hook-b");
    }
}
