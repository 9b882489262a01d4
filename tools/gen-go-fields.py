#!/usr/bin/env python3
"""Generates src/codec/go_fields.rs: for every struct of the Kubernetes API packages, the JSON
fields Go's encoding/json always writes (and the zero value it writes when the field is unset),
and the fields that hold structs, so src/codec/go_json.rs can make a stored object look like one
kube-apiserver decoded into its Go type and encoded again.

Facts come from the Go type definitions themselves, read from two git mirrors with no work tree
(k8s.io/api and k8s.io/apimachinery). Standard library only.

    python3 tools/gen-go-fields.py [--api REPO] [--apimachinery REPO] [--out FILE]

The rules (encoding/json, Marshal's documentation and its isEmptyValue):
  - a field is named by its json tag, else by its Go name; `json:"-"` drops it; unexported
    fields are dropped;
  - an embedded struct (or pointer to struct) whose tag gives no name has its fields promoted
    into the parent (the shallowest wins; two at the same depth cancel unless one is tagged);
  - `omitempty` leaves out false, 0, "", nil pointers and interfaces, and empty slices and maps,
    never a struct value, so a non-pointer struct is always written (as `{}` filled by the same
    rules, or by its MarshalJSON for the special types below);
  - without `omitempty` a nil pointer, slice, map or interface is written as null.
"""
import argparse, os, re, subprocess, sys

# k8s.io/api packages (directories of the mirror) whose types go into the table. Extend freely:
# packages that do not exist in the mirror are skipped.
API_PACKAGES = [
    "core/v1", "apps/v1", "batch/v1", "autoscaling/v1", "autoscaling/v2", "networking/v1",
    "policy/v1", "rbac/v1", "storage/v1", "scheduling/v1", "coordination/v1", "node/v1",
    "discovery/v1", "events/v1", "certificates/v1", "admissionregistration/v1",
    "authentication/v1", "authorization/v1", "flowcontrol/v1", "resource/v1",
]
# k8s.io/apimachinery packages whose structs go into the table.
APIMACHINERY_PACKAGES = ["pkg/apis/meta/v1"]

API = "k8s.io/api"
APIMACHINERY = "k8s.io/apimachinery"
META = APIMACHINERY + "/pkg/apis/meta/v1"

# Types with their own MarshalJSON (or plain named scalars outside the parsed packages): what
# their zero value encodes as. Every one of the structs here is written even under omitempty.
SPECIAL = {
    (APIMACHINERY + "/pkg/api/resource", "Quantity"): "Quantity",  # struct; zero -> "0"
    (APIMACHINERY + "/pkg/util/intstr", "IntOrString"): "Zero",  # struct; zero -> 0
    (META, "Time"): "Null",  # struct; zero -> null
    (META, "MicroTime"): "Null",  # struct; zero -> null
    (META, "Duration"): "Duration",  # struct; zero -> "0s"
    (META, "FieldsV1"): "Null",  # struct holding raw JSON; empty -> null
    (APIMACHINERY + "/pkg/runtime", "RawExtension"): "Null",  # struct; no Raw/Object -> null
}
# Named scalar types of packages that are not parsed.
EXTERNAL_SCALARS = {
    (APIMACHINERY + "/pkg/types", "UID"): "string",
    (APIMACHINERY + "/pkg/types", "NodeName"): "string",
}

INT_KINDS = {"int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32",
             "uint64", "uintptr", "byte", "rune", "float32", "float64"}
BUILTIN = {**{k: "number" for k in INT_KINDS}, "string": "string", "bool": "bool",
           "any": "interface", "error": "interface"}

warnings = []


def git(repo, *args):
    return subprocess.run(["git", "-C", repo, *args], check=True, capture_output=True,
                          text=True).stdout


# ---------------------------------------------------------------------------------------------
# A Go lexer: enough of the language spec to find type declarations (comments, strings, runes,
# and automatic semicolons).

