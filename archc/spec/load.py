"""Reading a spec: YAML with spans -> format version -> pydantic validation -> imports.

Every problem becomes a located Diagnostic; all problems of a file are collected in one run.
"""
from __future__ import annotations

import difflib
import errno
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from archc.diagnostics import Diagnostic, DiagnosticError, Related, Span
from archc.session import Session
from archc.spec.models import FORMAT_VERSION, SpecBase
from archc.spec.nodes import Entry, invalid_node, node_kind, typed_node
from archc.spec.yaml_loader import DEFAULT_LIMITS, Loaded, load_yaml_file, load_yaml_text

MAX_IMPORT_DEPTH = 16
MAX_IMPORT_NAME = 1000   # characters; file systems allow 255 bytes a name and 4096 a path


@dataclass
class SpecFile:
    """One validated spec file: its model, its raw data and where every value came from."""

    path: Path | None
    loaded: Loaded
    model: Any  # the Spec model instance
    # the typed nodes of each `layers:` list, by its data path (("layers",), ("blocks", NAME, "layers"))
    nodes: dict[tuple, list[Entry]] = field(default_factory=dict)
    # node-level schema problems (reported into the session; their nodes are `InvalidNode`s, which
    # elaboration skips, so one run reports them with everything else it finds)
    deferred: list[Diagnostic] = field(default_factory=list)

    @property
    def file(self) -> str:
        return self.loaded.file

    def key_span(self, path: tuple) -> Span | None:
        return self.loaded.spans.key(path) or self.loaded.spans.nearest(path)

    def value_span(self, path: tuple) -> Span | None:
        return self.loaded.spans.value(path) or self.loaded.spans.nearest(path)


@dataclass
class BlockSource:
    name: str
    model: Any          # BlockDef instance
    file: SpecFile      # where it is defined
    path: tuple         # data path of the block's mapping in that file, e.g. ("blocks", "basic")


@dataclass
class LoadedSpec:
    main: SpecFile
    blocks: dict[str, BlockSource]
    sources: dict[str, str] = field(default_factory=dict)   # display file name -> text, for rendering
    warnings: list[Diagnostic] = field(default_factory=list)
    extension: SpecFile | None = None   # the thin spec that `extends:` main, when there is one
    deferred: list[Diagnostic] = field(default_factory=list)  # node-level problems (already in the session)

    @property
    def model(self) -> Any:
        return self.main.model


