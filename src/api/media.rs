//! Media types: Accept headers read as goautoneg reads them (upstream's negotiation), media
//! ranges with their parameters, by falling q; and the media type of a Content-Type. Discovery,
//! the REST verbs, OpenAPI and the protobuf encoding all choose from these clauses.

/// One media range of an Accept header.
#[derive(Debug)]
pub struct Clause<'a> {
    /// Type (`application`, `*`).
    pub ty: &'a str,
    /// Subtype (`json`, `vnd.kubernetes.protobuf`, `*`).
    pub sub: &'a str,
    /// Quality.
    pub q: f64,
    /// Parameters other than `q`, in order.
    pub params: Vec<(&'a str, &'a str)>,
}

impl Clause<'_> {
    /// A parameter's value.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }

    /// Whether this range covers `application/<sub>`.
    pub fn covers(&self, sub: &str) -> bool {
        (self.ty == "application" && (self.sub == sub || self.sub == "*"))
            || (self.ty == "*" && self.sub == "*")
    }
}

/// Splits `s` at the first `sep`, as goautoneg does.
fn split_once_or_all(s: &str, sep: char) -> (&str, &str) {
    s.split_once(sep).unwrap_or((s, ""))
}

/// goautoneg's ParseAccept: clauses by falling q, then specific types before wildcards,
/// otherwise in the client's order.
pub fn parse_accept(header: &str) -> Vec<Clause<'_>> {
    fn trim(s: &str) -> &str {
        s.trim_matches(' ')
    }
    let mut out = Vec::new();
    for part in header.split(',') {
        let part = trim(part);
        if part.is_empty() {
            continue;
        }
        let (media, mut rest) = split_once_or_all(part, ';');
        let (ty, sub) = match media.split_once('/') {
            None if trim(media) == "*" => ("*", "*"),
            None => continue,
            Some((_, s)) if s.contains('/') => continue,
            Some((t, s)) => (trim(t), trim(s)),
        };
        let mut clause = Clause {
            ty,
            sub,
            q: 1.0,
            params: Vec::new(),
        };
        while !rest.is_empty() {
            let (p, r) = split_once_or_all(rest, ';');
            rest = r;
            let Some((k, v)) = p.split_once('=') else {
                continue;
            };
            if v.contains('=') {
                continue;
            }
            let k = trim(k);
            if k == "q" {
                clause.q = v.parse().unwrap_or(0.0);
            } else {
                clause.params.push((k, trim(v)));
            }
        }
        out.push(clause);
    }
    let rank = |c: &Clause<'_>| (c.ty == "*", c.sub == "*");
    out.sort_by(|a, b| {
        b.q.partial_cmp(&a.q)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| rank(a).cmp(&rank(b)))
    });
    out
}

/// The media type of a Content-Type value, lower-cased, without parameters.
pub fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_parsing_sorts_like_goautoneg() {
        let c = parse_accept("*/*;q=0.8, text/*, application/json;q=0.9 ,text/plain;x=1");
        let got: Vec<(&str, &str)> = c.iter().map(|c| (c.ty, c.sub)).collect();
        assert_eq!(
            got,
            vec![
                ("text", "plain"),
                ("text", "*"),
                ("application", "json"),
                ("*", "*")
            ]
        );
        assert_eq!(c[0].param("x"), Some("1"));
        assert!(parse_accept("bogus,a/b/c").is_empty());
        assert_eq!(
            media_type("Application/JSON; charset=utf-8"),
            "application/json"
        );
    }
}