_token_re = re.compile(r"""
    (?P<ws>[ \t\r]+)
  | (?P<nl>\n)
  | (?P<lcomment>//[^\n]*)
  | (?P<bcomment>/\*.*?\*/)
  | (?P<raw>`[^`]*`)
  | (?P<str>"(?:[^"\\\n]|\\.)*")
  | (?P<rune>'(?:[^'\\\n]|\\.[^']*)')
  | (?P<num>\.?[0-9][0-9a-zA-Z_.]*(?:[eEpP][+-][0-9_]+)?)
  | (?P<ident>[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)
  | (?P<op>\.\.\.|<<=|>>=|&\^=|&&|\|\||<-|\+\+|--|==|!=|<=|>=|:=|<<|>>|&\^|[-+*/%&|^]=|[-+*/%&|^<>=!.,;:()\[\]{}~])
""", re.VERBOSE | re.DOTALL)

_ends_statement = {"break", "continue", "fallthrough", "return", "++", "--", ")", "]", "}"}


def tokens(src, where):
    """(kind, text) pairs, with the semicolons Go inserts at line ends."""
    out, pos = [], 0
    while pos < len(src):
        m = _token_re.match(src, pos)
        if not m:
            sys.exit(f"{where}: cannot lex at {src[pos:pos + 40]!r}")
        pos = m.end()
        kind, text = m.lastgroup, m.group()
        newline = kind == "nl" or (kind == "bcomment" and "\n" in text)
        if newline:
            if out and (out[-1][0] in ("ident", "num", "str", "raw", "rune")
                        or out[-1][1] in _ends_statement):
                out.append(("op", ";"))
            continue
        if kind in ("ws", "lcomment", "bcomment"):
            continue
        if kind == "raw":
            kind = "str"
        out.append((kind, text))
    if out and out[-1][1] != ";":
        out.append(("op", ";"))
    return out


def unquote(text):
    """A Go string literal's value (the escapes struct tags use)."""
    if text.startswith("`"):
        return text[1:-1]
    return re.sub(r'\\(.)', lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)),
                  text[1:-1])


# ---------------------------------------------------------------------------------------------
# Type expressions: ("named", pkg alias or None, name) | ("ptr", t) | ("slice", t) |
# ("array", t) | ("map", k, v) | ("struct", [fields]) | ("interface",) | ("func",) | ("chan", t).
# A struct field: (names or None when embedded, type, tag).


class Parser:
    def __init__(self, toks, where):
        self.t, self.i, self.where = toks, 0, where

    def peek(self, k=0):
        return self.t[self.i + k][1] if self.i + k < len(self.t) else ""

    def kind(self, k=0):
        return self.t[self.i + k][0] if self.i + k < len(self.t) else ""

    def next(self):
        tok = self.t[self.i]
        self.i += 1
        return tok[1]

    def expect(self, text):
        got = self.next()
        if got != text:
            self.fail(f"expected {text!r}, found {got!r}")

    def fail(self, msg):
        around = " ".join(tok[1] for tok in self.t[max(0, self.i - 8):self.i + 8])
        sys.exit(f"{self.where}: {msg} near: {around}")

    def skip_balanced(self):
        """Skips one bracketed group starting at the current token."""
        pairs = {"(": ")", "[": "]", "{": "}"}
        stack = [pairs[self.next()]]
        while stack:
            tok = self.next()
            if tok in pairs:
                stack.append(pairs[tok])
            elif tok == stack[-1]:
                stack.pop()

    def type_expr(self):
        tok = self.peek()
        if tok == "*":
            self.next()
            return ("ptr", self.type_expr())
        if tok == "(":
            self.next()
            inner = self.type_expr()
            self.expect(")")
            return inner
        if tok == "[":
            self.next()
            if self.peek() == "]":
                self.next()
                return ("slice", self.type_expr())
            while self.peek() != "]":
                self.next()
            self.next()
            return ("array", self.type_expr())
        if tok == "map":
            self.next()
            self.expect("[")
            key = self.type_expr()
            self.expect("]")
            return ("map", key, self.type_expr())
        if tok == "struct":
            self.next()
            return ("struct", self.struct_body())
        if tok == "interface":
            self.next()
            self.skip_balanced()
            return ("interface",)
        if tok == "func":
            self.next()
            self.skip_balanced()
            if self.peek() == "(":
                self.skip_balanced()
            elif self.peek() not in (";", "}", ")", "]", ",") and self.kind() != "str":
                self.type_expr()
            return ("func",)
        if tok == "chan" or tok == "<-":
            while self.peek() in ("chan", "<-"):
                self.next()
            return ("chan", self.type_expr())
        if self.kind() == "ident":
            name = self.next()
            if self.peek() == "." and self.kind(1) == "ident":
                self.next()
                qualified = ("named", name, self.next())
            else:
                qualified = ("named", None, name)
            if self.peek() == "[":
                self.skip_balanced()
                return ("generic", qualified)
            return qualified
        self.fail(f"unexpected {tok!r} in a type")

    def struct_body(self):
        self.expect("{")
        fields = []
        while self.peek() != "}":
            if self.peek() == ";":
                self.next()
                continue
            embedded = self.peek() == "*" or (
                self.kind() == "ident"
                and (self.peek(1) in (";", "}") or self.kind(1) == "str"
                     or (self.peek(1) == "." and self.kind(2) == "ident"
                         and (self.peek(3) in (";", "}") or self.kind(3) == "str"))))
            if embedded:
                names, ty = None, self.type_expr()
            else:
                names = [self.next()]
                while self.peek() == ",":
                    self.next()
                    names.append(self.next())
                ty = self.type_expr()
            tag = unquote(self.next()) if self.kind() == "str" else ""
            fields.append((names, ty, tag))
        self.expect("}")
        return fields