def display_path(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:  # pragma: no cover - other drive on Windows
        return str(path)


def _walk(data: Any, loc: tuple) -> tuple:
    """Map a pydantic error location onto a path of real keys/indexes in the data (dropping union tags)."""
    path: list = []
    cur = data
    loc = tuple(loc)
    i = 0
    while i < len(loc):
        seg = loc[i]
        i += 1
        rest = loc[i:]
        # the node-kind discriminator adds a tag ("op", "block", "seq") and the op union adds the op
        # name: they are not keys of the data, even though "op" is also a key
        if isinstance(cur, dict) and seg in ("op", "block", "seq") and rest:
            if seg == "op" and rest[0] == cur.get("op"):
                i += 1
                continue
            if seg in ("block", "seq") and (rest[0] in cur or rest[0] == "from_"):
                continue
        if seg == "[key]":
            break
        if isinstance(cur, dict) and isinstance(seg, str) and seg in cur:
            path.append(seg)
            cur = cur[seg]
        elif isinstance(cur, list) and isinstance(seg, int) and 0 <= seg < len(cur):
            path.append(seg)
            cur = cur[seg]
        elif isinstance(cur, dict) and seg == "from_" and "from" in cur:
            path.append("from")
            cur = cur["from"]
    return tuple(path)


_EXPECT = {
    "int_type": "an integer", "int_parsing": "an integer", "int_from_float": "an integer",
    "float_type": "a number", "float_parsing": "a number", "bool_type": "true or false",
    "bool_parsing": "true or false", "string_type": "a string", "list_type": "a list",
    "dict_type": "a mapping", "model_type": "a mapping", "model_attributes_type": "a mapping",
    "none_required": "null",
}


def _expected(err: dict, in_union: bool = False) -> str:
    t = err["type"]
    if t == "string_type" and in_union:
        return "a ${...} expression"
    if t in _EXPECT:
        return _EXPECT[t]
    if t == "string_pattern_mismatch":
        pat = (err.get("ctx") or {}).get("pattern", "")
        if "A-Za-z0-9_.*" in pat:  # a `from:` entry (FromRef)
            return "a node or input name (`stages.*`: every repetition of `stages`), or a ${...} expression"
        if "${" in pat or "\\$\\{" in pat:
            return "a ${...} expression"
        if pat.startswith("^[A-Za-z_][A-Za-z0-9_]*$"):
            return "an identifier (letters, digits and _, not starting with a digit)"
        return f"a string matching {pat}"
    msg = err.get("msg") or t
    if t == "literal_error" and msg.startswith("Input should be "):
        return "one of " + msg[len("Input should be "):]
    for prefix in ("Input should be ", "Value should be ", "Value error, "):
        if msg.startswith(prefix):
            return msg[len(prefix):]
    return msg[0].lower() + msg[1:]


def _describe_context(data: Any, path: tuple) -> str:
    """`conv1` (conv2d), `symbols.H`, ... : how a mapping is named in messages."""
    for i in range(len(path), 0, -1):
        parent = _get(data, path[: i - 1]) if i > 1 else data
        key = path[i - 1]
        node = _get(data, path[:i])
        if isinstance(key, str) and isinstance(node, dict):
            kind = node_kind(node)
            if kind == "op" and isinstance(node.get("op"), str):
                return f"`{key}` ({node['op']})"
            if kind == "block":
                return f"`{key}` (block {node['block']})"
            dotted = ".".join(str(p) for p in path[:i] if isinstance(p, str))
            return f"`{dotted}`"
        if isinstance(key, int) and isinstance(node, dict) and "op" in node and isinstance(parent, list):
            return f"item {key} ({node.get('op')})"
    return "the spec"


def _get(data: Any, path: tuple) -> Any:
    cur = data
    for p in path:
        try:
            cur = cur[p]
        except (KeyError, IndexError, TypeError):
            return None
    return cur


def _allowed_keys(data: Any, parent_path: tuple) -> list[str]:
    from archc.ops import OPS
    from archc.spec import models as m

    parent = _get(data, parent_path)
    def keys(model: type[BaseModel]) -> list[str]:
        return [f.alias or n for n, f in model.model_fields.items()]

    if isinstance(parent, dict):
        kind = node_kind(parent)
        if kind == "op" and isinstance(parent["op"], str) and parent["op"] in OPS:
            return keys(m.raw_op_model(parent["op"]))
        if kind == "block":
            return keys(m.BlockCall)
        if kind == "seq":
            return keys(m.NodeCommon) + ["seq"]
    if len(parent_path) == 0:
        return keys(m.SpecBase)
    head = parent_path[0]
    if len(parent_path) == 2:
        return {"symbols": keys(m.SymbolDef), "inputs": keys(m.InputDef), "outputs": keys(m.OutputDef),
                "blocks": keys(m.BlockDef)}.get(head, [])
    if parent_path == ("init",):
        return keys(m.InitDef)
    if head == "ties" and len(parent_path) == 2:
        return keys(m.TieDef)
    if head == "blocks" and len(parent_path) == 4 and parent_path[2] == "params":
        return keys(m.ParamSpec)
    return []


def validation_diagnostics(err: ValidationError | list[dict], file: SpecFile) -> list[Diagnostic]:
    """Pydantic errors (with locations from the document root) as located diagnostics."""
    from archc.ops import OPS
    from archc.spec.index_from import index_from_diagnostic, index_from_path

    data = file.loaded.data
    by_path: dict[tuple, list[dict]] = {}
    for e in (err.errors() if isinstance(err, ValidationError) else err):
        path = _walk(data, e["loc"])
        if "[key]" in e["loc"]:
            e = dict(e, type="bad_key")
        by_path.setdefault(path, []).append(e)
    # a problem inside a list item explains the union errors reported on the list itself
    paths = sorted(by_path, key=len, reverse=True)
    keep: list[tuple] = []
    for p in paths:
        if any(q[: len(p)] == p and len(q) > len(p) and by_path[p][0]["type"] not in ("missing", "extra_forbidden") for q in keep):
            continue
        keep.append(p)
    diags: list[Diagnostic] = []
    index_froms: set[tuple] = set()
    for p in sorted(keep, key=lambda q: (file.value_span(q).line if file.value_span(q) else 0, str(q))):
        errs = by_path[p]
        fp = index_from_path(data, p)
        if fp is not None:              # `from: -1` (Ultralytics): one error a `from:`, naming the nodes meant
            if fp not in index_froms:
                index_froms.add(fp)
                diags.append(index_from_diagnostic(data, fp, file))
            continue
        types = {e["type"] for e in errs}
        where = _describe_context(data, p[:-1]) if p else "the spec"
        if "extra_forbidden" in types:
            key = p[-1] if p else "?"
            allowed = _allowed_keys(data, p[:-1])
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"did you mean `{close[0]}`?" if close else (f"allowed keys: {', '.join(allowed)}" if allowed else None)
            diags.append(Diagnostic("ARC101", f"unknown key `{key}` in {where}", file.key_span(p), hint=hint))
            continue
        if "missing" in types:
            for e in errs:
                if e["type"] != "missing":
                    continue
                missing = e["loc"][-1]
                missing = "from" if missing == "from_" else missing
                diags.append(Diagnostic("ARC103", f"missing key `{missing}` in {_describe_context(data, p)}",
                                        file.key_span(p) if p else Span(file.file, 1, 1)))
            continue
        if "union_tag_invalid" in types:
            e = next(e for e in errs if e["type"] == "union_tag_invalid")
            tag = (e.get("ctx") or {}).get("tag", "?")
            close = difflib.get_close_matches(str(tag), sorted(OPS), n=1)
            hint = f"did you mean `{close[0]}`?" if close else "`archc ops` lists the ops"
            span = file.value_span(p + ("op",)) if isinstance(_get(data, p), dict) else file.value_span(p)
            diags.append(Diagnostic("ARC113", f"unknown op `{tag}`", span, hint=hint))
            continue
        if "bad_key" in types:
            key = p[-1] if p else "?"
            what = "node id" if len(p) >= 2 and isinstance(p[-2], int) else "name"
            diags.append(Diagnostic("ARC102", f"{what} `{key}` must be an identifier (letters, digits and _, not starting with a digit)",
                                    file.key_span(p), hint="ids become module paths and expression names"))
            continue
        if "node_entry" in types:
            n = len(_get(data, p) or {})
            diags.append(Diagnostic("ARC102", f"each item of `layers` is one `id: {{...}}` mapping; this one has {n} keys",
                                    file.value_span(p), hint="indent the node's keys under its id"))
            continue
        if "node_kind" in types:
            who = f"`{p[-1]}`" if p and isinstance(p[-1], str) else where
            diags.append(Diagnostic("ARC102", f"{who}: a node needs `op`, `block` or `seq`", file.key_span(p) if p and isinstance(p[-1], str) else file.value_span(p),
                                    hint="e.g. `conv1: {op: conv2d, out: 64, kernel: 3}`"))
            continue
        if "union_tag_not_found" in types:
            diags.append(Diagnostic("ARC103", f"missing key `op` in {_describe_context(data, p)}", file.key_span(p)))
            continue
        value = _get(data, p)
        expected = []
        for e in errs:
            x = _expected(e, in_union=len(errs) > 1)
            if x not in expected:
                expected.append(x)
        name = f"`{p[-1]}`" if p and isinstance(p[-1], str) else (f"item {p[-1]}" if p else "the spec")
        if p and isinstance(p[-1], str) and len(p) > 1:
            name += f" in {_describe_context(data, p[:-1])}"
        shown = repr(value) if not isinstance(value, (dict, list)) else type(value).__name__
        if len(shown) > 60:
            shown = shown[:57] + "..."
        diags.append(Diagnostic("ARC102", f"{name} must be {' or '.join(expected)}; got {shown}", file.value_span(p)))
    return diags


def _check_version(loaded: Loaded) -> Diagnostic | None:
    data = loaded.data
    span0 = Span(loaded.file, 1, 1)
    if not isinstance(data, dict):
        return Diagnostic("ARC102", "a spec must be a YAML mapping with `archc: 1` at the top", span0 if data is None else loaded.spans.value(()) or span0)
    if "archc" not in data:
        return Diagnostic("ARC103", "missing `archc:` format version", span0, hint=f"add `archc: {FORMAT_VERSION}` as the first key")
    v = data["archc"]
    if v != FORMAT_VERSION or isinstance(v, bool):
        return Diagnostic(
            "ARC111", f"spec format version {v!r} is not supported by this build of archc (it reads version {FORMAT_VERSION})",
            loaded.spans.value(("archc",)),
            hint="upgrade archc" if isinstance(v, int) and v > FORMAT_VERSION else f"use `archc: {FORMAT_VERSION}`",
        )
    return None


def validate(loaded: Loaded, path: Path | None, session: Session | None = None) -> SpecFile:
    """Validate one file. Problems of the spec's frame raise; node-level problems are reported into
    `session` (their nodes become `InvalidNode`s), or raise with the rest when there is none."""
    file = SpecFile(path, loaded, None)
    bad = _check_version(loaded)
    if bad:
        raise DiagnosticError([bad])
    # The spec's frame is validated by SpecBase; each node by its own op's model, built on first
    # use. (The full model with a union of every op, `build_models()`, is the same language: it
    # generates the JSON Schema. Building it costs ~0.3 s, which `archc lint` cannot afford.)
    errors: list[dict] = []
    try:
        file.model = SpecBase.model_validate(loaded.data)
    except ValidationError as e:
        errors.extend(e.errors())
    node_errors, file.nodes = _validate_nodes(loaded.data)
    if errors or (node_errors and session is None):
        raise DiagnosticError(validation_diagnostics(errors + node_errors, file))
    if node_errors:
        file.deferred = validation_diagnostics(node_errors, file)
        session.report(file.deferred)
    return file


def _validate_nodes(data: Any) -> tuple[list[dict], dict[tuple, list[Entry]]]:
    """Validate every node body in `layers:` and in each block's `layers:` (and inside `seq:`),
    each with its own op's model (built on first use).

    Returns the errors and the typed nodes of each `layers:` list (by its data path)."""
    from archc.ops import OPS, load_ops
    from archc.spec.models import ID_PATTERN, BlockCall, SeqNodeLight, raw_op_model

    load_ops()
    errors: list[dict] = []
    bad: set = set()
    current: list = [None]   # the entry being validated
    typed: dict[tuple, list[Entry]] = {}
    ident = re.compile(ID_PATTERN)

    def err(loc: tuple, type_: str, msg: str, **ctx: Any) -> None:
        errors.append({"type": type_, "loc": loc, "msg": msg, "input": None, "ctx": ctx or None})
        bad.add(current[0])

    def body(b: Any, loc: tuple) -> None:
        if not isinstance(b, dict):
            err(loc, "dict_type", "Input should be a valid dictionary")
            return
        kind = node_kind(b)
        if kind == "op":
            op = b["op"]
            if not isinstance(op, str):
                err(loc + ("op",), "string_type", "Input should be a valid string")
                return
            if op not in OPS:
                err(loc, "union_tag_invalid", f"unknown op {op!r}", tag=op)
                return
            model = raw_op_model(op)
        elif kind == "block":
            model = BlockCall
        elif kind == "seq":
            model = SeqNodeLight
        else:
            err(loc, "node_kind", "a node needs `op`, `block` or `seq`")
            return
        try:
            model.model_validate(b)
        except ValidationError as e:
            bad.add(current[0])
            for x in e.errors():
                errors.append(dict(x, loc=loc + tuple(x["loc"])))
        if kind == "seq" and isinstance(b["seq"], list):
            for k, item in enumerate(b["seq"]):
                body(item, loc + ("seq", k))

    def entries(layers: Any, loc: tuple) -> None:
        if not isinstance(layers, list):
            return  # SpecBase reports it
        out: list[Entry] = typed.setdefault(loc, [])
        for j, entry_map in enumerate(layers):
            out.append(None)
            if not isinstance(entry_map, dict):
                continue  # SpecBase reports it
            current[0] = loc + (j,)
            if len(entry_map) != 1:
                err(loc + (j,), "node_entry", "each item is one `id: {...}` mapping")
                continue
            ((nid, b),) = entry_map.items()
            path = loc + (j, nid)
            current[0] = path
            if not isinstance(nid, str) or not ident.match(nid):
                err(loc + (j, nid, "[key]"), "string_pattern_mismatch", "bad id", pattern=ID_PATTERN)
                if isinstance(nid, str):
                    out[j] = invalid_node(nid, b, path)
                continue
            body(b, path)
            out[j] = invalid_node(nid, b, path) if path in bad else typed_node(nid, b, path)

    if isinstance(data, dict):
        entries(data.get("layers"), ("layers",))
        blocks = data.get("blocks")
        if isinstance(blocks, dict):
            for name, b in blocks.items():
                if isinstance(b, dict):
                    entries(b.get("layers"), ("blocks", name, "layers"))
    return errors, typed


def _load_file(target: Path, sources: dict[str, str]) -> Loaded:
    """Load an imported (or extended) file and remember its text for excerpts, also when its YAML
    is broken: a diagnostic inside a library shows its source line like any other."""
    shown = display_path(target)
    try:
        loaded = load_yaml_file(target, display=shown)
    except DiagnosticError as e:
        if shown not in sources and file_kind(target) == "file":
            try:
                with open(target, "rb") as f:
                    raw = f.read(DEFAULT_LIMITS.max_bytes + 1)
                if len(raw) <= DEFAULT_LIMITS.max_bytes:
                    sources[shown] = raw.decode("utf-8", errors="replace").removeprefix("\ufeff")
            except OSError:
                pass
        raise e.with_sources(sources)
    sources.setdefault(loaded.file, loaded.text)
    return loaded


def _library_dirs(spec_dir: Path, lib_first: bool = True) -> list[Path]:
    """Where imports are found: the block library beside the spec (`lib/`), then the spec's folder."""
    dirs = [spec_dir / "lib", spec_dir]
    return dirs if lib_first else dirs[::-1]


def _resolve_import(name: str, spec_dir: Path, span: Span | None, lib_first: bool = True) -> Path:
    word = "import" if lib_first else "extends"
    try:
        roots = [d.resolve() for d in _library_dirs(spec_dir, lib_first)]
    except (OSError, RuntimeError):  # `lib` is a symlink loop
        raise DiagnosticError([Diagnostic("ARC112", f"{word} `{name[:60]}`: the block library folder cannot be resolved "
                                          "(a symlink loop?)", span)]) from None
    if ".." in name.replace("\\", "/").split("/") or name.startswith(("/", "\\", "~")) or ":" in name:
        raise DiagnosticError([Diagnostic("ARC112", f"{word} `{name}` escapes the spec's folder and the block library", span,
                                          hint="imports name a library file, e.g. `resnet` for lib/resnet.yaml")])
    if not name or not all(part and (part.replace("_", "a").replace("-", "a").isalnum()) for part in name.split("/")):
        raise DiagnosticError([Diagnostic("ARC112", f"{word} `{name}` is not a library name (letters, digits, _, - and /)", span)])
    shown = name if len(name) <= 60 else name[:57] + "..."
    if len(name) > MAX_IMPORT_NAME or any(len(part.encode()) + 5 > 255 for part in name.split("/")):
        raise DiagnosticError([Diagnostic(
            "ARC112", f"{word} `{shown}` is {len(name):,} characters long, longer than a file name may be", span,
            hint=f"a library name has at most {MAX_IMPORT_NAME} characters, and at most 250 between two `/`")])
    for root in roots:
        raw = root / f"{name}.yaml"
        kind = file_kind(raw)
        if kind in ("a symlink loop", "a broken symlink") or kind.startswith(("unreadable", "a name longer")):
            raise DiagnosticError([Diagnostic("ARC112", f"{word} `{shown}`: {display_path(raw)} is {kind}", span,
                                              hint="a library is a regular .yaml file")])
        try:
            cand = raw.resolve()
        except (OSError, RuntimeError):  # a loop that appeared since
            raise DiagnosticError([Diagnostic("ARC112", f"{word} `{shown}`: {display_path(raw)} cannot be resolved", span)]) from None
        if not any(cand.is_relative_to(r) for r in roots):
            raise DiagnosticError([Diagnostic("ARC112", f"{word} `{shown}` escapes the spec's folder and the block library", span)])
        if kind == "file":
            return cand
        if kind not in ("missing", "folder"):
            raise DiagnosticError([Diagnostic("ARC112", f"{word} `{shown}`: {display_path(raw)} is not a regular file ({kind})",
                                              span, hint="a library is a regular .yaml file")])
    avail = sorted({p.stem for r in roots if r.is_dir() for p in r.glob("*.yaml")})
    close = difflib.get_close_matches(name, avail, n=1)
    raise DiagnosticError([Diagnostic(
        "ARC112", f"{word} `{name}` not found in {', '.join(display_path(r) for r in roots)}", span,
        hint=f"did you mean `{close[0]}`?" if close else (f"available: {', '.join(avail)}" if avail else None))])


def file_kind(path: str | os.PathLike) -> str:
    """What `path` names, following symlinks, without opening it: "file" (a regular file),
    "folder", "missing", or what else it is ("a character device", "a FIFO", "a symlink loop", ...)."""
    try:
        st = os.stat(path)
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "a symlink loop"
        if e.errno == errno.ENAMETOOLONG:
            return "a name longer than the file system allows"
        if e.errno == errno.ENOENT and os.path.lexists(path):
            return "a broken symlink"
        if e.errno in (errno.ENOENT, errno.ENOTDIR):
            return "missing"
        return f"unreadable: {e.strerror or e}"
    except (ValueError, TypeError):  # a NUL byte in the name
        return "missing"
    mode = st.st_mode
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "folder"
    return ("a character device" if stat.S_ISCHR(mode) else "a block device" if stat.S_ISBLK(mode)
            else "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "not a file")


def not_regular(file: str, kind: str) -> Diagnostic:
    """ARC007 for a path that exists (or is listed) but is not a regular file."""
    what = kind if kind.startswith(("a ", "an ", "unreadable")) else f"a {kind}"
    return Diagnostic("ARC007", f"cannot read `{file}`: not a regular file ({what})", Span(file, 1, 1),
                      hint="a spec is a regular .yaml file")


def read_spec(path: str | os.PathLike | None, text: str | None = None, session: Session | None = None) -> Loaded:
    """The load stage: a spec file's YAML with its spans (`text` instead of the file's, for an
    editor buffer). Raises FileNotFoundError for a path that does not exist, DiagnosticError for a
    path that is not a regular file (a device, a FIFO, a symlink loop: ARC007, never opened) and
    for YAML problems."""
    session = session if session is not None else Session()
    p = Path(path) if path is not None else Path("<text>")
    if text is None:
        kind = file_kind(p)
        if kind in ("missing", "folder"):
            raise FileNotFoundError(str(p))
        if kind != "file":
            raise session.error([not_regular(display_path(p), kind)])
    try:
        loaded = load_yaml_text(text, file=str(path)) if text is not None else load_yaml_file(p, display=display_path(p))
    except DiagnosticError as e:
        try:
            if text is not None:
                session.add_source(str(path), text)
            else:
                session.add_source(display_path(p), p.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            pass
        raise session.error(e.diagnostics) from None
    session.add_source(loaded.file, loaded.text)
    return loaded


def load_spec(path_or_text: str | os.PathLike, *, text: str | None = None, session: Session | None = None) -> LoadedSpec:
    """Load and validate a spec file and the block libraries it imports (the load and validate stages).

    Raises DiagnosticError with every problem found in the file (and its imports). With a
    `session`, problems inside single nodes are reported into it instead, and loading goes on, so
    that elaboration reports them together with everything else it finds.
    """
    loaded = read_spec(path_or_text, text, session)
    return validate_spec(loaded, Path(path_or_text), session)


def validate_spec(loaded: Loaded, path: Path, session: Session | None = None) -> LoadedSpec:
    """The validate stage: the schema, `extends:` and imports, for the file `read_spec` loaded."""
    strict = session is None
    session = session if session is not None else Session()
    try:
        return _validate_spec(loaded, path, session, strict)
    except DiagnosticError as e:
        # the error holds everything the session knows (node-level problems reported before it)
        raise session.error(d for d in e.diagnostics if d not in session.diagnostics) from None


def _validate_spec(loaded: Loaded, path: Path, session: Session, strict: bool) -> LoadedSpec:
    sources = session.sources
    sources.setdefault(loaded.file, loaded.text)
    node_session = None if strict else session

    def fail(diags: list[Diagnostic]) -> DiagnosticError:
        return DiagnosticError(diags, sources)

    main = validate(loaded, path.resolve(), node_session)
    extension: SpecFile | None = None
    if main.model.extends is not None:
        extension = main
        allowed = {"archc", "name", "doc", "extends", "params", "variant"}
        bad = [k for k in main.model.model_fields_set if k not in allowed and k != "extends"]
        if bad:
            raise fail([Diagnostic(
                "ARC101", f"a spec that extends another may only set {', '.join(sorted(allowed - {'archc'}))}; `{k}` is not allowed here",
                main.key_span((k,)), hint="put structural changes in the base spec, as a param or a variant") for k in bad])
        try:
            target = _resolve_import(main.model.extends, path.resolve().parent, main.value_span(("extends",)), lib_first=False)
        except DiagnosticError as e:
            raise e.with_sources(sources)
        if target == path.resolve():
            raise fail([Diagnostic("ARC106", "a spec cannot extend itself", main.value_span(("extends",)))])
        base_loaded = _load_file(target, sources)
        base = validate(base_loaded, target, node_session)
        if base.model.extends is not None:
            raise fail([Diagnostic("ARC112", f"`{main.model.extends}` extends another spec itself; only one level is supported",
                                   main.value_span(("extends",)))])
        main = base
    blocks: dict[str, BlockSource] = {}
    diags: list[Diagnostic] = []
    seen: set[Path] = set()

    def add_blocks(f: SpecFile) -> None:
        for name, b in f.model.blocks.items():
            if name in blocks:
                other = blocks[name]
                if other.file is f:
                    continue
                diags.append(Diagnostic(
                    "ARC105", f"block `{name}` is defined twice", f.key_span(("blocks", name)),
                    related=(Related("also defined here", other.file.key_span(("blocks", name))),)))
                continue
            blocks[name] = BlockSource(name, b, f, ("blocks", name))

    add_blocks(main)

    def visit(f: SpecFile, depth: int) -> None:
        spec_dir = (f.path.parent if f.path else Path.cwd())
        for i, name in enumerate(f.model.imports):
            span = f.value_span(("imports", i))
            try:
                if depth > MAX_IMPORT_DEPTH:
                    raise DiagnosticError([Diagnostic("ARC112", f"imports nest deeper than {MAX_IMPORT_DEPTH}", span)])
                target = _resolve_import(name, spec_dir, span)
                if target in seen:
                    continue
                seen.add(target)
                lib_loaded = _load_file(target, sources)
                lib = validate(lib_loaded, target, node_session)
                add_blocks(lib)
                visit(lib, depth + 1)
            except DiagnosticError as e:
                diags.extend(e.diagnostics)

    if main.path:
        seen.add(main.path)
    visit(main, 0)
    if diags:
        raise fail(diags)
    files = [main] + ([extension] if extension is not None else []) + list({id(b.file): b.file for b in blocks.values()}.values())
    deferred = [d for f in {id(f): f for f in files}.values() for d in f.deferred]
    return LoadedSpec(main, blocks, sources, extension=extension, deferred=deferred)
