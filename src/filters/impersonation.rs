//! Impersonation: `Impersonate-User`, `Impersonate-Group` (repeatable), `Impersonate-Uid` and
//! `Impersonate-Extra-<key>` make the request act as another user, when the authenticated user
//! may `impersonate` each of them (users, groups, serviceaccounts, and in
//! `authentication.k8s.io` uids and userextras/<key>), as upstream's impersonation filter
//! checks; the impersonated user gets `system:authenticated` (or `system:unauthenticated` for
//! `system:anonymous`) and a ServiceAccount's groups, as upstream adds them.

use std::collections::BTreeMap;

use hyper::{Request, Response};
use shards::server::Body;

use crate::api::status::Status;
use crate::authn::anonymous::{ANONYMOUS, UNAUTHENTICATED};
use crate::authn::SYSTEM_AUTHENTICATED;
use crate::authz::{forbidden, Attributes, AuthorizerChain, Decision};
use crate::request::UserInfo;

const USER: &str = "impersonate-user";
const GROUP: &str = "impersonate-group";
const UID: &str = "impersonate-uid";
const EXTRA_PREFIX: &str = "impersonate-extra-";
const AUTHENTICATION_V1: &str = "authentication.k8s.io/v1";

/// Why a request may not act as whom it asks to.
#[derive(Debug)]
pub enum Refusal {
    /// The requester may not impersonate a part (403, upstream's text).
    Forbidden(Status),
    /// Groups, extras or a uid without `Impersonate-User`: upstream answers this with a
    /// plain-text 500 naming what was asked for (Go's `%v` of the object references).
    WithoutUser(String),
}

impl Refusal {
    /// The answer, as upstream writes it for `request_uri`.
    pub fn response(&self, request_uri: &str) -> Response<Body> {
        match self {
            Refusal::Forbidden(s) => crate::endpoints::response::status(s),
            Refusal::WithoutUser(asked) => crate::endpoints::response::internal_error(
                request_uri,
                &format!("requested {asked} without impersonating a user"),
            ),
        }
    }

    /// The HTTP code of the answer.
    pub fn code(&self) -> u16 {
        match self {
            Refusal::Forbidden(s) => s.code,
            Refusal::WithoutUser(_) => 500,
        }
    }
}

/// Go's `%v` of a `v1.ObjectReference` with these fields (the others empty).
fn object_reference(kind: &str, name: &str, api_version: &str, field_path: &str) -> String {
    format!("{{{kind}  {name}  {api_version}  {field_path}}}")
}

/// Whether the request asks to impersonate anyone (any `Impersonate-*` header).
pub fn requested<B>(req: &Request<B>) -> bool {
    req.headers()
        .keys()
        .any(|k| k.as_str().starts_with("impersonate-"))
}

/// The user the request acts as: `user` itself when it impersonates nobody, the impersonated
/// user when every part is allowed, else the refusal to answer.
pub async fn apply<B>(
    authz: &AuthorizerChain,
    user: UserInfo,
    req: &Request<B>,
) -> Result<UserInfo, Refusal> {
    let h = req.headers();
    let values = |name: &str| -> Vec<String> {
        h.get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_string)
            .collect()
    };
    let name = values(USER).into_iter().next();
    let groups = values(GROUP);
    let uid = values(UID).into_iter().next();
    let mut extra: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in h.iter() {
        if let Some(key) = k.as_str().strip_prefix(EXTRA_PREFIX) {
            if let Ok(v) = v.to_str() {
                extra
                    .entry(percent_decode(key))
                    .or_default()
                    .push(v.to_string());
            }
        }
    }
    let Some(name) = name else {
        if groups.is_empty() && uid.is_none() && extra.is_empty() {
            return Ok(user);
        }
        let mut asked: Vec<String> = groups
            .iter()
            .map(|g| object_reference("Group", g, "", ""))
            .collect();
        for (k, vs) in &extra {
            for v in vs {
                asked.push(object_reference("UserExtra", v, AUTHENTICATION_V1, k));
            }
        }
        if let Some(u) = &uid {
            asked.push(object_reference("UID", u, AUTHENTICATION_V1, ""));
        }
        return Err(Refusal::WithoutUser(format!("[{}]", asked.join(" "))));
    };
    let sa = name
        .strip_prefix("system:serviceaccount:")
        .and_then(|rest| rest.split_once(':'));
    // Every part the user wants to act as must be allowed.
    let mut checks: Vec<(&str, &str, &str, &str, String)> = Vec::new();
    match sa {
        Some((ns, sa_name)) => checks.push(("", "serviceaccounts", "", ns, sa_name.to_string())),
        None => checks.push(("", "users", "", "", name.clone())),
    }
    for g in &groups {
        checks.push(("", "groups", "", "", g.clone()));
    }
    if let Some(u) = &uid {
        checks.push(("authentication.k8s.io", "uids", "", "", u.clone()));
    }
    for (k, vs) in &extra {
        for v in vs {
            checks.push((
                "authentication.k8s.io",
                "userextras",
                k.as_str(),
                "",
                v.clone(),
            ));
        }
    }
    for (group, resource, sub, ns, object) in &checks {
        let a = Attributes {
            user: &user,
            verb: "impersonate",
            resource_request: true,
            namespace: ns,
            api_group: group,
            api_version: "",
            resource,
            subresource: sub,
            name: object,
            path: "",
        };
        match authz.authorize(&a).await {
            Decision::Allow(_) => {}
            Decision::Deny(r) | Decision::NoOpinion(r) | Decision::Error(r) => {
                return Err(Refusal::Forbidden(forbidden(&a, &r)))
            }
        }
    }
    let mut groups = groups;
    if let Some((ns, _)) = sa {
        for g in [
            "system:serviceaccounts".to_string(),
            format!("system:serviceaccounts:{ns}"),
        ] {
            if !groups.contains(&g) {
                groups.push(g);
            }
        }
    }
    if name == ANONYMOUS {
        if !groups.iter().any(|g| g == UNAUTHENTICATED) {
            groups.push(UNAUTHENTICATED.into());
        }
    } else if !groups
        .iter()
        .any(|g| g == SYSTEM_AUTHENTICATED || g == UNAUTHENTICATED)
    {
        groups.push(SYSTEM_AUTHENTICATED.into());
    }
    Ok(UserInfo {
        name,
        uid: uid.unwrap_or_default(),
        groups,
        extra,
    })
}

