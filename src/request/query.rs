//! A request's query parameters, decoded once, with the typed readers the options parsers use.
//! Booleans read as upstream's query decoder reads them (`Convert_Slice_string_To_bool`): a
//! present parameter is false only for `0` or `false` in any case, and true for anything
//! else — `true`, `True`, `1`, even an empty value; an absent one is false (or unset).

use super::info::url_pairs;

/// Query parameters of a request, as given (decoded, in order).
#[derive(Debug, Default, Clone)]
pub struct Query(Vec<(String, String)>);

impl Query {
    /// Parses a query string (None: no query).
    pub fn parse(q: Option<&str>) -> Self {
        Self(url_pairs(q.unwrap_or_default()).collect())
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `key`, None when absent or empty.
    pub fn non_empty(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|v| !v.is_empty())
    }

    /// Every value of `key`, in order.
    pub fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean switch: false when absent, else as [`parse_bool`] reads its value.
    pub fn flag(&self, key: &str) -> bool {
        self.bool_opt(key).unwrap_or(false)
    }

    /// A boolean that may be unset (`sendInitialEvents`, `orphanDependents`).
    pub fn bool_opt(&self, key: &str) -> Option<bool> {
        self.get(key).map(parse_bool)
    }
}

/// A present boolean query value, as upstream decodes it: false for `0` and for `false` in any
/// case, true for everything else.
pub fn parse_bool(value: &str) -> bool {
    !(value == "0" || value.eq_ignore_ascii_case("false"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_values_flags_and_dry_run() {
        let q = Query::parse(Some(
            "watch=1&labelSelector=a%3Db&dryRun=x&dryRun=All&limit=",
        ));
        assert!(q.flag("watch"));
        assert_eq!(q.get("labelSelector"), Some("a=b"));
        assert_eq!(q.all("dryRun").collect::<Vec<_>>(), ["x", "All"]);
        assert_eq!(q.get("limit"), Some(""));
        assert_eq!(q.non_empty("limit"), None);
        assert!(!Query::parse(None).flag("watch"));
    }

    #[test]
    fn booleans_as_upstream_decodes_them() {
        for yes in ["1", "t", "T", "true", "True", "TRUE", "yes", ""] {
            assert!(parse_bool(yes), "{yes:?}");
        }
        for no in ["0", "false", "False", "FALSE", "fAlSe"] {
            assert!(!parse_bool(no), "{no:?}");
        }
        let q = Query::parse(Some("a=True&b=0&c"));
        assert_eq!(
            (
                q.bool_opt("a"),
                q.bool_opt("b"),
                q.bool_opt("c"),
                q.bool_opt("d")
            ),
            (Some(true), Some(false), Some(true), None)
        );
    }
}
