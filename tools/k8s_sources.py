"""Reads the Kubernetes API types from two crates.io dependencies' sources in the cargo
registry, for the generators in this folder:
  - k8s-pb (prost types): each message's fields with their tags, protobuf types and the Go
    doc comments upstream's generators read markers from (`+listType=map`, `+patchMergeKey=`);
  - k8s-openapi: each field's JSON name (the Rust names lose its case, e.g. volumeID).
"""
import glob, os, re, sys


def crate_dir(name, version_glob):
    hits = sorted(glob.glob(os.path.expanduser(f"~/.cargo/registry/src/*/{name}-{version_glob}")))
    if not hits:
        sys.exit(f"{name} {version_glob} not in the cargo registry: run `cargo fetch`")
    return hits[-1]


PB = crate_dir("k8s-pb", "0.9.*") + "/src"
OA = crate_dir("k8s-openapi", "0.29.*") + "/src/v1_34"


def norm(rust):
    return rust.removeprefix("r#").rstrip("_")


def camel(snake):
    parts = snake.split("_")
    return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])


def json_names():
    """k8s-openapi: module path -> lowercase struct name -> {rust field: json name}."""
    names = {}
    for path in glob.glob(OA + "/**/*.rs", recursive=True):
        mod = os.path.relpath(os.path.dirname(path), OA).replace(os.sep, "/")
        text = open(path).read()
        m = re.search(r"pub struct (\w+) \{", text)
        if not m:
            continue
        fields = {norm(r): j for j, r in re.findall(r'"(\w+)" => Field::Key_(\w+),', text)}
        names.setdefault(mod, {})[m.group(1).lower()] = fields
    return names


class Field:
    """One message field: prost attribute, Rust name, Rust type, JSON name, doc lines."""

    def __init__(self, attr, rust, ty, json, doc):
        self.attr, self.rust, self.ty, self.json, self.doc = attr, rust, ty, json, doc


class Message:
    """One message: module parts (`api/core/v1` split), name, doc lines, fields."""

    def __init__(self, mod_parts, name, doc, fields):
        self.mod_parts, self.name, self.doc, self.fields = mod_parts, name, doc, fields


_attr_re = re.compile(r'#\[prost\((.*)\)\]')
_doc_re = re.compile(r'^\s*///\s?(.*)$')


def messages():
    """Every k8s-pb message, in a stable order."""
    names = json_names()
    for path in sorted(glob.glob(PB + "/**/mod.rs", recursive=True)):
        mod = os.path.relpath(os.path.dirname(path), PB).replace(os.sep, "/")
        mod_parts = mod.split("/")
        lines = open(path).read().split("\n")
        i = 0
        while i < len(lines):
            m = re.match(r"pub struct (\w+) \{", lines[i])
            if not m:
                i += 1
                continue
            name = m.group(1)
            back, doc = i - 1, []
            while back >= 0 and (lines[back].startswith("#[") or lines[back].startswith("///")):
                d = _doc_re.match(lines[back])
                if d:
                    doc.insert(0, d.group(1))
                back -= 1
            struct_names = names.get(mod, {}).get(name.lower(), {})
            fields, field_doc = [], []
            i += 1
            while i < len(lines) and lines[i] != "}":
                d = _doc_re.match(lines[i])
                if d:
                    field_doc.append(d.group(1))
                    i += 1
                    continue
                a = _attr_re.search(lines[i])
                if not a:
                    i += 1
                    continue
                attr = a.group(1)
                j = i + 1
                decl = ""
                while j < len(lines) and not (decl.rstrip().endswith(",") and decl.count("<") == decl.count(">")):
                    decl += lines[j].strip()
                    j += 1
                i = j
                fm = re.match(r"pub (r#)?(\w+):(.*),$", decl.replace(",>", ">"))
                doc_lines, field_doc = field_doc, []
                if not fm:
                    continue
                rust, ty = norm(fm.group(2)), fm.group(3).strip()
                fields.append(Field(attr, rust, ty, struct_names.get(rust, camel(rust)), doc_lines))
            yield Message(mod_parts, name, doc, fields)
            i += 1
