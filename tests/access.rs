//! Identity and access end to end, as a user locks kubeshard down: the 401 and 403 answers
//! with upstream's text, tokens from a token file, bootstrap tokens and ServiceAccounts
//! (`kubectl create token` with every kubectl on the machine, the `kube` crate on a token),
//! bound tokens dying with their Pod, impersonation, the review APIs, the issuer discovery
//! documents, and an RBAC matrix on both backends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::etcd::EtcdServer;
use support::rt;
use support::server::Kubeshard;

const TOKENS: &str = "alice-token,alice,uid-alice,\"dev,qa\"\nbob-token,bob,uid-bob\n";

fn start(extra: &[&str]) -> (Kubeshard, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.csv");
    std::fs::write(&file, TOKENS).unwrap();
    let mut args = vec![
        format!("--token-auth-file={}", file.display()),
        "--enable-bootstrap-token-auth".to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    (Kubeshard::start(&args), dir)
}

async fn send(r: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let r = r.send().await.unwrap();
    let code = r.status();
    let body = r.bytes().await.unwrap();
    (code, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

async fn get(c: &reqwest::Client, ks: &Kubeshard, path: &str) -> (StatusCode, Value) {
    send(c.get(ks.url(path))).await
}

async fn post(c: &reqwest::Client, ks: &Kubeshard, path: &str, body: Value) -> (StatusCode, Value) {
    send(c.post(ks.url(path)).json(&body)).await
}

/// Creates `body` at `path` as the admin; 201 or 409 (already there) are fine.
async fn admin_create(ks: &Kubeshard, path: &str, body: Value) {
    let (code, v) = post(&ks.client(true, true), ks, path, body).await;
    assert!(
        code == StatusCode::CREATED || code == StatusCode::CONFLICT,
        "{path}: {code} {v}"
    );
}

fn kubectl(ks: &Kubeshard, args: &[&str]) -> (bool, String, String) {
    support::kubectl_bin("kubectl", ks, args)
}

/// A kubeconfig that authenticates with `token` only.
fn token_kubeconfig(ks: &Kubeshard, dir: &Path, name: &str, token: &str) -> PathBuf {
    let path = dir.join(format!("{name}.kubeconfig"));
    let ca = ks.data_dir.join("pki/ca.crt");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: ks\n  cluster:\n    server: {}\n    certificate-authority: {}\nusers:\n- name: {name}\n  user:\n    token: {token}\ncontexts:\n- name: ks\n  context:\n    cluster: ks\n    user: {name}\ncurrent-context: ks\n",
            ks.url(""),
            ca.display()
        ),
    )
    .unwrap();
    path
}

fn kubectl_as(bin: &Path, kubeconfig: &Path, args: &[&str]) -> (bool, String, String) {
    support::kubectl_with(bin, kubeconfig, args)
}

fn status(code: u16, reason: &str, message: &str, details: Value) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "details": details, "code": code})
}

/// The namespace, ServiceAccount, Role and RoleBinding the ServiceAccount cases use: `bot`
/// in `ci` may read ConfigMaps in `ci`, nothing else.
async fn ci_bot(ks: &Kubeshard) {
    admin_create(
        ks,
        "/api/v1/namespaces",
        json!({"metadata": {"name": "ci"}}),
    )
    .await;
    admin_create(
        ks,
        "/api/v1/namespaces/ci/serviceaccounts",
        json!({"metadata": {"name": "bot"}}),
    )
    .await;
    admin_create(
        ks,
        "/apis/rbac.authorization.k8s.io/v1/namespaces/ci/roles",
        json!({"metadata": {"name": "cm-reader"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}]}),
    )
    .await;
    admin_create(
        ks,
        "/apis/rbac.authorization.k8s.io/v1/namespaces/ci/rolebindings",
        json!({"metadata": {"name": "bot-reads"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cm-reader"},
            "subjects": [{"kind": "ServiceAccount", "name": "bot", "namespace": "ci"}]}),
    )
    .await;
    support::namespace_defaults(ks, "ci").await;
}

/// A TokenRequest for `ci/bot` as the admin.
async fn bot_token(ks: &Kubeshard, spec: Value) -> (StatusCode, Value) {
    post(
        &ks.client(true, true),
        ks,
        "/api/v1/namespaces/ci/serviceaccounts/bot/token",
        json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}),
    )
    .await
}