/// `%XX` escapes decoded (extra keys travel percent-encoded in header names).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |j: usize| b.get(j).and_then(|c| (*c as char).to_digit(16));
        match (b[i], hex(i + 1), hex(i + 2)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::rc::Rc;

    use super::*;
    use crate::authz::{AlwaysAllow, AlwaysDeny};

    fn req(headers: &[(&str, &str)]) -> Request<()> {
        let mut b = Request::builder();
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap()
    }

    fn run(
        authz: &AuthorizerChain,
        user: UserInfo,
        req: &Request<()>,
    ) -> Result<UserInfo, Refusal> {
        futures_lite::future::block_on(apply(authz, user, req))
    }

    fn ok(r: Result<UserInfo, Refusal>) -> UserInfo {
        r.unwrap_or_else(|s| panic!("refused: {}", s.code()))
    }

    fn alice() -> UserInfo {
        UserInfo {
            name: "alice".into(),
            groups: vec!["system:authenticated".into()],
            ..UserInfo::default()
        }
    }

    #[test]
    fn allowed_impersonation_acts_as_the_other_user() {
        let allow = AuthorizerChain::new(vec![Rc::new(AlwaysAllow)]);
        let same = ok(run(&allow, alice(), &req(&[])));
        assert_eq!(same, alice());
        let bob = ok(run(
            &allow,
            alice(),
            &req(&[
                (USER, "bob"),
                (GROUP, "dev"),
                ("impersonate-extra-scopes%2Fa", "x"),
            ]),
        ));
        assert_eq!(bob.name, "bob");
        assert_eq!(bob.groups, ["dev", "system:authenticated"]);
        assert_eq!(bob.extra["scopes/a"], ["x"]);
        let sa = ok(run(
            &allow,
            alice(),
            &req(&[(USER, "system:serviceaccount:ns:bot")]),
        ));
        assert_eq!(
            sa.groups,
            [
                "system:serviceaccounts",
                "system:serviceaccounts:ns",
                "system:authenticated"
            ]
        );
        let anon = ok(run(&allow, alice(), &req(&[(USER, "system:anonymous")])));
        assert_eq!(anon.groups, ["system:unauthenticated"]);
    }

    #[test]
    fn refusals_as_upstream() {
        let deny = AuthorizerChain::new(vec![Rc::new(AlwaysDeny)]);
        let Err(r) = run(&deny, alice(), &req(&[(USER, "bob")])) else {
            panic!("allowed");
        };
        assert_eq!(r.code(), 403);
        let allow = AuthorizerChain::new(vec![Rc::new(AlwaysAllow)]);
        let Err(r) = run(&allow, alice(), &req(&[(GROUP, "dev")])) else {
            panic!("a group without a user");
        };
        assert_eq!(r.code(), 500);
        let Refusal::WithoutUser(asked) = r else {
            panic!("{r:?}")
        };
        assert_eq!(asked, "[{Group  dev    }]");
    }
}
