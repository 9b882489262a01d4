#!/usr/bin/env python3
"""Writes src/authz/rbac/bootstrap_policy.json: kube-apiserver's bootstrap RBAC policy (every
default ClusterRole and ClusterRoleBinding, and the Roles and RoleBindings in kube-system and
kube-public, that its `rbac/bootstrap-roles` post-start hook reconciles), as the objects it
stores.

Inputs: upstream's expected-output fixtures for that policy, the six files of
kubernetes/kubernetes plugin/pkg/auth/authorizer/rbac/bootstrappolicy/testdata/
(cluster-roles.yaml, cluster-role-bindings.yaml, controller-roles.yaml,
controller-role-bindings.yaml, namespace-roles.yaml, namespace-role-bindings.yaml), saved in
one directory outside the repo. The current JSON came from these versions (the search store
holds no one commit with all six; each is the newest upstream version found there):
cluster-roles and namespace-roles @6bb6c9934294 (2025-03-24, ~v1.33), namespace-role-bindings
and controller-roles @008b36529595 (2026 master), controller-role-bindings @0158d1b41c02,
cluster-role-bindings @c60df8997f62 (old: lacks upstream's system:monitoring and
system:service-account-issuer-discovery bindings, which MISSING_BINDINGS below adds in the
place upstream's newer fixture has them).

    python3 tools/gen-bootstrap-policy.py [DIR]           # DIR defaults to /tmp/bootstrappolicy
    python3 tools/gen-bootstrap-policy.py --check [DIR]   # regenerate, then verify the JSON

The fixtures are kubectl-style YAML lists (`kind: List`, `items:`); a small parser below reads
the subset they use (block maps and sequences, plain, single- and double-quoted scalars,
`null`, `{}`, `[]`) and refuses anything else. Standard library only.

Output, per object: kind, apiVersion, metadata (name, namespace, labels, annotations), then
rules and aggregationRule (roles) or subjects and roleRef (bindings), in the order of the Go
types' fields, which is how kube-apiserver encodes what it stores; every value and list order
is upstream's. Server-set metadata in the fixtures (creationTimestamp: null in older ones) is
dropped. Controller roles and bindings join the other ClusterRoles and ClusterRoleBindings,
after them; objects keep the fixtures' order. `rules: null` (the aggregated admin/edit/view,
whose rules the aggregation controller fills) stays null, as upstream stores it.
"""
import json
import os
import re
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, "src", "authz", "rbac", "bootstrap_policy.json")
RBAC_V1 = "rbac.authorization.k8s.io/v1"

# (fixture file, output list, kind of its items)
FIXTURES = [
    ("cluster-roles.yaml", "clusterRoles", "ClusterRole"),
    ("controller-roles.yaml", "clusterRoles", "ClusterRole"),
    ("cluster-role-bindings.yaml", "clusterRoleBindings", "ClusterRoleBinding"),
    ("controller-role-bindings.yaml", "clusterRoleBindings", "ClusterRoleBinding"),
    ("namespace-roles.yaml", "roles", "Role"),
    ("namespace-role-bindings.yaml", "roleBindings", "RoleBinding"),
]
LISTS = ["clusterRoles", "clusterRoleBindings", "roles", "roleBindings"]

# Bindings left out although a fixture has them. The controller-role-bindings.yaml the store
# held came from a commit that also binds a podcheckpoint-controller whose ClusterRole is in
# none of the roles fixtures (upstream's controller-roles.yaml of the same era has no such
# role); a binding to a role the policy lacks is never in a consistent upstream policy.
# Each skipped name is reported; an entry that matches nothing is reported too.
EXCLUDED_BINDINGS = {
    ("ClusterRoleBinding", "system:controller:podcheckpoint-controller"):
        "its ClusterRole is not in the roles fixtures",
}

# Fields kept, in the Go types' order.
META_KEYS = ["name", "namespace", "labels", "annotations"]
META_DROPPED = {"creationTimestamp", "resourceVersion", "uid", "selfLink", "generation",
                "managedFields"}
