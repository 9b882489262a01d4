//! `--token-auth-file`: a CSV of static tokens, `token,user,uid[,"group1,group2"]`, read
//! once at start, as upstream's tokenfile authenticator reads it.

use std::collections::HashMap;
use std::path::Path;

use super::{Outcome, TokenAuthenticator};
use crate::request::UserInfo;

/// The tokens of one file.
#[derive(Debug, Default)]
pub struct TokenFile {
    users: HashMap<String, UserInfo>,
}

impl TokenFile {
    /// Reads `path`; errors name the line.
    pub fn read(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("--token-auth-file {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("--token-auth-file {}: {e}", path.display()))
    }

    /// Parses the CSV text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut users = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let fields = csv_fields(line);
            if fields.len() < 3 {
                return Err(format!(
                    "token file is invalid: line {}: expected at least 3 fields, got {}",
                    n + 1,
                    fields.len()
                ));
            }
            let groups = fields
                .get(3)
                .map(|g| {
                    g.split(',')
                        .map(str::trim)
                        .filter(|g| !g.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            users.insert(
                fields[0].clone(),
                UserInfo {
                    name: fields[1].clone(),
                    uid: fields[2].clone(),
                    groups,
                    ..UserInfo::default()
                },
            );
        }
        Ok(Self { users })
    }
}

/// The fields of one CSV line (double quotes group a field; `""` is a quote in it).
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    fields.push(cur);
    fields.into_iter().map(|f| f.trim().to_string()).collect()
}

impl TokenAuthenticator for TokenFile {
    fn name(&self) -> &'static str {
        "token-file"
    }

    fn authenticate(&self, token: &str) -> Outcome {
        match self.users.get(token) {
            Some(u) => Outcome::User(u.clone()),
            None => Outcome::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_upstreams_csv() {
        let f = TokenFile::parse("t1,alice,u1,\"dev,ops\"\n\nt2,bob,u2\n").unwrap_or_default();
        match f.authenticate("t1") {
            Outcome::User(u) => {
                assert_eq!((u.name.as_str(), u.uid.as_str()), ("alice", "u1"));
                assert_eq!(u.groups, ["dev", "ops"]);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(f.authenticate("t2"), Outcome::User(u) if u.groups.is_empty()));
        assert_eq!(f.authenticate("nope"), Outcome::Unknown);
        assert!(TokenFile::parse("only,two").is_err());
    }
}
