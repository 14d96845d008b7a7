"""State_dict mapping between a reference implementation (or a weights file) and a spec's module.

`map_state_dict` applies a spec's `reference.weights` section, in this order:

1. `rename`: regular expressions over the reference's keys, in order (`re.sub`, `\\1` for groups);
2. `ignore`: globs (fnmatch: `*` matches anything, dots included) over the renamed keys;
3. `join`: several reference keys concatenated into one spec key; `*` matches one path segment and
   must match the same segment in every source and in the target (`h.*.attn.q.weight` ...);
4. `split`: one reference key cut in equal parts into several spec keys (the inverse of `join`);
5. `transpose`: globs over the spec's keys whose values the reference stores transposed (`.t()` of a
   2-D tensor; 0-D and 1-D values are left alone);
6. `reshape`: globs over the spec's keys whose values the reference stores in another shape of as
   many elements (a spec's `[C, 1, 1, 1]` layer scale that the reference keeps as `[C, 1, 1]`).

Two more lists describe the reference's parameters rather than their mapping: `unused` (globs over
the reference's keys, as it names them or after `rename`) are parameters its forward never reads and
the spec does not have: they are dropped like `ignore`d keys and reported in `MapResult.unused`, so
that `archc compare` leaves them out of the parameter count; `frozen` are parameters that do not
train (`MapResult.frozen`): mapped as usual, their gradients not compared.

Every spec key remembers where its value came from (`Provenance`), so a spec-layout state_dict can be
turned back into the reference's layout (`unmap_state_dict`). Tied spec keys are filled from each
other when the source provides only one of them.

`load_weights` reads a safetensors or torch file (tensors only: `weights_only=True`) into a module.
"""
from __future__ import annotations

from archc.errors import MissingDependency, pip_install

import difflib
import os
import re
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, Callable, Iterable, Mapping, NamedTuple, Optional

from archc.diagnostics import Diagnostic, DiagnosticError, Span
from archc.spec.models import WeightMapping

SpanOf = Callable[[tuple], Optional[Span]]
MAX_LISTED = 12   # diagnostics listed per kind of problem before a summary line


class MissingPackage(MissingDependency):
    """An optional package (torchvision, timm, transformers, diffusers, safetensors) is not installed."""

    def __init__(self, package: str, what: str, install: str | None = None):
        self.package = package
        self.install = install or pip_install("reference")
        super().__init__(f"{what} needs the `{package}` package, which is not installed: {self.install}")


@dataclass(frozen=True)
class Provenance:
    """Where a spec key's value came from: reference `sources` (original keys) combined by `op`.

    op: "copy" (one source), "join" (concatenated along `dim`; `sizes` are the parts' lengths),
    "split" (part `index` of `parts` equal parts along `dim` of the single source), "tie" (the value
    of the tied spec key `sources[0]`). `transposed`: the value was transposed after that.
    """

    sources: tuple[str, ...]
    op: str = "copy"
    dim: int = 0
    index: int = 0
    parts: int = 1
    sizes: tuple[int, ...] = ()
    transposed: bool = False
    shape: tuple[int, ...] | None = None   # reshaped (`reshape`) from this shape (after any transpose)


class MapResult(NamedTuple):
    mapped: dict[str, Any]
    unmatched_ref: list[str]
    unmatched_spec: list[str]
    problems: list[Diagnostic]
    unused: list[str] = []     # reference keys (original names) dropped as `unused`
    frozen: list[str] = []     # reference keys (original names) declared `frozen`


def _shape(t: Any) -> list[int]:
    return list(getattr(t, "shape", ()))


def _seg_regex(pattern: str) -> tuple[re.Pattern, int]:
    """A join/split key pattern: `*` matches one path segment (no dots). Returns (regex, number of stars)."""
    parts = pattern.split("*")
    return re.compile("([^.]+)".join(re.escape(p) for p in parts) + r"\Z"), len(parts) - 1


def _fill(pattern: str, groups: tuple[str, ...]) -> str:
    it = iter(groups)
    return re.sub(r"\*", lambda _m: next(it), pattern)