RULE_KEYS = ["verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs"]
SUBJECT_KEYS = ["kind", "apiGroup", "name", "namespace"]
ROLEREF_KEYS = ["apiGroup", "kind", "name"]
SELECTOR_KEYS = ["matchLabels", "matchExpressions"]
REQUIREMENT_KEYS = ["key", "operator", "values"]


# ---- the YAML subset -------------------------------------------------------------------------

class YamlError(Exception):
    pass


_KEY = re.compile(r"^([A-Za-z0-9_./-]+):(?: (.*))?$")


def _scalar(text, where):
    t = text.strip()
    if t.startswith('"'):
        if len(t) < 2 or not t.endswith('"'):
            raise YamlError(f"{where}: unterminated double-quoted scalar {t!r}")
        return json.loads(t)  # the fixtures' escapes are JSON's
    if t.startswith("'"):
        if len(t) < 2 or not t.endswith("'"):
            raise YamlError(f"{where}: unterminated single-quoted scalar {t!r}")
        return t[1:-1].replace("''", "'")
    if t in ("null", "~"):
        return None
    if t == "{}":
        return {}
    if t == "[]":
        return []
    if t == "" or t[0] in "&*!|>[{%@`#" or t in ("true", "false") or re.fullmatch(r"-?\d+(\.\d+)?", t):
        # nothing in the fixtures is a bare bool, number, anchor, tag, block or flow scalar
        raise YamlError(f"{where}: unsupported scalar {t!r}")
    if " #" in t:
        raise YamlError(f"{where}: comment after a scalar: {t!r}")
    return t


def parse_yaml(text, name):
    lines = []
    for n, raw in enumerate(text.split("\n"), 1):
        if raw.strip() == "" or raw.lstrip().startswith("#"):
            continue
        if "\t" in raw[: len(raw) - len(raw.lstrip())]:
            raise YamlError(f"{name}:{n}: tab in indentation")
        if raw.rstrip() != raw:
            raise YamlError(f"{name}:{n}: trailing whitespace")
        lines.append((n, len(raw) - len(raw.lstrip(" ")), raw.lstrip(" ")))

    def node(i, indent):
        """The node whose first line is lines[i], at column `indent`."""
        if lines[i][2] == "-" or lines[i][2].startswith("- "):
            return seq(i, indent)
        return mapping(i, indent)

    def seq(i, indent):
        out = []
        while i < len(lines) and lines[i][1] == indent and (
                lines[i][2] == "-" or lines[i][2].startswith("- ")):
            n, _, body = lines[i]
            rest = body[2:] if body != "-" else ""
            if rest == "":
                if i + 1 < len(lines) and lines[i + 1][1] > indent:
                    v, i = node(i + 1, lines[i + 1][1])
                else:
                    raise YamlError(f"{name}:{n}: empty sequence item")
                out.append(v)
            elif _KEY.match(rest) and not rest.startswith(("'", '"')):
                # a map item: its first key sits two columns in, on the dash's line
                lines[i] = (n, indent + 2, rest)
                v, i = mapping(i, indent + 2)
                out.append(v)
            else:
                out.append(_scalar(rest, f"{name}:{n}"))
                i += 1
        return out, i

    def mapping(i, indent):
        out = {}
        while i < len(lines) and lines[i][1] == indent:
            n, _, body = lines[i]
            if body == "-" or body.startswith("- "):
                break
            m = _KEY.match(body)
            if not m:
                raise YamlError(f"{name}:{n}: expected `key: value`, got {body!r}")
            key, value = m.group(1), m.group(2)
            if key in out:
                raise YamlError(f"{name}:{n}: duplicate key {key!r}")
            i += 1
            if value is not None and value != "":
                out[key] = _scalar(value, f"{name}:{n}")
            elif i < len(lines) and lines[i][1] > indent:
                out[key], i = node(i, lines[i][1])
            elif i < len(lines) and lines[i][1] == indent and (
                    lines[i][2] == "-" or lines[i][2].startswith("- ")):
                out[key], i = seq(i, indent)  # kubectl writes a map's lists at the key's column
            else:
                out[key] = None
        if i < len(lines) and lines[i][1] > indent:
            raise YamlError(f"{name}:{lines[i][0]}: unexpected indentation")
        return out, i

    if not lines:
        raise YamlError(f"{name}: empty")
    doc, i = node(0, lines[0][1])
    if i != len(lines):
        raise YamlError(f"{name}:{lines[i][0]}: unexpected line {lines[i][2]!r}")
    return doc