def parse_file(src, where):
    """(imports {alias: path}, type decls {name: (type expr, is alias)}, MarshalJSON receivers)."""
    p = Parser(tokens(src, where), where)
    imports, types, marshalers = {}, {}, set()
    while p.i < len(p.t):
        tok = p.next()
        if tok == "import":
            if p.peek() == "(":
                p.next()
                while p.peek() != ")":
                    if p.peek() == ";":
                        p.next()
                        continue
                    alias = p.next() if p.kind() != "str" else None
                    path = unquote(p.next())
                    imports[alias or path.rsplit("/", 1)[-1]] = path
                p.next()
            else:
                alias = p.next() if p.kind() != "str" else None
                path = unquote(p.next())
                imports[alias or path.rsplit("/", 1)[-1]] = path
        elif tok == "type":
            specs = []
            if p.peek() == "(":
                p.next()
                while p.peek() != ")":
                    if p.peek() == ";":
                        p.next()
                        continue
                    specs.append(type_spec(p))
                p.next()
            else:
                specs.append(type_spec(p))
            for name, ty, alias in specs:
                types.setdefault(name, []).append((ty, alias))
        elif tok == "func":
            if p.peek() == "(":
                start = p.i
                p.skip_balanced()
                recv = [t[1] for t in p.t[start + 1:p.i - 1] if t[0] == "ident"]
                if p.peek() == "MarshalJSON" and recv:
                    marshalers.add(recv[-1])
        elif tok in ("(", "[", "{"):
            p.i -= 1
            p.skip_balanced()
    return imports, types, marshalers


def type_spec(p):
    name = p.next()
    if p.peek() == "[" and p.kind(1) == "ident" and p.kind(2) == "ident":
        p.fail(f"generic type {name} is not handled")
    alias = p.peek() == "="
    if alias:
        p.next()
    return name, p.type_expr(), alias


# ---------------------------------------------------------------------------------------------
# Packages and resolution.


class Package:
    def __init__(self, path, group, files):
        self.path, self.group = path, group
        self.decls = {}  # name -> (type expr, imports of its file, is alias)
        self.marshalers = set()
        for fname, src in files:
            imports, types, marshalers = parse_file(src, f"{path}/{fname}")
            self.marshalers |= marshalers
            for name, specs in types.items():
                for ty, alias in specs:
                    if name in self.decls and (path, name) not in SPECIAL:
                        sys.exit(f"{path}: {name} is declared twice (build tags?)")
                    self.decls[name] = (ty, imports, alias)