@dataclass
class _MapState:
    """The mapping in progress, shared by the steps of `map_state_dict`.

    `current`: renamed key -> original reference key (the keys still in play); `values`: renamed
    key -> tensor; `mapped`: spec key -> value so far; `consumed`: renamed keys used by a join, a
    split or a copy; `targets`: the spec's keys and shapes not yet reported as mis-shaped.
    """

    src: str
    span_of: SpanOf
    targets: dict[str, tuple]
    prov: dict[str, Provenance]
    problems: list[Diagnostic] = field(default_factory=list)
    current: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    mapped: dict[str, Any] = field(default_factory=dict)
    consumed: set[str] = field(default_factory=set)
    unused: list[str] = field(default_factory=list)
    frozen: list[str] = field(default_factory=list)

    def bad_spec(self, msg: str, path: tuple, hint: str | None = None) -> None:
        """A malformed `reference.weights` rule (ARC119) at `path` inside the section."""
        self.problems.append(Diagnostic("ARC119", msg, self.span_of(("reference", "weights") + path), hint=hint))

    def problem(self, msg: str, path: tuple | None = None, hint: str | None = None) -> None:
        """A value that cannot be mapped (ARC603), located at the rule `path` when given."""
        span = self.span_of(("reference", "weights") + path) if path is not None else None
        self.problems.append(Diagnostic("ARC603", msg, span, hint=hint))


def map_state_dict(
    ref_sd: dict[str, Any],
    mapping: WeightMapping | None,
    target_shapes: dict[str, tuple],
    *,
    ties: Iterable[tuple[str, str]] = (),
    source_name: str = "reference",
    provenance: dict[str, Provenance] | None = None,
    span_of: SpanOf | None = None,
) -> MapResult:
    """Map a reference state_dict onto the spec's keys.

    Returns (mapped, unmatched_ref, unmatched_spec, problems): `mapped` holds spec keys whose values
    have the spec's shapes; `unmatched_ref` the source's keys (original names) used by nothing;
    `unmatched_spec` the spec's keys given no value; `problems` ARC603 diagnostics for mis-shaped
    values and broken join/split groups, ARC119 for a malformed mapping. Mis-shaped keys are neither
    in `mapped` nor in the unmatched lists. `provenance`, when given, is filled for every mapped key.
    `ties` are (param, to) pairs of spec keys sharing storage.
    """
    mapping = mapping or WeightMapping()
    st = _MapState(source_name, span_of or (lambda _path: None), dict(target_shapes),
                   {} if provenance is None else provenance)
    _rename(st, ref_sd, mapping)
    _declared(st, mapping)
    _ignore(st, mapping)
    _join(st, mapping)
    _split(st, mapping)
    _copy_direct(st)
    _transpose(st, mapping)
    _reshape(st, mapping)
    _fill_ties(st, ties)
    _check_shapes(st)
    return _result(st, ref_sd, target_shapes)


def _rename(st: _MapState, ref_sd: dict[str, Any], mapping: WeightMapping) -> None:
    """Step 1: apply the `rename` regular expressions in order to every reference key, keeping
    each renamed key's original name; two keys renamed to one is a problem (the second is dropped).
    A pattern that fails on a key stops renaming for the keys after it."""
    compiled = []
    for i, r in enumerate(mapping.rename):
        try:
            compiled.append((re.compile(r.pattern), r.to, i))
        except re.error as e:
            st.bad_spec(f"rename pattern {r.pattern!r} is not a regular expression: {e}", ("rename", i, "pattern"))
    for key in ref_sd:
        new = key
        for rx, to, i in compiled:
            try:
                new = rx.sub(to, new)
            except (re.error, IndexError) as e:
                st.bad_spec(f"rename {rx.pattern!r} -> {to!r} fails on `{new}`: {e}", ("rename", i, "to"))
                compiled = []
                break
        if new in st.current:
            st.problem(f"{st.src} keys `{st.current[new]}` and `{key}` are both renamed to `{new}`", ("rename",),
                       hint="make the rename patterns more specific")
            continue
        st.current[new] = key
    st.values = {new: ref_sd[orig] for new, orig in st.current.items()}


