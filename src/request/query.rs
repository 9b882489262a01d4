//! A request's query parameters, decoded once, with the typed readers the options parsers use.

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

    /// A boolean switch: true for `1`, `true` or `True`.
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("1" | "true" | "True"))
    }

    /// `dryRun=All` given.
    pub fn dry_run(&self) -> bool {
        self.all("dryRun").any(|v| v == "All")
    }
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
        assert!(q.dry_run());
        assert_eq!(q.get("limit"), Some(""));
        assert_eq!(q.non_empty("limit"), None);
        assert!(!Query::parse(None).flag("watch"));
    }
}