# ---- fixtures to stored objects --------------------------------------------------------------

def _only(obj, keys, where, dropped=()):
    unknown = set(obj) - set(keys) - set(dropped)
    if unknown:
        raise SystemExit(f"{where}: unexpected fields {sorted(unknown)}")
    return {k: obj[k] for k in keys if k in obj}


def _strings(v, where):
    if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
        raise SystemExit(f"{where}: expected a list of strings, got {v!r}")
    return v


def _string_map(v, where):
    if not isinstance(v, dict) or not all(isinstance(x, str) for x in v.values()):
        raise SystemExit(f"{where}: expected a map of strings, got {v!r}")
    return v


def convert(item, kind, where):
    if item.get("apiVersion") != RBAC_V1 or item.get("kind") != kind:
        raise SystemExit(f"{where}: expected {RBAC_V1} {kind}, got "
                         f"{item.get('apiVersion')} {item.get('kind')}")
    meta = _only(item.get("metadata") or {}, META_KEYS, f"{where}.metadata", META_DROPPED)
    name = meta.get("name")
    where = f"{where} {name}"
    if not isinstance(name, str) or not name:
        raise SystemExit(f"{where}: no metadata.name")
    namespaced = kind in ("Role", "RoleBinding")
    if namespaced != isinstance(meta.get("namespace"), str):
        raise SystemExit(f"{where}: namespace {'missing' if namespaced else 'unexpected'}")
    for f in ("labels", "annotations"):
        if f in meta:
            _string_map(meta[f], f"{where}.metadata.{f}")
    out = {"kind": kind, "apiVersion": RBAC_V1, "metadata": meta}
    if kind in ("ClusterRole", "Role"):
        allowed = ["apiVersion", "kind", "metadata", "rules"]
        if kind == "ClusterRole":
            allowed.append("aggregationRule")
        _only(item, allowed, where)
        rules = item.get("rules")
        if rules is not None:
            if not isinstance(rules, list):
                raise SystemExit(f"{where}: rules is not a list")
            conv = []
            for j, r in enumerate(rules):
                r = _only(r, RULE_KEYS, f"{where}.rules[{j}]")
                for k, v in r.items():
                    _strings(v, f"{where}.rules[{j}].{k}")
                if not r.get("verbs"):
                    raise SystemExit(f"{where}.rules[{j}]: no verbs")
                conv.append(r)
            rules = conv
        out["rules"] = rules
        if "aggregationRule" in item:
            agg = _only(item["aggregationRule"] or {}, ["clusterRoleSelectors"],
                        f"{where}.aggregationRule")
            sels = []
            for j, s in enumerate(agg.get("clusterRoleSelectors") or []):
                s = _only(s, SELECTOR_KEYS, f"{where}.aggregationRule[{j}]")
                if "matchLabels" in s:
                    _string_map(s["matchLabels"], f"{where}.aggregationRule[{j}].matchLabels")
                if "matchExpressions" in s:
                    s["matchExpressions"] = [
                        _only(e, REQUIREMENT_KEYS, f"{where}.aggregationRule[{j}].expr")
                        for e in s["matchExpressions"]]
                sels.append(s)
            out["aggregationRule"] = {"clusterRoleSelectors": sels}
    else:
        _only(item, ["apiVersion", "kind", "metadata", "subjects", "roleRef"], where)
        if item.get("subjects") is not None:
            out["subjects"] = [_only(s, SUBJECT_KEYS, f"{where}.subjects[{j}]")
                               for j, s in enumerate(item["subjects"])]
        ref = _only(item.get("roleRef") or {}, ROLEREF_KEYS, f"{where}.roleRef")
        if set(ref) != set(ROLEREF_KEYS):
            raise SystemExit(f"{where}: incomplete roleRef {ref}")
        out["roleRef"] = ref
    return out