def _declared(st: _MapState, mapping: WeightMapping) -> None:
    """The reference keys declared `frozen` (kept) and `unused` (dropped), each glob matched against
    the key as the reference names it and as renamed."""
    def hits(pats: list[str], new: str, orig: str) -> bool:
        return any(fnmatchcase(new, p) or fnmatchcase(orig, p) for p in pats)

    for new, orig in list(st.current.items()):
        if hits(mapping.frozen, new, orig):
            st.frozen.append(orig)
        if hits(mapping.unused, new, orig):
            st.unused.append(orig)
            del st.current[new]


def _ignore(st: _MapState, mapping: WeightMapping) -> None:
    """Step 2: drop the renamed keys that match an `ignore` glob."""
    for pat in mapping.ignore:
        for k in [k for k in st.current if fnmatchcase(k, pat)]:
            del st.current[k]


def _join(st: _MapState, mapping: WeightMapping) -> None:
    """Step 3: concatenate each `join` group's source keys (matched segment by segment) into its
    target key; a group with a missing member or parts that do not concatenate is a problem."""
    import torch

    for i, j in enumerate(mapping.join):
        if not j.sources:
            st.bad_spec("a join needs at least one source key", ("join", i, "from"))
            continue
        regs = [_seg_regex(s) for s in j.sources]
        stars = regs[0][1]
        if any(n != stars for _, n in regs) or _seg_regex(j.into)[1] != stars:
            st.bad_spec(f"join into `{j.into}`: every key must have the same number of `*` ({stars} in `{j.sources[0]}`)",
                        ("join", i))
            continue
        for k in list(st.current):
            m = regs[0][0].match(k)
            if m is None or k in st.consumed:
                continue
            groups = m.groups()
            names = [_fill(s, groups) for s in j.sources]
            into = _fill(j.into, groups)
            missing = [n for n in names if n not in st.current or n in st.consumed]
            if missing:
                st.problem(f"join into `{into}`: {st.src} has `{k}` but not " + ", ".join(f"`{n}`" for n in missing),
                           ("join", i))
                continue
            parts = [st.values[n] for n in names]
            try:
                val = torch.cat(parts, dim=j.dim)
            except (RuntimeError, IndexError) as e:
                st.problem(f"join into `{into}`: cannot concatenate " + ", ".join(
                    f"`{st.current[n]}` {_shape(p)}" for n, p in zip(names, parts)) + f" along dim {j.dim}: {e}",
                    ("join", i))
                st.consumed.update(names)
                continue
            st.consumed.update(names)
            st.mapped[into] = val
            st.prov[into] = Provenance(tuple(st.current[n] for n in names), "join", dim=j.dim,
                                       sizes=tuple(int(p.shape[j.dim]) for p in parts))


def _split(st: _MapState, mapping: WeightMapping) -> None:
    """Step 4: cut each key matching a `split` source into equal parts, one per target key; a value
    that does not divide evenly along the dim is a problem."""
    import torch

    for i, s in enumerate(mapping.split):
        rx, stars = _seg_regex(s.source)
        if not s.into or any(_seg_regex(t)[1] != stars for t in s.into):
            st.bad_spec(f"split of `{s.source}`: needs target keys, each with {stars} `*` like the source", ("split", i))
            continue
        n = len(s.into)
        for k in list(st.current):
            m = rx.match(k)
            if m is None or k in st.consumed:
                continue
            st.consumed.add(k)
            v = st.values[k]
            intos = [_fill(t, m.groups()) for t in s.into]
            if v.dim() <= s.dim or v.shape[s.dim] % n:
                st.problem(f"split of {st.src} `{st.current[k]}` {_shape(v)} into {n} equal parts along dim {s.dim} "
                           f"({', '.join(f'`{t}`' for t in intos)}) is not possible", ("split", i))
                continue
            for idx, (t, part) in enumerate(zip(intos, torch.chunk(v, n, dim=s.dim))):
                st.mapped[t] = part
                st.prov[t] = Provenance((st.current[k],), "split", dim=s.dim, index=idx, parts=n)


def _copy_direct(st: _MapState) -> None:
    """Copy every remaining renamed key that is a spec key, unchanged."""
    for k, orig in st.current.items():
        if k in st.consumed or k in st.mapped:
            continue
        if k in st.targets:
            st.mapped[k] = st.values[k]
            st.prov[k] = Provenance((orig,), "copy")
            st.consumed.add(k)