def read_package(repo, listing, module, d):
    """The package in directory `d` of the mirror, or None when it has no Go files."""
    names = [f for f in listing if f.startswith(d + "/") and "/" not in f[len(d) + 1:]]
    go = [f for f in names if f.endswith(".go") and not f.endswith("_test.go")
          and not os.path.basename(f).startswith("zz_generated")
          and not f.endswith("generated.pb.go") and not f.endswith("_generated.go")]
    if not go:
        return None
    files = [(os.path.basename(f), git(repo, "show", f"HEAD:{f}")) for f in sorted(go)]
    # The API group: register.go's GroupName constant, else doc.go's +groupName marker. The
    # OpenAPI name prefix: the +k8s:openapi-model-package marker, when there is one.
    group = model_package = None
    for _, src in files:
        m = re.search(r'^const GroupName = "([^"]*)"', src, re.M)
        m = m or re.search(r"^// \+groupName=(\S*)\s*$", src, re.M)
        if m and group is None:
            group = m.group(1)
        m = re.search(r"^// \+k8s:openapi-model-package=(\S+)\s*$", src, re.M)
        if m:
            model_package = m.group(1)
    pkg = Package(f"{module}/{d}", group, files)
    pkg.model_package = model_package
    return pkg


class Mirror:
    """One module's git mirror (no work tree), read at HEAD."""

    def __init__(self, module, repo):
        self.module, self.repo = module, repo
        self.head = git(repo, "rev-parse", "HEAD").strip()
        self.listing = git(repo, "ls-tree", "-r", "--name-only", "HEAD").split("\n")

    def package(self, d):
        return read_package(self.repo, self.listing, self.module, d)