def _default_binding(name, group):
    return {"kind": "ClusterRoleBinding", "apiVersion": RBAC_V1,
            "metadata": {"name": name,
                         "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
                         "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}},
            "subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io",
                          "name": group}],
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": name}}


# Bindings upstream's policy has that the saved cluster-role-bindings fixture predates:
# (the binding that precedes it in upstream's order, the binding).
MISSING_BINDINGS = [
    ("system:kube-scheduler", _default_binding("system:monitoring", "system:monitoring")),
    ("system:public-info-viewer",
     _default_binding("system:service-account-issuer-discovery", "system:serviceaccounts")),
]


def add_missing_bindings(bindings):
    names = [b["metadata"]["name"] for b in bindings]
    for after, obj in MISSING_BINDINGS:
        if obj["metadata"]["name"] in names:
            print(f"note: {obj['metadata']['name']} is in the fixture now (drop it from "
                  "MISSING_BINDINGS)", file=sys.stderr)
            continue
        bindings.insert(names.index(after) + 1, obj)
        names = [b["metadata"]["name"] for b in bindings]


def load(src):
    policy = {k: [] for k in LISTS}
    unused = set(EXCLUDED_BINDINGS)
    for fname, target, kind in FIXTURES:
        path = os.path.join(src, fname)
        try:
            text = open(path, encoding="utf-8").read()
        except OSError as e:
            raise SystemExit(f"{path}: {e.strerror}; save upstream's fixture there first")
        try:
            doc = parse_yaml(text, fname)
        except YamlError as e:
            raise SystemExit(f"cannot parse {e}")
        if not isinstance(doc, dict) or doc.get("kind") != "List" or not isinstance(
                doc.get("items"), list):
            raise SystemExit(f"{fname}: not a kubectl List")
        for j, item in enumerate(doc["items"]):
            obj = convert(item, kind, f"{fname}[{j}]")
            key = (kind, obj["metadata"]["name"])
            if key in EXCLUDED_BINDINGS:
                unused.discard(key)
                print(f"skipped {kind} {key[1]} from {fname}: {EXCLUDED_BINDINGS[key]}",
                      file=sys.stderr)
                continue
            policy[target].append(obj)
    for kind, name in sorted(unused):
        print(f"note: excluded {kind} {name} is in no fixture (drop it from EXCLUDED_BINDINGS)",
              file=sys.stderr)
    add_missing_bindings(policy["clusterRoleBindings"])
    for target in LISTS:
        seen = set()
        for o in policy[target]:
            k = (o["metadata"].get("namespace"), o["metadata"]["name"])
            if k in seen:
                raise SystemExit(f"{target}: {k} twice")
            seen.add(k)
    return policy


def dump(policy):
    """One object per line, compact: small, deterministic, diffable."""
    parts = []
    for target in LISTS:
        items = ",\n".join(json.dumps(o, separators=(",", ":"), ensure_ascii=False)
                           for o in policy[target])
        parts.append(f'"{target}":[\n{items}\n]')
    return "{" + ",\n".join(parts) + "}\n"


# ---- --check ---------------------------------------------------------------------------------