def _transpose(st: _MapState, mapping: WeightMapping) -> None:
    """Step 5: transpose the 2-D values of spec keys matching a `transpose` glob (once each);
    matching values of more than two dims are a problem, 0-D and 1-D ones are left alone."""
    for pat in mapping.transpose:
        for k in list(st.mapped):
            if not fnmatchcase(k, pat) or st.prov[k].transposed:
                continue
            v = st.mapped[k]
            if v.dim() == 2:
                st.mapped[k] = v.t()
                st.prov[k] = _replace(st.prov[k], transposed=True)
            elif v.dim() > 2:
                st.problem(f"`{k}` matches transpose pattern {pat!r} but its value from {st.src} "
                           f"`{', '.join(st.prov[k].sources)}` has {v.dim()} dims {_shape(v)}; only 2-D values are transposed",
                           ("transpose",))


def _reshape(st: _MapState, mapping: WeightMapping) -> None:
    """Step 6: give the values of spec keys matching a `reshape` glob the spec's shape, when they hold
    as many elements; a value of another number of elements is a problem (at the rule)."""
    for i, pat in enumerate(mapping.reshape):
        for k in list(st.mapped):
            want = st.targets.get(k)
            if want is None or not fnmatchcase(k, pat) or st.prov[k].shape is not None:
                continue
            v = st.mapped[k]
            got = tuple(v.shape)
            if got == tuple(want):
                continue
            if v.numel() != _numel(want):
                st.problem(f"`{k}` matches reshape pattern {pat!r}, but its value from {st.src} "
                           f"`{', '.join(st.prov[k].sources)}` has {list(got)} ({v.numel()} elements) and the spec's "
                           f"{list(want)} ({_numel(want)} elements): a reshape keeps the number of elements",
                           ("reshape", i), hint="a reshape only adds or drops size-1 dims or regroups them")
                del st.mapped[k]
                st.prov.pop(k)
                st.targets.pop(k)   # reported: not unmatched as well
                continue
            st.mapped[k] = v.reshape(tuple(want))
            st.prov[k] = _replace(st.prov[k], shape=got)


def _numel(shape: Iterable[int]) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def _fill_ties(st: _MapState, ties: Iterable[tuple[str, str]]) -> None:
    """A tied spec key with no value takes its partner's."""
    for param, to in ties:
        for a, b in ((param, to), (to, param)):
            if a not in st.mapped and b in st.mapped and a in st.targets:
                st.mapped[a] = st.mapped[b]
                st.prov[a] = Provenance((b,), "tie")


def _check_shapes(st: _MapState) -> None:
    """Drop every mapped spec key whose value has another shape than the spec's, reporting it
    (it is then neither mapped nor unmatched)."""
    for k in list(st.mapped):
        if k not in st.targets:
            continue
        want = tuple(st.targets[k])
        got = tuple(st.mapped[k].shape)
        if got != want:
            p = st.prov.pop(k)
            origin = _origin(k, p, st.src)
            hint = None if p.op == "copy" and not p.transposed or p.op == "tie" else f"after {_describe(p)}"
            if p.shape is None and _numel(got) == _numel(want) and p.op != "tie":
                hint = (f"{hint}; " if hint else "") + (f"the values have as many elements: if the reference keeps "
                                                         f"them in this shape, list `{k}` under `reference.weights.reshape`")
            st.problem(f"`{k}`: {origin} has {list(got)}, spec has {list(want)}", hint=hint)
            del st.mapped[k]
            st.targets.pop(k)   # reported: not unmatched as well


def _result(st: _MapState, ref_sd: dict[str, Any], target_shapes: dict[str, tuple]) -> MapResult:
    """The result: mapped keys in the spec's order; the reference keys nothing used (in the
    reference's order; the sources of mapped keys the spec lacks count as unused); the spec keys
    given no value."""
    unmatched_ref: list[str] = []
    for k in list(st.mapped):
        if k not in st.targets:
            p = st.prov.pop(k)
            unmatched_ref.extend(p.sources if p.op != "tie" else ())
            del st.mapped[k]
    used_orig = {s for p in st.prov.values() for s in p.sources}
    for k, orig in st.current.items():
        if k not in st.consumed and orig not in used_orig:
            unmatched_ref.append(orig)
    order = {k: i for i, k in enumerate(ref_sd)}
    unmatched_ref = sorted(set(unmatched_ref), key=lambda k: order.get(k, len(order)))
    unmatched_spec = [k for k in st.targets if k not in st.mapped]
    ordered = {k: st.mapped[k] for k in target_shapes if k in st.mapped}
    return MapResult(ordered, unmatched_ref, unmatched_spec, st.problems, st.unused, st.frozen)