/// Waits until `token` is refused (the replica has seen what invalidates it).
async fn until_refused(ks: &Kubeshard, token: &str) -> (StatusCode, Value) {
    let c = ks.token_client(Some(token));
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let got = get(&c, ks, "/api/v1/namespaces/ci/configmaps").await;
        if got.0 == StatusCode::UNAUTHORIZED || Instant::now() > end {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn unauthenticated_and_forbidden_bodies(ks: &Kubeshard) {
    rt().block_on(async {
        let anon = ks.token_client(None);
        let (code, v) = get(&anon, ks, "/api/v1/namespaces/default/configmaps").await;
        assert_eq!(code, 403);
        assert_eq!(
            v,
            status(
                403,
                "Forbidden",
                r#"configmaps is forbidden: User "system:anonymous" cannot list resource "configmaps" in API group "" in the namespace "default""#,
                json!({"kind": "configmaps"})
            )
        );
        // The public info upstream's system:public-info-viewer grants everyone.
        for path in ["/version", "/healthz", "/livez", "/readyz"] {
            assert_eq!(anon.get(ks.url(path)).send().await.unwrap().status(), 200, "{path}");
        }
        // Discovery is for authenticated users only (system:discovery).
        let (code, v) = get(&anon, ks, "/apis").await;
        assert_eq!(code, 403);
        assert_eq!(
            v,
            status(
                403,
                "Forbidden",
                r#"forbidden: User "system:anonymous" cannot get path "/apis""#,
                json!({})
            )
        );
        // A credential that does not check out is a 401, never anonymous; upstream's body
        // has no details.
        for bad in ["nope", "qqqqqq.0123456789abcdef", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln"] {
            let (code, v) = get(&ks.token_client(Some(bad)), ks, "/version").await;
            assert_eq!(code, 401, "{bad}");
            assert_eq!(
                v,
                json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": "Unauthorized", "reason": "Unauthorized", "code": 401}),
                "{bad}"
            );
        }
        // A token file user, denied on a named object and allowed once bound.
        let alice = ks.token_client(Some("alice-token"));
        let (code, v) = get(&alice, ks, "/api/v1/namespaces/default/configmaps/kube-root-ca.crt").await;
        assert_eq!(code, 403);
        assert_eq!(
            v,
            status(
                403,
                "Forbidden",
                r#"configmaps "kube-root-ca.crt" is forbidden: User "alice" cannot get resource "configmaps" in API group "" in the namespace "default""#,
                json!({"name": "kube-root-ca.crt", "kind": "configmaps"})
            )
        );
        let (code, v) = get(&alice, ks, "/apis/apps/v1/deployments").await;
        assert_eq!(code, 403);
        assert_eq!(
            v["message"],
            r#"deployments.apps is forbidden: User "alice" cannot list resource "deployments" in API group "apps" at the cluster scope"#
        );
        assert_eq!(v["details"], json!({"group": "apps", "kind": "deployments"}));
        // Alice is in group "dev" (the token file's fourth column): bind the group to view.
        admin_create(
            ks,
            "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings",
            json!({"metadata": {"name": "dev-view"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
                "subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "dev"}]}),
        )
        .await;
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            let (code, _) = get(&alice, ks, "/api/v1/namespaces/default/configmaps").await;
            if code == 200 {
                break;
            }
            assert!(Instant::now() < end, "the binding never took effect: {code}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // view reads, it does not write, and it does not read Secrets.
        let (code, v) = post(
            &alice,
            ks,
            "/api/v1/namespaces/default/configmaps",
            json!({"metadata": {"name": "by-alice"}}),
        )
        .await;
        assert_eq!(code, 403);
        assert_eq!(
            v["message"],
            r#"configmaps is forbidden: User "alice" cannot create resource "configmaps" in API group "" in the namespace "default""#
        );
        assert_eq!(get(&alice, ks, "/api/v1/namespaces/default/secrets").await.0, 403);
        assert_eq!(get(&alice, ks, "/api/v1/namespaces/kube-system/configmaps").await.0, 403);
        // Bob (no groups in the file) is only system:authenticated: discovery, not objects.
        let bob = ks.token_client(Some("bob-token"));
        assert_eq!(get(&bob, ks, "/apis").await.0, 200);
        assert_eq!(get(&bob, ks, "/api/v1/namespaces/default/configmaps").await.0, 403);
    });
}

fn bootstrap_policy_is_reconciled(ks: &Kubeshard) {
    rt().block_on(async {
        let admin = ks.client(true, true);
        let base = "/apis/rbac.authorization.k8s.io/v1";
        for name in [
            "cluster-admin",
            "system:discovery",
            "system:controller:deployment-controller",
            "system:kube-scheduler",
            "system:kube-controller-manager",
            "system:service-account-issuer-discovery",
        ] {
            let (code, v) = get(&admin, ks, &format!("{base}/clusterroles/{name}")).await;
            assert_eq!(code, 200, "{name}");
            assert_eq!(v["metadata"]["labels"]["kubernetes.io/bootstrapping"], "rbac-defaults");
            assert_eq!(
                v["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"],
                "true"
            );
        }
        let (code, v) = get(&admin, ks, &format!("{base}/clusterrolebindings/system:monitoring")).await;
        assert_eq!(code, 200);
        assert_eq!(v["subjects"][0]["name"], "system:monitoring");
        let (code, _) = get(
            &admin,
            ks,
            &format!("{base}/namespaces/kube-system/roles/extension-apiserver-authentication-reader"),
        )
        .await;
        assert_eq!(code, 200);
        // The aggregated roles gain the rules of the roles that aggregate to them.
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            let (_, v) = get(&admin, ks, &format!("{base}/clusterroles/view")).await;
            let rules = v["rules"].as_array().map(Vec::len).unwrap_or(0);
            if rules > 5 {
                let text = v["rules"].to_string();
                assert!(text.contains("configmaps") && !text.contains("\"secrets\""), "{text}");
                break;
            }
            assert!(Instant::now() < end, "view never aggregated: {v}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // A new role labelled to aggregate into edit joins it.
        admin_create(
            ks,
            &format!("{base}/clusterroles"),
            json!({"metadata": {"name": "widgets-edit",
                "labels": {"rbac.authorization.k8s.io/aggregate-to-edit": "true"}},
                "rules": [{"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get", "update"]}]}),
        )
        .await;
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            let (_, v) = get(&admin, ks, &format!("{base}/clusterroles/edit")).await;
            if v["rules"].to_string().contains("widgets") {
                break;
            }
            assert!(Instant::now() < end, "edit never aggregated widgets-edit");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
}

fn service_account_tokens_with_every_kubectl(ks: &Kubeshard) {
    rt().block_on(ci_bot(ks));
    let dir = tempfile::tempdir().unwrap();
    for bin in support::kubectls() {
        let v = bin.display().to_string();
        let (ok, token, err) =
            support::kubectl_bin(&v, ks, &["create", "token", "bot", "-n", "ci"]);
        assert!(ok, "{v}: {err}");
        let token = token.trim();
        assert_eq!(token.split('.').count(), 3, "{v}: a JWT");
        let kc = token_kubeconfig(ks, dir.path(), "bot", token);
        let (ok, out, err) = kubectl_as(&bin, &kc, &["auth", "whoami", "-o", "json"]);
        if v.ends_with("kubectl.1.27") {
            // kubectl 1.27 knows only the alpha and beta SelfSubjectReview, which
            // kube-apiserver no longer serves; it says so, as it does against upstream.
            assert!(
                !ok && err.contains("the selfsubjectreviews API is not enabled"),
                "{v}: {err}"
            );
        } else {
            assert!(ok, "{v}: {err}");
            let who: Value = serde_json::from_str(&out).unwrap();
            assert_eq!(who["kind"], "SelfSubjectReview", "{v}");
            assert_eq!(
                who["status"]["userInfo"]["username"], "system:serviceaccount:ci:bot",
                "{v}"
            );
            assert_eq!(
                who["status"]["userInfo"]["groups"],
                json!([
                    "system:serviceaccounts",
                    "system:serviceaccounts:ci",
                    "system:authenticated"
                ]),
                "{v}"
            );
        }
        bot_rights_as_kubectl_shows_them(&bin, &kc, &v);
    }
}

/// What `ci/bot`'s token may do, as kubectl `v` (at `bin`) shows it.
fn bot_rights_as_kubectl_shows_them(bin: &Path, kc: &Path, v: &str) {
    let (ok, out, err) = kubectl_as(bin, kc, &["get", "configmaps", "-n", "ci", "-o", "name"]);
    assert!(ok, "{v}: {err}");
    assert!(out.contains("configmap/kube-root-ca.crt"), "{v}: {out}");
    let (ok, _, err) = kubectl_as(bin, kc, &["get", "secrets", "-n", "ci"]);
    assert!(!ok, "{v}");
    assert!(
        err.contains(r#"secrets is forbidden: User "system:serviceaccount:ci:bot" cannot list resource "secrets" in API group "" in the namespace "ci""#),
        "{v}: {err}"
    );
    let (ok, out, _) = kubectl_as(
        bin,
        kc,
        &["auth", "can-i", "watch", "configmaps", "-n", "ci"],
    );
    assert!(ok && out.trim() == "yes", "{v}: {out}");
    let (ok, out, _) = kubectl_as(
        bin,
        kc,
        &["auth", "can-i", "delete", "configmaps", "-n", "ci"],
    );
    assert!(!ok && out.trim() == "no", "{v}: {out}");
    let (ok, out, err) = kubectl_as(bin, kc, &["auth", "can-i", "--list", "-n", "ci"]);
    assert!(ok, "{v}: {err}");
    let row = out
        .lines()
        .find(|l| l.starts_with("configmaps "))
        .unwrap_or_else(|| panic!("{v}: {out}"));
    assert!(row.contains("[get list watch]"), "{v}: {row}");
    assert!(!out.contains("secrets"), "{v}: {out}");
    assert!(!err.contains("incomplete"), "{v}: {err}");
}

fn tokens_for_the_kube_crate_and_their_limits(ks: &Kubeshard) {
    rt().block_on(async {
        ci_bot(ks).await;
        // TokenRequest as upstream answers it: defaults, and its errors.
        let (code, v) = bot_token(ks, json!({})).await;
        assert_eq!(code, 201, "{v}");
        assert_eq!(v["kind"], "TokenRequest");
        assert_eq!(v["metadata"]["name"], "bot");
        assert_eq!(v["spec"]["expirationSeconds"], 3600);
        assert_eq!(v["spec"]["audiences"], json!(["https://kubernetes.default.svc.cluster.local"]));
        let token = v["status"]["token"].as_str().unwrap().to_string();
        let (code, v) = bot_token(ks, json!({"expirationSeconds": 60})).await;
        assert_eq!(code, 422);
        assert_eq!(
            v["message"],
            r#"TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes"#
        );
        let (code, v) = post(
            &ks.client(true, true),
            ks,
            "/api/v1/namespaces/ci/serviceaccounts/nobody/token",
            json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}}),
        )
        .await;
        assert_eq!((code.as_u16(), v["message"].as_str()), (404, Some(r#"serviceaccounts "nobody" not found"#)));

        // The kube crate on nothing but the token.
        let mut cfg = kube::Config::new(ks.url("").parse().unwrap());
        cfg.root_cert = Some(vec![first_certificate_der(&ks.ca_pem())]);
        cfg.auth_info.token = Some(token.clone().into());
        let client = kube::Client::try_from(cfg).unwrap();
        use k8s_openapi::api::core::v1::{ConfigMap, Secret};
        let cms: kube::Api<ConfigMap> = kube::Api::namespaced(client.clone(), "ci");
        let listed = cms.list(&Default::default()).await.unwrap();
        assert!(listed.items.iter().any(|c| c.metadata.name.as_deref() == Some("kube-root-ca.crt")));
        let secrets: kube::Api<Secret> = kube::Api::namespaced(client.clone(), "ci");
        match secrets.list(&Default::default()).await {
            Err(kube::Error::Api(s)) => {
                assert_eq!(s.code, 403);
                assert_eq!(s.reason, "Forbidden");
            }
            other => panic!("expected 403, got {other:?}"),
        }
        // TokenReview says who the token is; a token with another audience is not ours.
        let (code, v) = post(
            &ks.client(true, true),
            ks,
            "/apis/authentication.k8s.io/v1/tokenreviews",
            json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}),
        )
        .await;
        assert_eq!(code, 201, "{v}");
        assert_eq!(v["status"]["authenticated"], true);
        assert_eq!(v["status"]["user"]["username"], "system:serviceaccount:ci:bot");
        let (_, v) = bot_token(ks, json!({"audiences": ["vault"]})).await;
        let vault = v["status"]["token"].as_str().unwrap().to_string();
        assert_eq!(get(&ks.token_client(Some(&vault)), ks, "/api/v1/namespaces/ci/configmaps").await.0, 401);
        let (_, v) = post(
            &ks.client(true, true),
            ks,
            "/apis/authentication.k8s.io/v1/tokenreviews",
            json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": "garbage"}}),
        )
        .await;
        assert_eq!(v["status"]["authenticated"], Value::Null);
        assert!(v["status"]["error"].as_str().is_some(), "{v}");

        // A token bound to a Pod dies with the Pod.
        admin_create(
            ks,
            "/api/v1/namespaces/ci/pods",
            json!({"metadata": {"name": "runner"},
                "spec": {"serviceAccountName": "bot", "containers": [{"name": "c", "image": "busybox"}]}}),
        )
        .await;
        let (code, v) = bot_token(
            ks,
            json!({"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "runner"}}),
        )
        .await;
        assert_eq!(code, 201, "{v}");
        let pod_token = v["status"]["token"].as_str().unwrap().to_string();
        let claims = jwt_part(&pod_token, 1);
        assert_eq!(claims["kubernetes.io"]["pod"]["name"], "runner");
        let pod_client = ks.token_client(Some(&pod_token));
        let (code, who) = post(
            &pod_client,
            ks,
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}),
        )
        .await;
        assert_eq!(code, 201);
        assert_eq!(who["status"]["userInfo"]["extra"]["authentication.kubernetes.io/pod-name"], json!(["runner"]));
        let r = ks
            .client(true, true)
            .delete(ks.url("/api/v1/namespaces/ci/pods/runner?gracePeriodSeconds=0"))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());
        let (code, _) = until_refused(ks, &pod_token).await;
        assert_eq!(code, 401, "the token outlived its Pod");
        // The unbound token still works; deleting the ServiceAccount ends it too.
        assert_eq!(get(&ks.token_client(Some(&token)), ks, "/api/v1/namespaces/ci/configmaps").await.0, 200);
        let r = ks
            .client(true, true)
            .delete(ks.url("/api/v1/namespaces/ci/serviceaccounts/bot"))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        assert_eq!(until_refused(ks, &token).await.0, 401, "the token outlived its ServiceAccount");
    });
}

/// The DER of the first certificate in a PEM bundle.
fn first_certificate_der(pem: &[u8]) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::from_pem_slice(pem)
        .unwrap()
        .to_vec()
}

/// Part `i` of a JWT (0: header, 1: claims), decoded.
fn jwt_part(token: &str, i: usize) -> Value {
    let part = token.split('.').nth(i).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

fn issuer_discovery_documents(ks: &Kubeshard) {
    rt().block_on(async {
        ci_bot(ks).await;
        let (_, v) = bot_token(ks, json!({})).await;
        let token = v["status"]["token"].as_str().unwrap().to_string();
        // Only ServiceAccounts may read them by default (system:service-account-issuer-discovery).
        assert_eq!(
            get(
                &ks.token_client(None),
                ks,
                "/.well-known/openid-configuration"
            )
            .await
            .0,
            403
        );
        let sa = ks.token_client(Some(&token));
        let (code, conf) = get(&sa, ks, "/.well-known/openid-configuration").await;
        assert_eq!(code, 200, "{conf}");
        assert_eq!(
            conf["issuer"],
            "https://kubernetes.default.svc.cluster.local"
        );
        // The bootstrap PKI's signing key is ECDSA P-256, so ES256.
        let alg = jwt_part(&token, 0)["alg"].clone();
        assert_eq!(alg, "ES256");
        assert_eq!(conf["id_token_signing_alg_values_supported"], json!([alg]));
        assert!(
            conf["jwks_uri"]
                .as_str()
                .unwrap()
                .ends_with("/openid/v1/jwks"),
            "{conf}"
        );
        let (code, jwks) = get(&sa, ks, "/openid/v1/jwks").await;
        assert_eq!(code, 200);
        let kid = jwt_part(&token, 0)["kid"].as_str().unwrap().to_string();
        assert!(
            jwks["keys"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kid"] == kid.as_str()),
            "{jwks} lacks the token's kid {kid}"
        );
        let iss = jwt_part(&token, 1)["iss"].clone();
        assert_eq!(iss, conf["issuer"]);
    });
}

fn bootstrap_tokens(ks: &Kubeshard) {
    rt().block_on(async {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let secret = |id: &str, extra: &[(&str, &str)]| {
            let mut data = serde_json::Map::new();
            for (k, v) in [
                ("token-id", id),
                ("token-secret", "0123456789abcdef"),
                ("usage-bootstrap-authentication", "true"),
                (
                    "auth-extra-groups",
                    "system:bootstrappers:kubeadm:default-node-token",
                ),
            ]
            .iter()
            .chain(extra)
            {
                data.insert((*k).into(), json!(b64(v)));
            }
            json!({"metadata": {"name": format!("bootstrap-token-{id}")},
                "type": "bootstrap.kubernetes.io/token", "data": data})
        };
        let path = "/api/v1/namespaces/kube-system/secrets";
        admin_create(ks, path, secret("abcdef", &[])).await;
        admin_create(
            ks,
            path,
            secret("expird", &[("expiration", "2020-01-01T00:00:00Z")]),
        )
        .await;
        let c = ks.token_client(Some("abcdef.0123456789abcdef"));
        let end = Instant::now() + Duration::from_secs(10);
        let who = loop {
            let (code, v) = post(
                &c,
                ks,
                "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}),
            )
            .await;
            if code == 201 || Instant::now() > end {
                break v;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(
            who["status"]["userInfo"]["username"],
            "system:bootstrap:abcdef"
        );
        assert_eq!(
            who["status"]["userInfo"]["groups"],
            json!([
                "system:bootstrappers",
                "system:bootstrappers:kubeadm:default-node-token",
                "system:authenticated"
            ])
        );
        for bad in [
            "abcdef.0123456789abcdee",
            "expird.0123456789abcdef",
            "zzzzzz.0123456789abcdef",
        ] {
            assert_eq!(
                get(&ks.token_client(Some(bad)), ks, "/version").await.0,
                401,
                "{bad}"
            );
        }
        let r = ks
            .client(true, true)
            .delete(ks.url(&format!("{path}/bootstrap-token-abcdef")))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        let end = Instant::now() + Duration::from_secs(10);
        while get(&c, ks, "/version").await.0 != 401 {
            assert!(Instant::now() < end, "the token outlived its Secret");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
}

fn impersonation(ks: &Kubeshard) {
    rt().block_on(async {
        ci_bot(ks).await;
        let admin = ks.client(true, true);
        // The admin may be anyone; the request is then theirs.
        let (code, v) = send(
            admin
                .get(ks.url("/api/v1/namespaces/ci/secrets"))
                .header("Impersonate-User", "system:serviceaccount:ci:bot"),
        )
        .await;
        assert_eq!(code, 403);
        assert_eq!(
            v["message"],
            r#"secrets is forbidden: User "system:serviceaccount:ci:bot" cannot list resource "secrets" in API group "" in the namespace "ci""#
        );
        let (code, who) = send(
            admin
                .post(ks.url("/apis/authentication.k8s.io/v1/selfsubjectreviews"))
                .header("Impersonate-User", "carol")
                .header("Impersonate-Group", "qa")
                .header("Impersonate-Extra-Scopes", "view")
                .header("Impersonate-Uid", "u-1")
                .json(&json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})),
        )
        .await;
        assert_eq!(code, 201);
        assert_eq!(
            who["status"]["userInfo"],
            json!({"username": "carol", "uid": "u-1", "groups": ["qa", "system:authenticated"],
                "extra": {"scopes": ["view"]}})
        );
        // Groups without a user: upstream's plain-text 500.
        let r = admin
            .get(ks.url("/api/v1/namespaces/ci/configmaps"))
            .header("Impersonate-Group", "system:masters")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 500);
        assert!(r.text().await.unwrap().contains("without impersonating a user"));
        // Bob may not impersonate, until a ClusterRole lets him be alice only.
        let bob = ks.token_client(Some("bob-token"));
        let (code, v) = send(
            bob.get(ks.url("/api/v1/namespaces/ci/configmaps"))
                .header("Impersonate-User", "alice"),
        )
        .await;
        assert_eq!(code, 403);
        assert_eq!(
            v,
            status(
                403,
                "Forbidden",
                r#"users "alice" is forbidden: User "bob" cannot impersonate resource "users" in API group "" at the cluster scope"#,
                json!({"name": "alice", "kind": "users"})
            )
        );
        admin_create(
            ks,
            "/apis/rbac.authorization.k8s.io/v1/clusterroles",
            json!({"metadata": {"name": "be-alice"},
                "rules": [{"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"], "resourceNames": ["alice"]}]}),
        )
        .await;
        admin_create(
            ks,
            "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
            json!({"metadata": {"name": "bob-is-alice"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "be-alice"},
                "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "bob"}]}),
        )
        .await;
        let end = Instant::now() + Duration::from_secs(10);
        let who = loop {
            let (code, v) = send(
                bob.post(ks.url("/apis/authentication.k8s.io/v1/selfsubjectreviews"))
                    .header("Impersonate-User", "alice")
                    .json(&json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})),
            )
            .await;
            if code == 201 {
                break v;
            }
            assert!(Instant::now() < end, "the impersonate grant never took effect");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(who["status"]["userInfo"]["username"], "alice");
        assert_eq!(who["status"]["userInfo"]["groups"], json!(["system:authenticated"]));
        // Being alice does not let him add a group.
        let (code, v) = send(
            bob.get(ks.url("/version"))
                .header("Impersonate-User", "alice")
                .header("Impersonate-Group", "system:masters"),
        )
        .await;
        assert_eq!(code, 403);
        assert_eq!(
            v["message"],
            r#"groups "system:masters" is forbidden: User "bob" cannot impersonate resource "groups" in API group "" at the cluster scope"#
        );
        let (code, _) = send(
            bob.get(ks.url("/version"))
                .header("Impersonate-User", "mallory"),
        )
        .await;
        assert_eq!(code, 403);
        // kubectl --as, as an admin would check a user's rights.
        let (ok, out, _) = kubectl(ks, &["auth", "can-i", "list", "configmaps", "-n", "ci", "--as", "system:serviceaccount:ci:bot"]);
        assert!(ok && out.trim() == "yes", "{out}");
        let (ok, out, _) = kubectl(ks, &["auth", "can-i", "list", "secrets", "-n", "ci", "--as", "system:serviceaccount:ci:bot"]);
        assert!(!ok && out.trim() == "no", "{out}");
        let (ok, _, err) = kubectl(ks, &["get", "secrets", "-n", "ci", "--as", "alice"]);
        assert!(!ok && err.contains(r#"User "alice" cannot list resource "secrets""#), "{err}");
    });
}

fn access_reviews(ks: &Kubeshard) {
    rt().block_on(async {
        ci_bot(ks).await;
        let admin = ks.client(true, true);
        let sar = |spec: Value| {
            json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec})
        };
        let (code, v) = post(
            &admin,
            ks,
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            sar(json!({"user": "system:serviceaccount:ci:bot", "groups": ["system:serviceaccounts"],
                "resourceAttributes": {"namespace": "ci", "verb": "list", "resource": "configmaps"}})),
        )
        .await;
        assert_eq!(code, 201, "{v}");
        assert_eq!(v["kind"], "SubjectAccessReview");
        assert_eq!(v["status"]["allowed"], true);
        assert_eq!(
            v["status"]["reason"],
            r#"RBAC: allowed by RoleBinding "bot-reads/ci" of Role "cm-reader" to ServiceAccount "bot/ci""#
        );
        let (_, v) = post(
            &admin,
            ks,
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            sar(json!({"user": "nobody", "resourceAttributes": {"namespace": "ci", "verb": "list", "resource": "configmaps"}})),
        )
        .await;
        assert_eq!(v["status"]["allowed"], false);
        // A review with neither attributes: 422 as upstream.
        let (code, v) = post(
            &admin,
            ks,
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            sar(json!({"user": "nobody"})),
        )
        .await;
        assert_eq!(code, 422, "{v}");
        // LocalSubjectAccessReview: its namespace must be the path's.
        let (code, v) = post(
            &admin,
            ks,
            "/apis/authorization.k8s.io/v1/namespaces/ci/localsubjectaccessreviews",
            json!({"apiVersion": "authorization.k8s.io/v1", "kind": "LocalSubjectAccessReview",
                "metadata": {"namespace": "ci"},
                "spec": {"user": "system:serviceaccount:ci:bot",
                    "resourceAttributes": {"namespace": "ci", "verb": "get", "resource": "configmaps"}}}),
        )
        .await;
        assert_eq!((code.as_u16(), v["status"]["allowed"].clone()), (201, json!(true)), "{v}");
        // Anyone may ask about themselves; nobody but the privileged about others.
        let alice = ks.token_client(Some("alice-token"));
        let (code, v) = post(
            &alice,
            ks,
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                "spec": {"nonResourceAttributes": {"path": "/version", "verb": "get"}}}),
        )
        .await;
        assert_eq!((code.as_u16(), v["status"]["allowed"].clone()), (201, json!(true)), "{v}");
        let (code, _) = post(
            &alice,
            ks,
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            sar(json!({"user": "bob", "nonResourceAttributes": {"path": "/version", "verb": "get"}})),
        )
        .await;
        assert_eq!(code, 403);
        let (code, v) = post(
            &alice,
            ks,
            "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
            json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview", "spec": {"namespace": "ci"}}),
        )
        .await;
        assert_eq!(code, 201, "{v}");
        assert_eq!(v["status"]["incomplete"], false);
        assert!(v["status"]["nonResourceRules"].to_string().contains("/version"), "{v}");
        // And kubectl's reconcile, which upserts RBAC objects through these APIs.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("rbac.yaml");
        std::fs::write(
            &file,
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: reconciled\n  namespace: ci\nrules:\n- apiGroups: [\"\"]\n  resources: [\"pods\"]\n  verbs: [\"get\"]\n",
        )
        .unwrap();
        let (ok, out, err) = kubectl(ks, &["auth", "reconcile", "-f", file.to_str().unwrap()]);
        assert!(ok, "{err}");
        assert!(out.contains("role.rbac.authorization.k8s.io/reconciled"), "{out}");
    });
}

fn escalation_is_refused(ks: &Kubeshard) {
    rt().block_on(async {
        let rbac = "/apis/rbac.authorization.k8s.io/v1";
        admin_create(ks, "/api/v1/namespaces", json!({"metadata": {"name": "esc"}})).await;
        // Bob may manage Roles and RoleBindings in esc, and read ConfigMaps there.
        admin_create(
            ks,
            &format!("{rbac}/namespaces/esc/roles"),
            json!({"metadata": {"name": "rbac-writer"}, "rules": [
                {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles", "rolebindings"],
                    "verbs": ["get", "create", "update", "delete"]},
                {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}]}),
        )
        .await;
        admin_create(
            ks,
            &format!("{rbac}/namespaces/esc/rolebindings"),
            json!({"metadata": {"name": "bob-writes"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "rbac-writer"},
                "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "bob"}]}),
        )
        .await;
        let bob = ks.token_client(Some("bob-token"));
        let role = |name: &str, resource: &str, verbs: &[&str]| {
            json!({"metadata": {"name": name},
                "rules": [{"apiGroups": [""], "resources": [resource], "verbs": verbs}]})
        };
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            let (code, v) = post(&bob, ks, &format!("{rbac}/namespaces/esc/roles"), role("reader", "configmaps", &["get"])).await;
            if code == 201 {
                break;
            }
            assert!(Instant::now() < end, "bob's grant never took effect: {code} {v}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // What he does not hold, he cannot grant.
        let (code, v) = post(
            &bob,
            ks,
            &format!("{rbac}/namespaces/esc/roles"),
            role("steal", "secrets", &["get", "list"]),
        )
        .await;
        assert_eq!(code, 403, "{v}");
        assert_eq!(
            v,
            status(
                403,
                "Forbidden",
                "roles.rbac.authorization.k8s.io \"steal\" is forbidden: user \"bob\" (groups=[\"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"get\" \"list\"]}",
                json!({"name": "steal", "group": "rbac.authorization.k8s.io", "kind": "roles"})
            )
        );
        // Nor widen a role he may update.
        let (code, _) = send(
            bob.put(ks.url(&format!("{rbac}/namespaces/esc/roles/reader")))
                .json(&role("reader", "configmaps", &["get", "delete"])),
        )
        .await;
        assert_eq!(code, 403);
        // Binding: his own role, yes; admin, no.
        let binding = |name: &str, kind: &str, role: &str| {
            json!({"metadata": {"name": name},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role},
                "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "carol"}]})
        };
        let path = format!("{rbac}/namespaces/esc/rolebindings");
        assert_eq!(post(&bob, ks, &path, binding("carol-reads", "Role", "reader")).await.0, 201);
        let (code, v) = post(&bob, ks, &path, binding("carol-admin", "ClusterRole", "admin")).await;
        assert_eq!(code, 403, "{v}");
        let msg = v["message"].as_str().unwrap();
        assert!(
            msg.starts_with("rolebindings.rbac.authorization.k8s.io \"carol-admin\" is forbidden: user \"bob\" (groups=[\"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n"),
            "{msg}"
        );
        assert!(msg.contains(r#"{APIGroups:[""], Resources:["secrets"]"#), "{msg}");
        // The bind verb on that role, or escalate on roles, lifts the check.
        admin_create(
            ks,
            &format!("{rbac}/namespaces/esc/roles"),
            json!({"metadata": {"name": "binder"}, "rules": [
                {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["bind"], "resourceNames": ["admin"]},
                {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["escalate"]}]}),
        )
        .await;
        admin_create(
            ks,
            &format!("{rbac}/namespaces/esc/rolebindings"),
            json!({"metadata": {"name": "bob-binds"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "binder"},
                "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "bob"}]}),
        )
        .await;
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            let (code, v) = post(&bob, ks, &path, binding("carol-admin", "ClusterRole", "admin")).await;
            if code == 201 {
                break;
            }
            assert!(Instant::now() < end, "bind never took effect: {code} {v}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(
            post(&bob, ks, &path, binding("carol-edit", "ClusterRole", "edit")).await.0,
            403,
            "bind is limited to the role it names"
        );
        let (code, v) = post(
            &bob,
            ks,
            &format!("{rbac}/namespaces/esc/roles"),
            role("steal", "secrets", &["get", "list"]),
        )
        .await;
        assert_eq!(code, 201, "escalate lifts the check: {v}");
    });
}

fn node_authorizer_follows_pods(ks: &Kubeshard) {
    rt().block_on(async {
        let admin = ks.client(true, true);
        admin_create(ks, "/api/v1/namespaces", json!({"metadata": {"name": "nodes"}})).await;
        for (kind, name) in [("secrets", "mounted"), ("secrets", "unrelated"), ("configmaps", "env")] {
            admin_create(ks, &format!("/api/v1/namespaces/nodes/{kind}"), json!({"metadata": {"name": name}})).await;
        }
        admin_create(ks, "/api/v1/namespaces/nodes/serviceaccounts", json!({"metadata": {"name": "runner"}})).await;
        admin_create(
            ks,
            "/api/v1/namespaces/nodes/pods",
            json!({"metadata": {"name": "on-n1"}, "spec": {"nodeName": "n1", "serviceAccountName": "runner",
                "containers": [{"name": "c", "image": "i",
                    "env": [{"name": "E", "valueFrom": {"configMapKeyRef": {"name": "env", "key": "k"}}}]}],
                "volumes": [{"name": "s", "secret": {"secretName": "mounted"}}]}}),
        )
        .await;
        // A kubelet is its client certificate's user: the admin impersonates n1 and n2.
        let as_node = |n: &str, req: reqwest::RequestBuilder| {
            req.header("Impersonate-User", format!("system:node:{n}"))
                .header("Impersonate-Group", "system:nodes")
        };
        let get_as = |n: &'static str, path: &'static str| {
            let admin = admin.clone();
            async move { send(as_node(n, admin.get(ks.url(path)))).await }
        };
        let end = Instant::now() + Duration::from_secs(10);
        while get_as("n1", "/api/v1/namespaces/nodes/secrets/mounted").await.0 != 200 {
            assert!(Instant::now() < end, "the node never reached its pod's secret");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(get_as("n1", "/api/v1/namespaces/nodes/configmaps/env").await.0, 200);
        assert_eq!(
            get_as("n1", "/api/v1/namespaces/nodes/secrets?fieldSelector=metadata.name%3Dmounted").await.0,
            200
        );
        let (code, v) = get_as("n1", "/api/v1/namespaces/nodes/secrets/unrelated").await;
        assert_eq!(code, 403);
        assert_eq!(
            v["message"],
            r#"secrets "unrelated" is forbidden: User "system:node:n1" cannot get resource "secrets" in API group "" in the namespace "nodes": no relationship found between node 'n1' and this object"#
        );
        let (code, v) = get_as("n2", "/api/v1/namespaces/nodes/secrets/mounted").await;
        assert_eq!(code, 403, "{v}");
        let (code, v) = get_as("n1", "/api/v1/namespaces/nodes/secrets").await;
        assert_eq!(code, 403);
        assert!(v["message"].as_str().unwrap().ends_with(": No Object name found"), "{v}");
        // The static node rules: nodes read Services and Pods.
        assert_eq!(get_as("n2", "/api/v1/services").await.0, 200);
        // Tokens for the ServiceAccounts of its own pods only.
        let token = |n: &'static str, sa: &str| {
            as_node(n, admin.post(ks.url(&format!("/api/v1/namespaces/nodes/serviceaccounts/{sa}/token"))))
                .json(&json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}}))
        };
        assert_eq!(send(token("n1", "runner")).await.0, 201);
        assert_eq!(send(token("n2", "runner")).await.0, 403);
        // Its own Lease only.
        let lease = |n: &str| json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": n}});
        let leases = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases";
        assert_eq!(send(as_node("n1", admin.post(ks.url(leases)).json(&lease("n1")))).await.0, 201);
        let (code, v) = send(as_node("n2", admin.get(ks.url(&format!("{leases}/n1"))))).await;
        assert_eq!(code, 403);
        assert!(
            v["message"].as_str().unwrap().ends_with("can only access node lease with the same name as the requesting node"),
            "{v}"
        );
        // The pod leaves the node: so does the access.
        let r = admin
            .delete(ks.url("/api/v1/namespaces/nodes/pods/on-n1?gracePeriodSeconds=0"))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        let end = Instant::now() + Duration::from_secs(10);
        while get_as("n1", "/api/v1/namespaces/nodes/secrets/mounted").await.0 != 403 {
            assert!(Instant::now() < end, "the node kept access after its pod went");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
}

/// The RBAC matrix: users and groups × verbs × resources × namespaces × resourceNames ×
/// subresources × non-resource URLs, asked through SubjectAccessReview (the same decision
/// every request gets) and spot-checked with real requests.
fn rbac_matrix(ks: &Kubeshard) {
    rt().block_on(async {
        let admin = ks.client(true, true);
        let rbac = "/apis/rbac.authorization.k8s.io/v1";
        for ns in ["m1", "m2"] {
            admin_create(ks, "/api/v1/namespaces", json!({"metadata": {"name": ns}})).await;
        }
        let rule = |groups: &[&str], resources: &[&str], verbs: &[&str], names: &[&str]| {
            let mut r = json!({"apiGroups": groups, "resources": resources, "verbs": verbs});
            if !names.is_empty() {
                r["resourceNames"] = json!(names);
            }
            r
        };
        admin_create(ks, &format!("{rbac}/namespaces/m1/roles"), json!({"metadata": {"name": "pods"},
            "rules": [rule(&[""], &["pods"], &["get", "list"], &[]),
                rule(&[""], &["pods/log"], &["get"], &[]),
                rule(&[""], &["configmaps"], &["get", "update"], &["one"])]})).await;
        admin_create(ks, &format!("{rbac}/clusterroles"), json!({"metadata": {"name": "apps-all"},
            "rules": [rule(&["apps"], &["*"], &["*"], &[])]})).await;
        admin_create(ks, &format!("{rbac}/clusterroles"), json!({"metadata": {"name": "nodes-watch"},
            "rules": [rule(&[""], &["nodes"], &["watch"], &[])]})).await;
        admin_create(ks, &format!("{rbac}/clusterroles"), json!({"metadata": {"name": "urls"},
            "rules": [{"nonResourceURLs": ["/metrics", "/logs/*"], "verbs": ["get"]}]})).await;
        admin_create(ks, &format!("{rbac}/clusterroles"), json!({"metadata": {"name": "star"},
            "rules": [rule(&["*"], &["*"], &["*"], &[]), {"nonResourceURLs": ["*"], "verbs": ["*"]}]})).await;
        let binding = |kind: &str, name: &str, role_kind: &str, role: &str, subject: Value| {
            json!({"kind": kind, "metadata": {"name": name},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
                "subjects": [subject]})
        };
        let user = |n: &str| json!({"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": n});
        let group = |n: &str| json!({"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": n});
        admin_create(ks, &format!("{rbac}/namespaces/m1/rolebindings"),
            binding("RoleBinding", "u1-pods", "Role", "pods", user("u1"))).await;
        // A ClusterRole bound in one namespace grants only there.
        admin_create(ks, &format!("{rbac}/namespaces/m2/rolebindings"),
            binding("RoleBinding", "g1-apps", "ClusterRole", "apps-all", group("g1"))).await;
        admin_create(ks, &format!("{rbac}/clusterrolebindings"),
            binding("ClusterRoleBinding", "u2-nodes", "ClusterRole", "nodes-watch", user("u2"))).await;
        admin_create(ks, &format!("{rbac}/clusterrolebindings"),
            binding("ClusterRoleBinding", "g2-urls", "ClusterRole", "urls", group("g2"))).await;
        admin_create(ks, &format!("{rbac}/clusterrolebindings"),
            binding("ClusterRoleBinding", "root-star", "ClusterRole", "star", user("root"))).await;
        // (user, groups, verb, group, resource, subresource, namespace, name) -> allowed
        type Row = (&'static str, &'static [&'static str], &'static str, &'static str, &'static str, &'static str, &'static str, &'static str, bool);
        let resource_rows: &[Row] = &[
            ("u1", &[], "get", "", "pods", "", "m1", "p", true),
            ("u1", &[], "list", "", "pods", "", "m1", "", true),
            ("u1", &[], "watch", "", "pods", "", "m1", "", false),
            ("u1", &[], "delete", "", "pods", "", "m1", "p", false),
            ("u1", &[], "get", "", "pods", "", "m2", "p", false),
            ("u1", &[], "list", "", "pods", "", "", "", false),
            ("u1", &[], "get", "", "pods", "log", "m1", "p", true),
            ("u1", &[], "get", "", "pods", "exec", "m1", "p", false),
            ("u1", &[], "create", "", "pods", "log", "m1", "p", false),
            ("u1", &[], "get", "", "configmaps", "", "m1", "one", true),
            ("u1", &[], "update", "", "configmaps", "", "m1", "one", true),
            ("u1", &[], "get", "", "configmaps", "", "m1", "two", false),
            ("u1", &[], "list", "", "configmaps", "", "m1", "", false),
            ("u1", &[], "get", "apps", "pods", "", "m1", "p", false),
            ("u9", &["g1"], "create", "apps", "deployments", "", "m2", "", true),
            ("u9", &["g1"], "delete", "apps", "statefulsets", "", "m2", "s", true),
            ("u9", &["g1"], "update", "apps", "deployments", "scale", "m2", "d", true),
            ("u9", &["g1"], "create", "apps", "deployments", "", "m1", "", false),
            ("u9", &["g1"], "list", "apps", "deployments", "", "", "", false),
            ("u9", &["g1"], "create", "", "pods", "", "m2", "", false),
            ("u9", &["g1", "g3"], "get", "batch", "jobs", "", "m2", "", false),
            ("u9", &[], "create", "apps", "deployments", "", "m2", "", false),
            ("u2", &[], "watch", "", "nodes", "", "", "", true),
            ("u2", &[], "watch", "", "nodes", "", "", "n1", true),
            ("u2", &[], "list", "", "nodes", "", "", "", false),
            ("u2", &[], "watch", "", "pods", "", "m1", "", false),
            ("u2", &[], "watch", "", "nodes", "status", "", "n1", false),
            ("root", &[], "deletecollection", "example.com", "widgets", "", "m1", "", true),
            ("root", &[], "escalate", "rbac.authorization.k8s.io", "clusterroles", "", "", "x", true),
            ("u1", &["system:authenticated"], "create", "authorization.k8s.io", "selfsubjectaccessreviews", "", "", "", true),
            ("system:anonymous", &["system:unauthenticated"], "create", "authorization.k8s.io", "selfsubjectaccessreviews", "", "", "", false),
        ];
        let url_rows: &[(&str, &[&str], &str, &str, bool)] = &[
            ("u9", &["g2"], "get", "/metrics", true),
            ("u9", &["g2"], "get", "/logs/kube-apiserver.log", true),
            ("u9", &["g2"], "get", "/logs", false),
            ("u9", &["g2"], "post", "/metrics", false),
            ("u9", &["g2"], "get", "/metricsx", false),
            ("u9", &[], "get", "/metrics", false),
            ("root", &[], "put", "/anything/at/all", true),
            ("u9", &["system:authenticated"], "get", "/apis/apps", true),
            ("u9", &["system:authenticated"], "get", "/version", true),
            ("system:anonymous", &["system:unauthenticated"], "get", "/healthz", true),
            ("system:anonymous", &["system:unauthenticated"], "get", "/api", false),
        ];
        let ask = |spec: Value| {
            let admin = admin.clone();
            async move {
                let (code, v) = post(
                    &admin,
                    ks,
                    "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                    json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}),
                )
                .await;
                assert_eq!(code, 201, "{v}");
                v["status"]["allowed"] == true
            }
        };
        // The replica may still be catching up with the last binding: wait for it.
        let end = Instant::now() + Duration::from_secs(10);
        while !ask(json!({"user": "root", "resourceAttributes": {"verb": "get", "resource": "x"}})).await {
            assert!(Instant::now() < end, "root-star never took effect");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut wrong = Vec::new();
        for (u, groups, verb, group, resource, sub, ns, name, want) in resource_rows {
            let got = ask(json!({"user": u, "groups": groups, "resourceAttributes": {
                "namespace": ns, "verb": verb, "group": group, "resource": resource,
                "subresource": sub, "name": name}}))
            .await;
            if got != *want {
                wrong.push(format!("{u} {groups:?} {verb} {group}/{resource}/{sub} in {ns:?} {name:?}: {got}"));
            }
        }
        for (u, groups, verb, path, want) in url_rows {
            let got = ask(json!({"user": u, "groups": groups, "nonResourceAttributes": {"path": path, "verb": verb}})).await;
            if got != *want {
                wrong.push(format!("{u} {groups:?} {verb} {path}: {got}"));
            }
        }
        assert!(wrong.is_empty(), "decisions unlike upstream's:\n{}", wrong.join("\n"));
        // The same decisions on real requests (the admin impersonating each user).
        let as_user = |u: &'static str, g: Option<&'static str>, req: reqwest::RequestBuilder| {
            let req = req.header("Impersonate-User", u);
            match g {
                Some(g) => req.header("Impersonate-Group", g),
                None => req,
            }
        };
        let (code, _) = send(as_user("u1", None, admin.get(ks.url("/api/v1/namespaces/m1/pods")))).await;
        assert_eq!(code, 200);
        let (code, _) = send(as_user("u1", None, admin.get(ks.url("/api/v1/namespaces/m2/pods")))).await;
        assert_eq!(code, 403);
        let (code, _) = send(as_user("u1", None, admin.get(ks.url("/api/v1/namespaces/m1/configmaps/two")))).await;
        assert_eq!(code, 403);
        let (code, v) = send(as_user("u1", None, admin.get(ks.url("/api/v1/namespaces/m1/configmaps/one")))).await;
        assert_eq!(code, 404, "allowed, and not there: {v}");
        let (code, _) = send(as_user(
            "u9",
            Some("g1"),
            admin.post(ks.url("/apis/apps/v1/namespaces/m2/deployments")).json(&json!({
                "metadata": {"name": "d"}, "spec": {"selector": {"matchLabels": {"a": "b"}},
                "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}})),
        ))
        .await;
        assert_eq!(code, 201);
        let (code, _) = send(as_user("u9", Some("g1"), admin.get(ks.url("/apis/apps/v1/namespaces/m1/deployments")))).await;
        assert_eq!(code, 403);
        // Taking a binding away takes the right away.
        let r = admin
            .delete(ks.url(&format!("{rbac}/namespaces/m1/rolebindings/u1-pods")))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        let end = Instant::now() + Duration::from_secs(10);
        while send(as_user("u1", None, admin.get(ks.url("/api/v1/namespaces/m1/pods")))).await.0 != 403 {
            assert!(Instant::now() < end, "the deleted binding still grants");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
}

#[test]
fn access_control_on_the_embedded_store() {
    let (ks, _dir) = start(&[]);
    support::run_cases(
        &ks,
        &[
            (
                "unauthenticated_and_forbidden_bodies",
                unauthenticated_and_forbidden_bodies,
            ),
            (
                "bootstrap_policy_is_reconciled",
                bootstrap_policy_is_reconciled,
            ),
            (
                "service_account_tokens_with_every_kubectl",
                service_account_tokens_with_every_kubectl,
            ),
            ("issuer_discovery_documents", issuer_discovery_documents),
            ("impersonation", impersonation),
            ("access_reviews", access_reviews),
            ("bootstrap_tokens", bootstrap_tokens),
            ("escalation_is_refused", escalation_is_refused),
            ("node_authorizer_follows_pods", node_authorizer_follows_pods),
            ("rbac_matrix", rbac_matrix),
            // Last: it deletes ci/bot.
            (
                "tokens_for_the_kube_crate_and_their_limits",
                tokens_for_the_kube_crate_and_their_limits,
            ),
        ],
    );
}

#[test]
fn access_control_on_etcd() {
    let etcd = EtcdServer::start_new();
    let (ks, _dir) = start(&[&format!("--etcd-servers={}", etcd.endpoint())]);
    support::run_cases(
        &ks,
        &[
            (
                "bootstrap_policy_is_reconciled",
                bootstrap_policy_is_reconciled,
            ),
            ("rbac_matrix", rbac_matrix),
            (
                "tokens_for_the_kube_crate_and_their_limits",
                tokens_for_the_kube_crate_and_their_limits,
            ),
        ],
    );
}

/// A webhook on loopback HTTPS, as an admin would run one: it wants `Authorization: Bearer
/// hook-secret` from kube-apiserver, answers each review with the status `answer` gives
/// (None: a 500), and records every review it is sent.
struct TestWebhook {
    port: u16,
    reviews: std::sync::Arc<std::sync::Mutex<Vec<Value>>>,
    _dir: tempfile::TempDir,
    kubeconfig: PathBuf,
}

impl TestWebhook {
    fn start(answer: fn(&Value) -> Option<Value>) -> Self {
        let reviews = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = reviews.clone();
        let (port, ca_file, dir) = support::https::serve_https(std::sync::Arc::new(
            move |head, review| {
                seen.lock().unwrap().push(review.clone());
                if !head.contains("authorization: bearer hook-secret") {
                    return ("401 Unauthorized", json!({}));
                }
                match answer(review) {
                    Some(status) => (
                        "200 OK",
                        json!({"apiVersion": review["apiVersion"], "kind": review["kind"], "status": status}),
                    ),
                    None => ("500 Internal Server Error", json!({})),
                }
            },
        ));
        let kubeconfig = dir.path().join("webhook.kubeconfig");
        std::fs::write(
            &kubeconfig,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: hook\n  cluster:\n    server: https://127.0.0.1:{port}/review\n    certificate-authority: {}\nusers:\n- name: apiserver\n  user:\n    token: hook-secret\ncontexts:\n- name: webhook\n  context:\n    cluster: hook\n    user: apiserver\ncurrent-context: webhook\n",
                ca_file.display()
            ),
        )
        .unwrap();
        TestWebhook {
            port,
            reviews,
            _dir: dir,
            kubeconfig,
        }
    }

    fn reviews_where(&self, f: impl Fn(&Value) -> bool) -> usize {
        self.reviews.lock().unwrap().iter().filter(|r| f(r)).count()
    }

    fn reviews_of(&self, token: &str) -> usize {
        self.reviews_where(|r| r["spec"]["token"] == token)
    }
}

#[test]
fn webhook_token_authentication() {
    let hook = TestWebhook::start(|review| match review["spec"]["token"].as_str() {
        Some("hook-good") => Some(
            json!({"authenticated": true, "user": {"username": "webhook-jane",
            "uid": "u-jane", "groups": ["hooked"], "extra": {"team": ["blue"]}}}),
        ),
        Some("hook-broken") => None,
        _ => Some(json!({"authenticated": false})),
    });
    let (ks, _dir) = start(&[
        &format!(
            "--authentication-token-webhook-config-file={}",
            hook.kubeconfig.display()
        ),
        "--authentication-token-webhook-version=v1",
    ]);
    rt().block_on(async {
        let jane = ks.token_client(Some("hook-good"));
        let (code, who) = post(
            &jane,
            &ks,
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}),
        )
        .await;
        assert_eq!(code, 201, "{who}");
        assert_eq!(
            who["status"]["userInfo"],
            json!({"username": "webhook-jane", "uid": "u-jane",
                "groups": ["hooked", "system:authenticated"], "extra": {"team": ["blue"]}})
        );
        // What kube-apiserver sends: a v1 TokenReview with the API audiences.
        let sent = hook.reviews.lock().unwrap()[0].clone();
        assert_eq!(sent["apiVersion"], "authentication.k8s.io/v1");
        assert_eq!(sent["kind"], "TokenReview");
        assert_eq!(sent["spec"]["audiences"], json!(["https://kubernetes.default.svc.cluster.local"]));
        // Answers are cached (--authentication-token-webhook-cache-ttl), refusals too.
        for _ in 0..5 {
            assert_eq!(get(&jane, &ks, "/apis").await.0, 200);
        }
        let bad = ks.token_client(Some("hook-bad"));
        for _ in 0..3 {
            assert_eq!(get(&bad, &ks, "/version").await.0, 401);
        }
        // Each shard asks once; the test server may count one per shard.
        let shards = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert!((1..=shards + 1).contains(&hook.reviews_of("hook-good")), "{}", hook.reviews_of("hook-good"));
        assert!((1..=3.min(shards)).contains(&hook.reviews_of("hook-bad")), "{}", hook.reviews_of("hook-bad"));
        // A webhook error is a 401, and not cached.
        let broken = ks.token_client(Some("hook-broken"));
        assert_eq!(get(&broken, &ks, "/version").await.0, 401);
        assert_eq!(get(&broken, &ks, "/version").await.0, 401);
        assert!(hook.reviews_of("hook-broken") >= 2);
        // Tokens the other authenticators know never reach the webhook.
        assert_eq!(get(&ks.token_client(Some("bob-token")), &ks, "/apis").await.0, 200);
        assert_eq!(hook.reviews_of("bob-token"), 0);
        // TokenReview asks the webhook too.
        let (_, v) = post(
            &ks.client(true, true),
            &ks,
            "/apis/authentication.k8s.io/v1/tokenreviews",
            json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": "hook-good"}}),
        )
        .await;
        assert_eq!(v["status"]["user"]["username"], "webhook-jane", "{v}");
    });
}

#[test]
fn webhook_authorization_after_rbac() {
    let hook = TestWebhook::start(|review| {
        let spec = &review["spec"];
        let r = &spec["resourceAttributes"];
        if spec["nonResourceAttributes"]["path"] == "/broken" {
            return None;
        }
        if spec["user"] != "bob" {
            return Some(json!({"allowed": false}));
        }
        Some(match r["resource"].as_str() {
            Some("configmaps") if r["verb"] == "list" || r["verb"] == "get" => {
                json!({"allowed": true, "reason": "bob reads configmaps"})
            }
            Some("secrets") => {
                json!({"allowed": false, "denied": true, "reason": "no secrets for you"})
            }
            _ => json!({"allowed": false}),
        })
    });
    let (ks, _dir) = start(&[
        "--authorization-mode=Node,RBAC,Webhook",
        &format!(
            "--authorization-webhook-config-file={}",
            hook.kubeconfig.display()
        ),
        "--authorization-webhook-version=v1",
    ]);
    rt().block_on(async {
        let bob = ks.token_client(Some("bob-token"));
        for _ in 0..4 {
            assert_eq!(get(&bob, &ks, "/api/v1/namespaces/default/configmaps").await.0, 200);
        }
        let sent = hook.reviews.lock().unwrap()[0].clone();
        assert_eq!(sent["apiVersion"], "authorization.k8s.io/v1");
        assert_eq!(sent["kind"], "SubjectAccessReview");
        assert_eq!(
            sent["spec"],
            json!({"resourceAttributes": {"namespace": "default", "verb": "list", "version": "v1",
                "resource": "configmaps"}, "user": "bob", "groups": ["system:authenticated"],
                "uid": "uid-bob"})
        );
        // Cached: each shard asked at most once.
        let shards = std::thread::available_parallelism().map_or(1, |n| n.get());
        let asked = hook.reviews_where(|r| r["spec"]["resourceAttributes"]["resource"] == "configmaps");
        assert!((1..=shards).contains(&asked), "{asked}");
        // A denial carries the webhook's reason.
        let (code, v) = get(&bob, &ks, "/api/v1/namespaces/default/secrets").await;
        assert_eq!(code, 403);
        assert_eq!(
            v["message"],
            r#"secrets is forbidden: User "bob" cannot list resource "secrets" in API group "" in the namespace "default": no secrets for you"#
        );
        // RBAC decides first: public info never reaches the webhook.
        assert_eq!(get(&bob, &ks, "/version").await.0, 200);
        assert_eq!(hook.reviews_where(|r| r["spec"]["nonResourceAttributes"]["path"] == "/version"), 0);
        // A webhook that fails, and nobody else allowing: upstream's plain-text 500.
        let r = bob.get(ks.url("/broken")).send().await.unwrap();
        assert_eq!(r.status(), 500);
        assert_eq!(
            r.text().await.unwrap(),
            "Internal Server Error: \"/broken\": webhook authorizer: https://127.0.0.1:".to_string()
                + &format!("{}/review: 500 Internal Server Error\n", hook.port)
        );
        // SubjectAccessReview goes through the webhook too; rules cannot be listed.
        let (_, v) = post(
            &ks.client(true, true),
            &ks,
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                "spec": {"user": "bob", "resourceAttributes": {"namespace": "x", "verb": "get", "resource": "configmaps"}}}),
        )
        .await;
        assert_eq!((v["status"]["allowed"].clone(), v["status"]["reason"].clone()), (json!(true), json!("bob reads configmaps")));
        let (_, v) = post(
            &bob,
            &ks,
            "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
            json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview", "spec": {"namespace": "default"}}),
        )
        .await;
        assert_eq!(v["status"]["incomplete"], true);
    });
}

/// An OpenID Connect issuer on loopback HTTPS: discovery and JWKS for one ES256 key, and
/// tokens signed with it (or with a key it does not publish).
struct TestIssuer {
    url: String,
    ca_pem: String,
    key: jsonwebtoken::EncodingKey,
    stranger: jsonwebtoken::EncodingKey,
    _dir: tempfile::TempDir,
}

impl TestIssuer {
    fn start() -> Self {
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let pair = rcgen::KeyPair::generate().unwrap();
        let raw = pair.public_key_raw().to_vec();
        let jwk = json!({"kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig", "alg": "ES256",
            "x": b64(&raw[1..33]), "y": b64(&raw[33..65])});
        let key = jsonwebtoken::EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).unwrap();
        let other = rcgen::KeyPair::generate().unwrap();
        let stranger =
            jsonwebtoken::EncodingKey::from_ec_pem(other.serialize_pem().as_bytes()).unwrap();
        let url_cell = std::sync::Arc::new(std::sync::OnceLock::<String>::new());
        let url_seen = url_cell.clone();
        let (port, ca_file, dir) =
            support::https::serve_https(std::sync::Arc::new(move |head, _| {
                let url = url_seen.get().cloned().unwrap_or_default();
                if head.starts_with("get /.well-known/openid-configuration ") {
                    (
                        "200 OK",
                        json!({"issuer": url, "jwks_uri": format!("{url}/jwks")}),
                    )
                } else if head.starts_with("get /jwks ") {
                    ("200 OK", json!({"keys": [jwk]}))
                } else {
                    ("404 Not Found", json!({}))
                }
            }));
        let url = format!("https://127.0.0.1:{port}");
        url_cell.set(url.clone()).unwrap();
        TestIssuer {
            url,
            ca_pem: std::fs::read_to_string(ca_file).unwrap(),
            key,
            stranger,
            _dir: dir,
        }
    }

    fn token(&self, claims: Value, stranger: bool) -> String {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some("k1".into());
        let key = if stranger { &self.stranger } else { &self.key };
        jsonwebtoken::encode(&header, &claims, key).unwrap()
    }

    fn config(&self, groups_prefix: &str) -> String {
        let ca: String = self
            .ca_pem
            .lines()
            .map(|l| format!("      {l}\n"))
            .collect();
        format!(
            "apiVersion: apiserver.config.k8s.io/v1beta1\nkind: AuthenticationConfiguration\njwt:\n- issuer:\n    url: {}\n    audiences: [kubeshard]\n    certificateAuthority: |\n{ca}  claimValidationRules:\n  - claim: hd\n    requiredValue: example.com\n  claimMappings:\n    username:\n      claim: email\n      prefix: \"\"\n    groups:\n      claim: groups\n      prefix: \"{groups_prefix}\"\nanonymous:\n  enabled: true\n  conditions:\n  - path: /livez\n",
            self.url
        )
    }
}

#[test]
fn structured_authentication_with_an_oidc_issuer() {
    let issuer = TestIssuer::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("authn.yaml");
    std::fs::write(&file, issuer.config("oidc:")).unwrap();
    let (ks, _tokens) = start(&[&format!("--authentication-config={}", file.display())]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let claims = |f: &dyn Fn(&mut Value)| {
        let mut c = json!({"iss": issuer.url, "aud": "kubeshard", "sub": "1234",
            "email": "jane@example.com", "email_verified": true, "hd": "example.com",
            "groups": ["dev"], "iat": now, "exp": now + 600});
        f(&mut c);
        c
    };
    rt().block_on(async {
        let ks = &ks;
        let whoami = |token: String| async move {
            post(
                &ks.token_client(Some(&token)),
                ks,
                "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}),
            )
            .await
        };
        let (code, who) = whoami(issuer.token(claims(&|_| {}), false)).await;
        assert_eq!(code, 201, "{who}");
        assert_eq!(
            who["status"]["userInfo"],
            json!({"username": "jane@example.com", "groups": ["oidc:dev", "system:authenticated"]})
        );
        let refused: [(&str, Value, bool); 5] = [
            (
                "another audience",
                claims(&|c| c["aud"] = json!("other")),
                false,
            ),
            ("expired", claims(&|c| c["exp"] = json!(now - 60)), false),
            (
                "the required claim differs",
                claims(&|c| c["hd"] = json!("evil.com")),
                false,
            ),
            (
                "email not verified",
                claims(&|c| c["email_verified"] = json!(false)),
                false,
            ),
            ("signed by another key", claims(&|_| {}), true),
        ];
        for (why, c, stranger) in refused {
            assert_eq!(whoami(issuer.token(c, stranger)).await.0, 401, "{why}");
        }
        // The anonymous section: only /livez.
        let anon = ks.token_client(None);
        assert_eq!(get(&anon, ks, "/livez").await.0, 200);
        let (code, v) = get(&anon, ks, "/version").await;
        assert_eq!(
            (code.as_u16(), v["reason"].as_str()),
            (401, Some("Unauthorized"))
        );
        // The file is read again when it changes.
        std::fs::write(&file, issuer.config("sso:")).unwrap();
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            let (_, who) = whoami(issuer.token(claims(&|_| {}), false)).await;
            if who["status"]["userInfo"]["groups"][0] == "sso:dev" {
                break;
            }
            assert!(
                Instant::now() < end,
                "the configuration was never reloaded: {who}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
    drop(ks);
    // The --oidc-* flags map onto the same authenticator, with upstream's default prefix.
    let ca = dir.path().join("issuer-ca.crt");
    std::fs::write(&ca, &issuer.ca_pem).unwrap();
    let (ks, _tokens) = start(&[
        &format!("--oidc-issuer-url={}", issuer.url),
        "--oidc-client-id=kubeshard",
        &format!("--oidc-ca-file={}", ca.display()),
        "--oidc-groups-claim=groups",
        "--oidc-required-claim=hd=example.com",
    ]);
    rt().block_on(async {
        let (code, who) = post(
            &ks.token_client(Some(&issuer.token(claims(&|_| {}), false))),
            &ks,
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}),
        )
        .await;
        assert_eq!(code, 201, "{who}");
        assert_eq!(
            who["status"]["userInfo"],
            json!({"username": format!("{}#1234", issuer.url), "groups": ["dev", "system:authenticated"]})
        );
    });
}

#[test]
fn authorization_config_file() {
    let hook = TestWebhook::start(|review| {
        let spec = &review["spec"];
        if spec["nonResourceAttributes"]["path"] == "/broken" {
            return None;
        }
        Some(
            json!({"allowed": spec["user"] == "bob" && spec["resourceAttributes"]["resource"] == "configmaps"}),
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("authz.yaml");
    std::fs::write(
        &file,
        format!(
            "apiVersion: apiserver.config.k8s.io/v1\nkind: AuthorizationConfiguration\nauthorizers:\n- type: Node\n  name: node\n- type: RBAC\n  name: rbac\n- type: Webhook\n  name: hook\n  webhook:\n    timeout: 3s\n    subjectAccessReviewVersion: v1\n    matchConditionSubjectAccessReviewVersion: v1\n    failurePolicy: NoOpinion\n    authorizedTTL: 1m\n    unauthorizedTTL: 1s\n    connectionInfo:\n      type: KubeConfigFile\n      kubeConfigFile: {}\n    matchConditions:\n    - expression: \"!has(request.resourceAttributes) || request.resourceAttributes.namespace != 'private'\"\n",
            hook.kubeconfig.display()
        ),
    )
    .unwrap();
    let (ks, _tokens) = start(&[&format!("--authorization-config={}", file.display())]);
    rt().block_on(async {
        let bob = ks.token_client(Some("bob-token"));
        assert_eq!(
            get(&bob, &ks, "/api/v1/namespaces/default/configmaps")
                .await
                .0,
            200
        );
        assert_eq!(
            get(&bob, &ks, "/api/v1/namespaces/default/secrets").await.0,
            403
        );
        // matchConditions: the webhook is not asked about the private namespace.
        assert_eq!(
            get(&bob, &ks, "/api/v1/namespaces/private/configmaps")
                .await
                .0,
            403
        );
        assert_eq!(
            hook.reviews_where(|r| r["spec"]["resourceAttributes"]["namespace"] == "private"),
            0
        );
        // failurePolicy: NoOpinion: a failing webhook is a 403, not a 500.
        assert_eq!(get(&bob, &ks, "/broken").await.0, 403);
        assert_eq!(
            hook.reviews_where(|r| r["spec"]["nonResourceAttributes"]["path"] == "/broken"),
            1,
            "the webhook was asked, and failed"
        );
        // RBAC came first: discovery never reached the webhook.
        assert_eq!(get(&bob, &ks, "/apis").await.0, 200);
        assert_eq!(
            hook.reviews_where(|r| r["spec"]["nonResourceAttributes"]["path"] == "/apis"),
            0
        );
        // The file is read again when it changes: now everything is allowed.
        std::fs::write(
            &file,
            "apiVersion: apiserver.config.k8s.io/v1\nkind: AuthorizationConfiguration\nauthorizers:\n- type: RBAC\n  name: rbac\n- type: AlwaysAllow\n  name: everyone\n",
        )
        .unwrap();
        let end = Instant::now() + Duration::from_secs(30);
        while get(&bob, &ks, "/api/v1/namespaces/default/secrets").await.0 != 200 {
            assert!(Instant::now() < end, "the configuration was never reloaded");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
    drop(ks);
    // A file upstream would refuse keeps the server from starting, saying why.
    std::fs::write(
        &file,
        "apiVersion: apiserver.config.k8s.io/v1\nkind: AuthorizationConfiguration\nauthorizers:\n- type: RBAC\n  name: rbac\n- type: Magic\n  name: magic\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    let err = support::server::refused_start(
        &data,
        &[&format!("--authorization-config={}", file.display())],
    );
    assert!(
        err.contains(r#"authorizers[1].type: Unsupported value: "Magic""#),
        "{err}"
    );
}

#[test]
fn anonymous_auth_off_and_always_allow() {
    let (ks, _dir) = start(&["--anonymous-auth=false"]);
    rt().block_on(async {
        let anon = ks.token_client(None);
        let (code, v) = get(&anon, &ks, "/version").await;
        assert_eq!(
            (code.as_u16(), v["reason"].as_str()),
            (401, Some("Unauthorized"))
        );
        assert_eq!(
            get(&ks.token_client(Some("bob-token")), &ks, "/version")
                .await
                .0,
            200
        );
    });
    drop(ks);
    let (ks, _dir) = start(&["--authorization-mode=AlwaysAllow"]);
    rt().block_on(async {
        let bob = ks.token_client(Some("bob-token"));
        assert_eq!(
            get(&bob, &ks, "/api/v1/namespaces/default/secrets").await.0,
            200
        );
        // With AlwaysAllow upstream turns anonymous requests off.
        assert_eq!(get(&ks.token_client(None), &ks, "/version").await.0, 401);
    });
    drop(ks);
    let (ks, _dir) = start(&["--authorization-mode=AlwaysDeny"]);
    rt().block_on(async {
        let bob = ks.token_client(Some("bob-token"));
        assert_eq!(get(&bob, &ks, "/version").await.0, 403);
        // system:masters is allowed whatever the modes say.
        assert_eq!(
            get(
                &ks.client(true, true),
                &ks,
                "/api/v1/namespaces/default/secrets"
            )
            .await
            .0,
            200
        );
    });
}