def check(path):
    doc = json.load(open(path, encoding="utf-8"))
    problems = []

    def want(cond, msg):
        if not cond:
            problems.append(msg)

    want(list(doc) == LISTS, f"top-level keys {list(doc)}")
    for k in LISTS:
        print(f"{k}: {len(doc.get(k, []))}")
    by = {k: {(o["metadata"].get("namespace"), o["metadata"]["name"]): o for o in doc.get(k, [])}
          for k in LISTS}
    cr = lambda n: by["clusterRoles"].get((None, n))
    crb = lambda n: by["clusterRoleBindings"].get((None, n))
    DEFAULT_META = {"labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
                    "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}}

    for lst in LISTS:
        for (ns, name), o in by[lst].items():
            want(o["apiVersion"] == RBAC_V1, f"{lst} {name}: apiVersion {o['apiVersion']}")
            want(o["metadata"].get("labels", {}).get("kubernetes.io/bootstrapping")
                 == "rbac-defaults", f"{lst} {name}: bootstrapping label")
            want("creationTimestamp" not in o["metadata"], f"{lst} {name}: creationTimestamp")

    ca = cr("cluster-admin")
    want(ca is not None, "no cluster-admin")
    if ca:
        want(ca["metadata"] == {"name": "cluster-admin", **DEFAULT_META},
             f"cluster-admin metadata {ca['metadata']}")
        want(ca["rules"] == [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
                             {"verbs": ["*"], "nonResourceURLs": ["*"]}],
             f"cluster-admin rules {ca['rules']}")
        want("aggregationRule" not in ca, "cluster-admin aggregates")
    for name, agg_label, own in [("admin", "admin", {}),
                                 ("edit", "edit", {"rbac.authorization.k8s.io/aggregate-to-admin": "true"}),
                                 ("view", "view", {"rbac.authorization.k8s.io/aggregate-to-edit": "true"})]:
        o = cr(name)
        want(o is not None, f"no {name}")
        if not o:
            continue
        sel = f"rbac.authorization.k8s.io/aggregate-to-{agg_label}"
        want(o.get("aggregationRule") == {"clusterRoleSelectors": [{"matchLabels": {sel: "true"}}]},
             f"{name} aggregationRule {o.get('aggregationRule')}")
        want(o["metadata"]["labels"] == {**DEFAULT_META["labels"], **own},
             f"{name} labels {o['metadata']['labels']}")
        want(o["rules"] is None, f"{name} rules {o['rules']!r} (upstream stores null)")
        src = cr(f"system:aggregate-to-{agg_label}")
        want(src is not None and src["metadata"]["labels"].get(sel) == "true" and src["rules"],
             f"system:aggregate-to-{agg_label} missing, unlabelled or empty")
    o = cr("system:aggregate-to-edit")
    want(o and {"verbs": ["impersonate"], "apiGroups": [""], "resources": ["serviceaccounts"]}
         in o["rules"], "system:aggregate-to-edit lacks serviceaccounts impersonate")
    o = cr("system:aggregate-to-admin")
    want(o and o["rules"][0] == {"verbs": ["create"], "apiGroups": ["authorization.k8s.io"],
                                 "resources": ["localsubjectaccessreviews"]},
         "system:aggregate-to-admin first rule")
    o = cr("system:discovery")
    want(o and o["rules"] == [{"verbs": ["get"], "nonResourceURLs": [
        "/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*",
        "/readyz", "/version", "/version/"]}], f"system:discovery rules {o and o['rules']}")
    o = cr("system:basic-user")
    want(o and o["rules"] == [
        {"verbs": ["create"], "apiGroups": ["authorization.k8s.io"],
         "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]},
        {"verbs": ["create"], "apiGroups": ["authentication.k8s.io"],
         "resources": ["selfsubjectreviews"]}], f"system:basic-user rules {o and o['rules']}")
    o = cr("system:public-info-viewer")
    want(o and o["rules"] == [{"verbs": ["get"], "nonResourceURLs": [
        "/healthz", "/livez", "/readyz", "/version", "/version/"]}],
         f"system:public-info-viewer rules {o and o['rules']}")
    o = cr("system:controller:namespace-controller")
    want(o and o["rules"] and o["rules"][0] == {
        "verbs": ["delete", "get", "list", "watch"], "apiGroups": [""], "resources": ["namespaces"]}
         and {"verbs": ["update"], "apiGroups": [""],
              "resources": ["namespaces/finalize", "namespaces/status"]} in o["rules"],
         f"system:controller:namespace-controller rules {o and o['rules']}")
    o = crb("cluster-admin")
    want(o and o["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                "name": "cluster-admin"}
         and o.get("subjects") == [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io",
                                    "name": "system:masters"}]
         and o["metadata"] == {"name": "cluster-admin", **DEFAULT_META},
         f"cluster-admin binding {o}")
    for name, groups in [("system:discovery", ["system:authenticated"]),
                         ("system:basic-user", ["system:authenticated"]),
                         ("system:public-info-viewer",
                          ["system:authenticated", "system:unauthenticated"])]:
        o = crb(name)
        want(o and [s["name"] for s in o.get("subjects", [])] == groups
             and all(s["kind"] == "Group" for s in o["subjects"]), f"{name} binding {o}")
    o = by["roles"].get(("kube-system", "system::leader-locking-kube-scheduler"))
    want(o and {"verbs": ["create", "get", "list", "update", "watch"],
                "apiGroups": ["coordination.k8s.io"], "resources": ["leases"]} in o["rules"],
         f"kube-system Role system::leader-locking-kube-scheduler {o}")
    o = by["roles"].get(("kube-public", "system:controller:bootstrap-signer"))
    want(o and o["rules"] == [
        {"verbs": ["get", "list", "watch"], "apiGroups": [""], "resources": ["configmaps"]},
        {"verbs": ["update"], "apiGroups": [""], "resources": ["configmaps"],
         "resourceNames": ["cluster-info"]},
        {"verbs": ["create", "patch", "update"], "apiGroups": ["", "events.k8s.io"],
         "resources": ["events"]}], f"kube-public Role system:controller:bootstrap-signer {o}")
    want(by["roles"].get(("kube-system", "system:controller:bootstrap-signer")) is not None,
         "no kube-system Role system:controller:bootstrap-signer")
    want({ns for ns, _ in by["roles"]} == {"kube-system", "kube-public"},
         f"role namespaces {sorted({ns for ns, _ in by['roles']})}")

    # every binding's roleRef names a role of the policy
    for (ns, name), o in by["clusterRoleBindings"].items():
        want(cr(o["roleRef"]["name"]) is not None and o["roleRef"]["kind"] == "ClusterRole",
             f"ClusterRoleBinding {name} -> missing {o['roleRef']}")
    for (ns, name), o in by["roleBindings"].items():
        ref = o["roleRef"]
        found = (by["roles"].get((ns, ref["name"])) if ref["kind"] == "Role"
                 else cr(ref["name"]))
        want(found is not None, f"RoleBinding {ns}/{name} -> missing {ref}")
    # note (not an error): roles nothing binds
    bound = {o["roleRef"]["name"] for o in by["clusterRoleBindings"].values()}
    unbound = [n for (_, n) in by["clusterRoles"] if n.startswith("system:controller:")
               and n not in bound]
    if unbound:
        print(f"note: controller roles without a binding in the fixtures: {unbound}")

    size = os.path.getsize(path)
    print(f"{path}: {size} bytes")
    if problems:
        for p in problems:
            print(f"FAIL: {p}")
        raise SystemExit(1)
    print("check: ok")


def main(argv):
    args = [a for a in argv if a != "--check"]
    if len(args) > 1:
        raise SystemExit(f"usage: {sys.argv[0]} [--check] [FIXTURE_DIR]")
    src = args[0] if args else "/tmp/bootstrappolicy"
    text = dump(load(src))
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {os.path.relpath(OUT, REPO)} ({len(text.encode())} bytes)")
    if "--check" in argv:
        check(OUT)


if __name__ == "__main__":
    main(sys.argv[1:])