def _replace(p: Provenance, **kw: Any) -> Provenance:
    from dataclasses import replace

    return replace(p, **kw)


def _origin(key: str, p: Provenance, src: str) -> str:
    if p.op == "tie":
        return f"the value tied from `{p.sources[0]}`"
    names = ", ".join(f"`{s}`" for s in p.sources)
    if p.op == "copy" and p.sources[0] == key:
        return src
    return f"{src} {names}"


def _describe(p: Provenance) -> str:
    what = {"copy": "renaming", "join": f"joining along dim {p.dim}",
            "split": f"taking part {p.index + 1} of {p.parts} along dim {p.dim}"}.get(p.op, p.op)
    return what + (" and transposing" if p.transposed else "") + (" and reshaping" if p.shape is not None else "")


def unmap_state_dict(spec_sd: dict[str, Any], provenance: dict[str, Provenance]) -> dict[str, Any]:
    """The inverse direction: spec-layout values (weights or gradients) in the reference's keys and layout."""
    import torch

    out: dict[str, Any] = {}
    splits: dict[str, dict[int, Any]] = {}
    for k, v in spec_sd.items():
        p = provenance.get(k)
        if p is None or p.op == "tie":
            continue
        if p.shape is not None:
            v = v.reshape(p.shape)
        if p.transposed:
            v = v.t()
        if p.op == "copy":
            out[p.sources[0]] = v
        elif p.op == "join":
            for s, part in zip(p.sources, torch.split(v, list(p.sizes), dim=p.dim)):
                out[s] = part
        elif p.op == "split":
            splits.setdefault(p.sources[0], {})[p.index] = (v, p)
    for s, parts in splits.items():
        p = next(iter(parts.values()))[1]
        if len(parts) == p.parts:
            out[s] = torch.cat([parts[i][0] for i in range(p.parts)], dim=p.dim)
    return out


# ---------------------------------------------------------------------------- weights files
def read_weights_file(path: str | os.PathLike) -> dict[str, Any]:
    """A safetensors file or a torch file of tensors (never arbitrary pickled objects). Raises DiagnosticError."""
    import torch

    path = os.fspath(path)

    def fail(msg: str, hint: str | None = None) -> DiagnosticError:
        return DiagnosticError([Diagnostic("ARC603", msg, hint=hint)])

    if not os.path.isfile(path):
        raise fail(f"weights file `{path}` does not exist" if not os.path.exists(path) else f"`{path}` is not a file")
    with open(path, "rb") as fh:
        head = fh.read(16)
    is_safetensors = path.endswith(".safetensors") or (len(head) >= 9 and head[8:9] == b"{")
    if is_safetensors:
        try:
            from safetensors.torch import load_file
        except ImportError:
            raise MissingPackage("safetensors", f"reading `{path}`", "pip install safetensors") from None
        try:
            return dict(load_file(path, device="cpu"))
        except Exception as e:  # safetensors' SafetensorError, OSError
            if path.endswith(".safetensors"):
                raise fail(f"cannot read safetensors file `{path}`: {e}") from None
    try:
        obj = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as e:  # UnpicklingError, RuntimeError (not a zip/pickle), EOFError ...
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise fail(f"cannot read `{path}` as a safetensors or torch weights file: {msg}",
                   hint="only tensors are loaded (torch.load(weights_only=True)): save `model.state_dict()`, "
                        "not the module object") from None
    if isinstance(obj, dict):
        for k in ("state_dict", "model"):
            if isinstance(obj.get(k), dict):
                obj = obj[k]
                break
    if not isinstance(obj, dict):
        raise fail(f"`{path}` holds a {type(obj).__name__}, not a state_dict (a mapping of names to tensors)")
    bad = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise fail(f"`{path}`: entries that are not tensors: " + ", ".join(f"`{k}`" for k in bad[:5])
                   + (f" and {len(bad) - 5} more" if len(bad) > 5 else ""),
                   hint="a checkpoint's weights are looked for under `state_dict` or `model`")
    return {str(k): v for k, v in obj.items()}