class Model:
    """The parsed packages (more are read when a type refers to them) and the rules."""

    def __init__(self, mirrors):
        self.mirrors = mirrors
        self.pkgs = {}
        self.fields_cache = {}

    def load(self, path):
        """The package at import path `path`, read from its module's mirror (None if absent)."""
        if path not in self.pkgs:
            self.pkgs[path] = None
            for mirror in self.mirrors:
                if path.startswith(mirror.module + "/"):
                    self.pkgs[path] = mirror.package(path[len(mirror.module) + 1:])
        return self.pkgs[path]

    def lookup(self, pkg, imports, ty):
        """A named type -> ("special", fill) | ("builtin", kind) | ("decl", pkg path, name)."""
        _, alias, name = ty
        if alias is None:
            if name in BUILTIN and name not in self.pkgs[pkg].decls:
                return ("builtin", BUILTIN[name])
            path = pkg
        else:
            if alias not in imports:
                sys.exit(f"{pkg}: unknown package {alias} in {alias}.{name}")
            path = imports[alias]
        if (path, name) in SPECIAL:
            return ("special", SPECIAL[(path, name)])
        if (path, name) in EXTERNAL_SCALARS:
            return ("builtin", EXTERNAL_SCALARS[(path, name)])
        if path == "time" and name == "Duration":
            return ("builtin", "number")
        if self.load(path) is None or name not in self.pkgs[path].decls:
            sys.exit(f"{pkg}: {path}.{name} is neither parsed nor special: add its package "
                     "to the lists or its zero value to SPECIAL")
        if name in self.pkgs[path].marshalers:
            sys.exit(f"{path}.{name} has its own MarshalJSON: add its zero value to SPECIAL")
        return ("decl", path, name)

    def kind(self, pkg, imports, ty, seen=()):
        """What encoding/json sees: ("number"|"string"|"bool"|"interface"|"bytes",) |
        ("special", fill) | ("struct", pkg, name) | ("ptr"|"slice"|"map", elem kind)."""
        tag = ty[0]
        if tag == "ptr":
            return ("ptr", self.kind(pkg, imports, ty[1]))
        if tag == "slice":
            elem = self.kind(pkg, imports, ty[1])
            if elem == ("number", "byte"):
                return ("bytes",)
            return ("slice", elem)
        if tag == "map":
            return ("map", self.kind(pkg, imports, ty[2]))
        if tag == "interface":
            return ("interface",)
        if tag == "array":
            sys.exit(f"{pkg}: arrays are not handled")
        if tag == "generic":
            sys.exit(f"{pkg}: generic type {ty[1]} is not handled")
        if tag in ("func", "chan"):
            return ("unsupported",)
        if tag == "struct":
            sys.exit(f"{pkg}: anonymous struct types are not handled")
        found = self.lookup(pkg, imports, ty)
        if found[0] == "builtin":
            # byte and uint8 are one type; []byte is base64.
            if found[1] == "number" and ty[2] in ("byte", "uint8") and ty[1] is None:
                return ("number", "byte")
            return (found[1],)
        if found[0] == "special":
            return found
        _, path, name = found
        if (path, name) in seen:
            sys.exit(f"{path}.{name}: a named type defined by itself")
        decl, decl_imports, is_alias = self.pkgs[path].decls[name]
        if decl[0] == "struct":
            return ("struct", path, name)
        if (decl[0] == "named" and not is_alias
                and self.lookup(path, decl_imports, decl)[0] == "special"):
            # A defined type does not get the methods of the type it is defined from.
            sys.exit(f"{path}.{name} is defined from a type with its own MarshalJSON, so it "
                     "encodes as a plain struct: not handled")
        return self.kind(path, decl_imports, decl, seen + ((path, name),))

    def json_fields(self, path, name, depth=0):
        """The struct's JSON fields after promotion: [(json, kind, omitempty, depth, tagged)]."""
        key = (path, name)
        if key in self.fields_cache:
            return self.fields_cache[key]
        if depth > 20:
            sys.exit(f"{path}.{name}: embedding too deep (a cycle?)")
        decl, imports, _ = self.pkgs[path].decls[name]
        found = []
        for names, ty, tag in decl[1]:
            m = re.search(r'(?:^|\s)json:"((?:[^"\\]|\\.)*)"', tag)
            json_tag = m.group(1) if m else None
            if json_tag == "-":
                continue
            parts = (json_tag or "").split(",")
            tag_name, opts = parts[0], set(parts[1:])
            omitempty = "omitempty" in opts
            if names is None:  # embedded
                base = ty[1] if ty[0] == "ptr" else ty
                kind = self.kind(path, imports, base)
                go_name = base[2]
                if not go_name[0].isupper() and kind[0] != "struct":
                    continue
                if not tag_name and kind[0] == "struct":
                    if ty[0] == "ptr":
                        warnings.append(f"{path}.{name}: embedded pointer {go_name}: its fields "
                                        "are only walked, never filled")
                    for f in self.json_fields(kind[1], kind[2], depth + 1):
                        jn, fk, fo, fd, ft = f
                        if ty[0] == "ptr":
                            fo = True
                        found.append((jn, fk, fo, fd + 1, ft))
                    continue
                if kind[0] == "special" and not tag_name:
                    sys.exit(f"{path}.{name}: embeds {go_name}, whose MarshalJSON would be "
                             "promoted; not handled")
                names = [go_name]
                ty_kind = self.kind(path, imports, ty)
            else:
                ty_kind = None
            for n in names:
                if not n[0].isupper():
                    continue
                jn = tag_name or n
                if json_tag is None:
                    warnings.append(f"{path}.{name}.{n}: no json tag, so Go names it {n!r}")
                k = ty_kind or self.kind(path, imports, ty)
                if k == ("unsupported",):
                    warnings.append(f"{path}.{name}.{n}: func/chan field; encoding/json fails "
                                    "on it, left out")
                    continue
                found.append((jn, k, omitempty, 0, bool(tag_name)))
        # Go's dominance rule: the shallowest name wins; at equal depth a single tagged one wins;
        # otherwise the name is dropped.
        by_name = {}
        for f in found:
            by_name.setdefault(f[0], []).append(f)
        result = []
        for f in found:
            rivals = by_name[f[0]]
            if not rivals:
                continue
            top = min(r[3] for r in rivals)
            best = [r for r in rivals if r[3] == top]
            if len(best) > 1:
                tagged = [r for r in best if r[4]]
                best = tagged if len(tagged) == 1 else []
                if not best:
                    warnings.append(f"{path}.{name}: {f[0]!r} is ambiguous; Go drops it")
            if best:
                result.append(best[0])
            by_name[f[0]] = []
        self.fields_cache[key] = result
        return result


