//! Duplicate fields in a JSON body (`{"a":1,"a":2}`): parsers keep the last one silently, so
//! `fieldValidation` finds them in the raw bytes, before the body is decoded. Paths are named
//! as upstream's strict decoder names them: `spec.replicas`, `spec.containers[0].name`.

/// The paths of every field that appears more than once in its object, in body order.
/// Bytes that are not JSON yield what was found before them (the decoder reports the error).
pub fn duplicate_fields(body: &[u8]) -> Vec<String> {
    let mut scan = Scan {
        b: body,
        pos: 0,
        found: Vec::new(),
    };
    scan.value("", 0);
    scan.found
}

/// Nesting deeper than this is not scanned.
const MAX_DEPTH: usize = 128;

struct Scan<'a> {
    b: &'a [u8],
    pos: usize,
    found: Vec<String>,
}

impl Scan<'_> {
    fn ws(&mut self) {
        while self
            .b
            .get(self.pos)
            .is_some_and(|c| c.is_ascii_whitespace())
        {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.pos).copied()
    }

    /// A string starting at the current quote; returns its unescaped text.
    fn string(&mut self) -> Option<String> {
        let start = self.pos;
        self.pos += 1;
        while let Some(&c) = self.b.get(self.pos) {
            self.pos += 1;
            match c {
                b'\\' => self.pos += 1,
                b'"' => return serde_json::from_slice(&self.b[start..self.pos]).ok(),
                _ => {}
            }
        }
        None
    }

    /// Scans one value; false when the bytes stop being JSON.
    fn value(&mut self, path: &str, depth: usize) -> bool {
        if depth > MAX_DEPTH {
            return false;
        }
        match self.peek() {
            Some(b'{') => self.object(path, depth),
            Some(b'[') => self.array(path, depth),
            Some(b'"') => self.string().is_some(),
            Some(_) => {
                while self
                    .b
                    .get(self.pos)
                    .is_some_and(|c| !matches!(c, b',' | b'}' | b']') && !c.is_ascii_whitespace())
                {
                    self.pos += 1;
                }
                true
            }
            None => false,
        }
    }

    fn object(&mut self, path: &str, depth: usize) -> bool {
        self.pos += 1;
        let mut seen = std::collections::HashSet::new();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return true;
        }
        loop {
            if self.peek() != Some(b'"') {
                return false;
            }
            let Some(key) = self.string() else {
                return false;
            };
            let field = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            if !seen.insert(key) {
                self.found.push(field.clone());
            }
            if self.peek() != Some(b':') {
                return false;
            }
            self.pos += 1;
            if !self.value(&field, depth + 1) {
                return false;
            }
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return true;
                }
                _ => return false,
            }
        }
    }

    fn array(&mut self, path: &str, depth: usize) -> bool {
        self.pos += 1;
        if self.peek() == Some(b']') {
            self.pos += 1;
            return true;
        }
        let mut i = 0;
        loop {
            if !self.value(&format!("{path}[{i}]"), depth + 1) {
                return false;
            }
            i += 1;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return true;
                }
                _ => return false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_duplicates_at_any_depth_with_upstreams_paths() {
        let body = br#"{"kind":"Deployment","metadata":{"name":"a","name":"b"},
            "spec":{"replicas":1,"template":{"spec":{"containers":[
                {"name":"c","image":"x","image":"y"}]}},"replicas":2},"kind":"Deployment"}"#;
        assert_eq!(
            duplicate_fields(body),
            [
                "metadata.name",
                "spec.template.spec.containers[0].image",
                "spec.replicas",
                "kind"
            ]
        );
    }

    #[test]
    fn escaped_keys_and_values_and_garbage() {
        assert!(
            duplicate_fields(br#"{"a":"x\"y","b":[1,2,{"c":null}],"a\u0062":true}"#).is_empty()
        );
        assert_eq!(duplicate_fields(br#"{"ab":1,"a\u0062":2}"#), ["ab"]);
        assert!(duplicate_fields(b"{\"a\":").is_empty());
        assert!(duplicate_fields(b"").is_empty());
        let deep = "[".repeat(10_000);
        assert!(duplicate_fields(deep.as_bytes()).is_empty());
    }
}