def mapping_diagnostics(res: MapResult, source: str, spec_keys: Iterable[str]) -> list[Diagnostic]:
    """ARC603 diagnostics for a mapping result: problems, then unmatched keys of both sides (did-you-mean)."""
    diags = list(res.problems)
    spec_keys = list(spec_keys)
    for k in res.unmatched_spec[:MAX_LISTED]:
        diags.append(Diagnostic("ARC603", f"spec key `{k}` has no value in the {source}"))
    if len(res.unmatched_spec) > MAX_LISTED:
        diags.append(Diagnostic("ARC603", f"... and {len(res.unmatched_spec) - MAX_LISTED} more spec keys have no value in the {source}"))
    pool = res.unmatched_spec or spec_keys
    for k in res.unmatched_ref[:MAX_LISTED]:
        close = difflib.get_close_matches(k, pool, n=1, cutoff=0.6)
        diags.append(Diagnostic("ARC603", f"{source} key `{k}` matches nothing in the spec",
                                hint=f"did you mean `{close[0]}`?" if close else None))
    if len(res.unmatched_ref) > MAX_LISTED:
        diags.append(Diagnostic("ARC603", f"... and {len(res.unmatched_ref) - MAX_LISTED} more {source} keys match nothing in the spec"))
    return diags


def _clean(res: MapResult) -> bool:
    return not (res.problems or res.unmatched_ref or res.unmatched_spec)


def _has_rules(m: WeightMapping | None) -> bool:
    return m is not None and bool(m.rename or m.transpose or m.join or m.split or m.ignore or m.reshape or m.unused)


# the prefixes a training wrapper puts before every key: DistributedDataParallel / DataParallel
# (`module.`) and torch.compile's OptimizedModule (`_orig_mod.`), possibly nested
WRAPPER_PREFIXES = ("module.", "_orig_mod.")


def strip_wrapper_prefix(sd: dict[str, Any], target: Mapping[str, Any] | Iterable[str]) -> dict[str, Any]:
    """SD without a wrapper's prefix, when every key has it and no key of TARGET does."""
    names = set(target)
    while sd:
        pre = next((p for p in WRAPPER_PREFIXES if all(k.startswith(p) for k in sd) and not any(t.startswith(p) for t in names)), None)
        if pre is None:
            break
        sd = {k[len(pre):]: v for k, v in sd.items()}
    return sd


def load_weights(gm: Any, graph: Any, path: str | os.PathLike) -> dict[str, Any]:
    """Load a weights file into `gm` (built from `graph`).

    A file in the spec's layout (its keys and shapes are the spec's) loads directly; otherwise the
    spec's `reference.weights` mapping is applied first (a file saved from the reference). A file saved
from a DistributedDataParallel or torch.compile wrapper (every key `module.`- or `_orig_mod.`-prefixed)
loads as its inner module. The choice
    is made for the whole file: GPT-2's keys may be the spec's while its Conv1D weights are stored
    transposed, and one non-square weight then tells the layouts apart. Unmatched or mis-shaped keys
    raise DiagnosticError (ARC603). Returns the loaded state_dict (spec keys)."""
    target = {k: tuple(v.shape) for k, v in gm.state_dict().items()}
    sd = strip_wrapper_prefix(read_weights_file(path), target)
    ref = getattr(graph, "reference", None)
    mapping = ref.weights if ref is not None else None
    ties = [(t.param, t.to) for t in getattr(graph, "ties", [])]
    res = map_state_dict(sd, WeightMapping(), target, ties=ties, source_name="file")
    if not _clean(res) and _has_rules(mapping):
        via_ref = map_state_dict(sd, mapping, target, ties=ties, source_name="file")
        if _clean(via_ref) or not all(k in target for k in sd):
            res = via_ref
    diags = mapping_diagnostics(res, "file", target)
    if diags:
        raise DiagnosticError(diags)
    gm.load_state_dict(res.mapped, strict=True)
    return res.mapped