def definition_name(path, name):
    """k8s.io/api/core/v1.Pod -> io.k8s.api.core.v1.Pod (upstream's OpenAPI definition names)."""
    host, _, rest = path.partition("/")
    return ".".join(reversed(host.split("."))) + "." + rest.replace("/", ".") + "." + name


# ---------------------------------------------------------------------------------------------
# Field facts.


def fill_of(kind, omitempty):
    """What Go writes for an unset field (None: nothing)."""
    tag = kind[0]
    if tag == "struct":
        return "Struct"
    if tag == "special":
        return kind[1]  # a struct: written even under omitempty
    if omitempty:
        return None
    if tag == "number":
        return "Zero"
    if tag == "string":
        return "EmptyStr"
    if tag == "bool":
        return "False"
    return "Null"  # pointer, slice, []byte, map, interface


def nesting(kind):
    """(shape, struct key) of the structs a field's value holds, or None."""
    tag = kind[0]
    if tag == "struct":
        return ("One", (kind[1], kind[2]))
    if tag == "ptr":
        inner = kind[1]
        if inner[0] == "struct":
            return ("One", (inner[1], inner[2]))
        if inner[0] in ("ptr", "slice", "map") and nesting(inner):
            sys.exit(f"pointer to container of structs {kind}: not handled")
        return None
    if tag in ("slice", "map"):
        elem = kind[1]
        shape = "List" if tag == "slice" else "Map"
        if elem[0] == "struct":
            return (shape, (elem[1], elem[2]))
        if elem[0] == "ptr" and elem[1][0] == "struct":
            return ("Ptr" + shape, (elem[1][1], elem[1][2]))
        if nesting(elem):
            sys.exit(f"container of containers of structs {kind}: not handled")
    return None


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--api", default="/work/.mirror/kubernetes+api/repo")
    ap.add_argument("--apimachinery", default="/work/.mirror/kubernetes+apimachinery/repo")
    ap.add_argument("--out", default=os.path.normpath(os.path.join(here, "..", "src", "codec", "go_fields.rs")))
    args = ap.parse_args()

    api = Mirror(API, args.api)
    apimachinery = Mirror(APIMACHINERY, args.apimachinery)
    model = Model([api, apimachinery])
    listed = [f"{API}/{d}" for d in API_PACKAGES] + [f"{APIMACHINERY}/{d}" for d in APIMACHINERY_PACKAGES]
    listed = [p for p in listed if model.load(p) is not None]

    # Every struct of the listed packages, and every struct they lead to, with its fields' facts.
    structs = {}  # key -> [(json, fill, shape, nested key)]
    todo = []
    for path in listed:
        pkg = model.pkgs[path]
        for name, (decl, _, _) in sorted(pkg.decls.items()):
            if decl[0] != "struct" or (path, name) in SPECIAL or not name[0].isupper():
                continue
            if name in pkg.marshalers:
                warnings.append(f"{path}.{name}: own MarshalJSON; left out of the table")
                continue
            todo.append((path, name))
    while todo:
        key = todo.pop()
        if key in structs:
            continue
        facts = []
        for jn, kind, omitempty, _, _ in model.json_fields(*key):
            nest = nesting(kind)
            facts.append((jn, fill_of(kind, omitempty), nest[0] if nest else "One",
                          nest[1] if nest else None))
            if nest:
                todo.append(nest[1])
        structs[key] = facts

    # Keep only what the walker acts on: a field that is filled, or that holds structs with
    # something to do; a struct with at least one such field.
    live = set(structs)
    while True:
        now = {k for k in live
               if any(fill or (nest in live) for _, fill, _, nest in structs[k])}
        if now == live:
            break
        live = now

    # Top-level kinds: structs that promote TypeMeta's fields and hold ObjectMeta (objects) or
    # ListMeta (their lists) as `metadata`.
    kinds = []
    for (path, name) in sorted(structs):
        if path not in listed:
            continue
        decl = model.pkgs[path].decls[name][0]
        imports = model.pkgs[path].decls[name][1]
        embeds_typemeta = any(
            names is None and not re.search(r'json:"[^",]', tag)
            and model.kind(path, imports, ty) == ("struct", META, "TypeMeta")
            for names, ty, tag in decl[1])
        meta = [f for f in model.json_fields(path, name) if f[0] == "metadata"]
        if not embeds_typemeta or not meta or meta[0][1][0] != "struct":
            continue
        if meta[0][1][1:] not in ((META, "ObjectMeta"), (META, "ListMeta")):
            continue
        group = model.pkgs[path].group
        if group is None:
            sys.exit(f"{path}: no +groupName in its doc.go")
        version = path.rsplit("/", 1)[-1]
        kinds.append(((group, version, name), (path, name)))

    for path, pkg in model.pkgs.items():
        want = pkg and pkg.model_package
        if want and definition_name(path, "X") != want + ".X":
            sys.exit(f"{path}: its definitions are named {want}, not {definition_name(path, '')}")

    order = sorted(live, key=lambda k: definition_name(*k))
    index = {k: i for i, k in enumerate(order)}
    if len(order) >= 0xFFFF:
        sys.exit("more types than a u16 index holds")
    kinds.sort()
    for a, b in zip(kinds, kinds[1:]):
        if a[0] == b[0]:
            sys.exit(f"kind {a[0]} is declared by two packages")

    nfields = 0
    lines = []
    for k in order:
        fields = []
        for jn, fill, shape, nest in structs[k]:
            nested = index.get(nest)
            if not fill and nested is None:
                continue
            nfields += 1
            fields.append(f'f("{jn}", {fill or "Absent"}, '
                          f'{"None" if nested is None else f"Some({nested})"}, {shape})')
        lines.append(f'    t("{definition_name(*k)}", &[{", ".join(fields)}]), // {index[k]}')

    out = []
    out.append("//! Generated by tools/gen-go-fields.py: do not edit. Regenerate with")
    out.append("//! `python3 tools/gen-go-fields.py` (it reads the mirrors below and writes this file).")
    out.append("//!")
    out.append(f"//! From the Go types of k8s.io/api at {api.head} and")
    out.append(f"//! k8s.io/apimachinery at {apimachinery.head}: every API struct whose JSON")
    out.append("//! encoding always writes a field, or that holds such a struct, with those fields")
    out.append("//! (see `go_json` for what each entry means). Sorted by definition name.")
    out.append("")
    out.append("use super::go_json::Fill::*;")
    out.append("use super::go_json::Shape::*;")
    out.append("use super::go_json::{f, t, Type};")
    out.append("")
    out.append(f"/// The {len(order)} structs, sorted by OpenAPI definition name; `Some(i)` is an index here.")
    out.append("#[rustfmt::skip]")
    out.append("pub(super) static TYPES: &[Type] = &[")
    out.extend(lines)
    out.append("];")
    out.append("")
    out.append(f"/// The {len(kinds)} top-level kinds: (group, version, kind) -> index in [`TYPES`], sorted.")
    out.append("#[rustfmt::skip]")
    out.append("pub(super) static KINDS: &[(&str, &str, &str, u16)] = &[")
    for (g, v, kname), key in kinds:
        if key not in index:
            sys.exit(f"kind {kname} has nothing to fill (no ObjectMeta?)")
        out.append(f'    ("{g}", "{v}", "{kname}", {index[key]}),')
    out.append("];")
    text = "\n".join(out) + "\n"
    with open(args.out, "w") as fh:
        fh.write(text)
    for w in sorted(set(warnings)):
        print("note:", w, file=sys.stderr)
    print(f"{args.out}: {len(order)} of {len(structs)} structs, {nfields} fields, "
          f"{len(kinds)} kinds, {len(text)} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
