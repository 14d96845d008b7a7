"""State_dict mapping between a reference implementation (or a weights file) and a spec's module.

`map_state_dict` applies a spec's `reference.weights` section, in this order:

1. `rename`: regular expressions over the reference's keys, in order (`re.sub`, `\\1` for groups);
2. `ignore`: globs (fnmatch: `*` matches anything, dots included) over the renamed keys;
3. `join`: several reference keys concatenated into one spec key; `*` matches one path segment and
   must match the same segment in every source and in the target (`h.*.attn.q.weight` ...);
4. `split`: one reference key cut in equal parts into several spec keys (the inverse of `join`);
5. `transpose`: globs over the spec's keys whose values the reference stores transposed (`.t()` of a
   2-D tensor; 0-D and 1-D values are left alone).

Every spec key remembers where its value came from (`Provenance`), so a spec-layout state_dict can be
turned back into the reference's layout (`unmap_state_dict`). Tied spec keys are filled from each
other when the source provides only one of them.

`load_weights` reads a safetensors or torch file (tensors only: `weights_only=True`) into a module.
"""
from __future__ import annotations

from archc.errors import MissingDependency

import difflib
import os
import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, Callable, Iterable, NamedTuple, Optional

from archc.diagnostics import Diagnostic, DiagnosticError, Span
from archc.spec.models import WeightMapping

SpanOf = Callable[[tuple], Optional[Span]]
MAX_LISTED = 12   # diagnostics listed per kind of problem before a summary line


class MissingPackage(MissingDependency):
    """An optional package (torchvision, timm, transformers, diffusers, safetensors) is not installed."""

    def __init__(self, package: str, what: str, install: str | None = None):
        self.package = package
        self.install = install or "pip install 'archc[reference]'"
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


class MapResult(NamedTuple):
    mapped: dict[str, Any]
    unmatched_ref: list[str]
    unmatched_spec: list[str]
    problems: list[Diagnostic]


def _shape(t: Any) -> list[int]:
    return list(getattr(t, "shape", ()))


def _seg_regex(pattern: str) -> tuple[re.Pattern, int]:
    """A join/split key pattern: `*` matches one path segment (no dots). Returns (regex, number of stars)."""
    parts = pattern.split("*")
    return re.compile("([^.]+)".join(re.escape(p) for p in parts) + r"\Z"), len(parts) - 1


def _fill(pattern: str, groups: tuple[str, ...]) -> str:
    it = iter(groups)
    return re.sub(r"\*", lambda _m: next(it), pattern)


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
    import torch

    mapping = mapping or WeightMapping()
    span_of = span_of or (lambda _path: None)
    problems: list[Diagnostic] = []
    prov: dict[str, Provenance] = {} if provenance is None else provenance
    src = source_name
    targets = dict(target_shapes)

    def bad_spec(msg: str, path: tuple, hint: str | None = None) -> None:
        problems.append(Diagnostic("ARC119", msg, span_of(("reference", "weights") + path), hint=hint))

    # 1. renames: keep the original name of every renamed key
    current: dict[str, str] = {}   # renamed key -> original key
    compiled = []
    for i, r in enumerate(mapping.rename):
        try:
            compiled.append((re.compile(r.pattern), r.to, i))
        except re.error as e:
            bad_spec(f"rename pattern {r.pattern!r} is not a regular expression: {e}", ("rename", i, "pattern"))
    for key in ref_sd:
        new = key
        for rx, to, i in compiled:
            try:
                new = rx.sub(to, new)
            except (re.error, IndexError) as e:
                bad_spec(f"rename {rx.pattern!r} -> {to!r} fails on `{new}`: {e}", ("rename", i, "to"))
                compiled = []
                break
        if new in current:
            problems.append(Diagnostic(
                "ARC603", f"{src} keys `{current[new]}` and `{key}` are both renamed to `{new}`",
                span_of(("reference", "weights", "rename")), hint="make the rename patterns more specific"))
            continue
        current[new] = key
    values = {new: ref_sd[orig] for new, orig in current.items()}

    # 2. ignore
    for pat in mapping.ignore:
        for k in [k for k in current if fnmatchcase(k, pat)]:
            del current[k]

    mapped: dict[str, Any] = {}
    consumed: set[str] = set()   # renamed keys used

    # 3. joins
    for i, j in enumerate(mapping.join):
        if not j.sources:
            bad_spec("a join needs at least one source key", ("join", i, "from"))
            continue
        regs = [_seg_regex(s) for s in j.sources]
        stars = regs[0][1]
        if any(n != stars for _, n in regs) or _seg_regex(j.into)[1] != stars:
            bad_spec(f"join into `{j.into}`: every key must have the same number of `*` ({stars} in `{j.sources[0]}`)",
                     ("join", i))
            continue
        for k in list(current):
            m = regs[0][0].match(k)
            if m is None or k in consumed:
                continue
            groups = m.groups()
            names = [_fill(s, groups) for s in j.sources]
            into = _fill(j.into, groups)
            missing = [n for n in names if n not in current or n in consumed]
            if missing:
                problems.append(Diagnostic(
                    "ARC603", f"join into `{into}`: {src} has `{k}` but not " + ", ".join(f"`{n}`" for n in missing),
                    span_of(("reference", "weights", "join", i))))
                continue
            parts = [values[n] for n in names]
            try:
                val = torch.cat(parts, dim=j.dim)
            except (RuntimeError, IndexError) as e:
                problems.append(Diagnostic(
                    "ARC603", f"join into `{into}`: cannot concatenate " + ", ".join(
                        f"`{current[n]}` {_shape(p)}" for n, p in zip(names, parts)) + f" along dim {j.dim}: {e}",
                    span_of(("reference", "weights", "join", i))))
                consumed.update(names)
                continue
            consumed.update(names)
            mapped[into] = val
            prov[into] = Provenance(tuple(current[n] for n in names), "join", dim=j.dim,
                                    sizes=tuple(int(p.shape[j.dim]) for p in parts))

    # 4. splits
    for i, s in enumerate(mapping.split):
        rx, stars = _seg_regex(s.source)
        if not s.into or any(_seg_regex(t)[1] != stars for t in s.into):
            bad_spec(f"split of `{s.source}`: needs target keys, each with {stars} `*` like the source", ("split", i))
            continue
        n = len(s.into)
        for k in list(current):
            m = rx.match(k)
            if m is None or k in consumed:
                continue
            consumed.add(k)
            v = values[k]
            intos = [_fill(t, m.groups()) for t in s.into]
            if v.dim() <= s.dim or v.shape[s.dim] % n:
                problems.append(Diagnostic(
                    "ARC603", f"split of {src} `{current[k]}` {_shape(v)} into {n} equal parts along dim {s.dim} "
                    f"({', '.join(f'`{t}`' for t in intos)}) is not possible",
                    span_of(("reference", "weights", "split", i))))
                continue
            for idx, (t, part) in enumerate(zip(intos, torch.chunk(v, n, dim=s.dim))):
                mapped[t] = part
                prov[t] = Provenance((current[k],), "split", dim=s.dim, index=idx, parts=n)

    # direct copies
    for k, orig in current.items():
        if k in consumed or k in mapped:
            continue
        if k in targets:
            mapped[k] = values[k]
            prov[k] = Provenance((orig,), "copy")
            consumed.add(k)

    # 5. transposes (over the spec's keys)
    for pat in mapping.transpose:
        for k in list(mapped):
            if not fnmatchcase(k, pat) or prov[k].transposed:
                continue
            v = mapped[k]
            if v.dim() == 2:
                mapped[k] = v.t()
                prov[k] = _replace(prov[k], transposed=True)
            elif v.dim() > 2:
                problems.append(Diagnostic(
                    "ARC603", f"`{k}` matches transpose pattern {pat!r} but its value from {src} "
                    f"`{', '.join(prov[k].sources)}` has {v.dim()} dims {_shape(v)}; only 2-D values are transposed",
                    span_of(("reference", "weights", "transpose"))))

    # ties: a tied spec key with no value takes its partner's
    for param, to in ties:
        for a, b in ((param, to), (to, param)):
            if a not in mapped and b in mapped and a in targets:
                mapped[a] = mapped[b]
                prov[a] = Provenance((b,), "tie")

    # shapes
    for k in list(mapped):
        if k not in targets:
            continue
        want = tuple(targets[k])
        got = tuple(mapped[k].shape)
        if got != want:
            p = prov.pop(k)
            origin = _origin(k, p, src)
            problems.append(Diagnostic(
                "ARC603", f"`{k}`: {origin} has {list(got)}, spec has {list(want)}",
                hint=None if p.op == "copy" and not p.transposed or p.op == "tie" else f"after {_describe(p)}"))
            del mapped[k]
            targets.pop(k)   # reported: not unmatched as well

    # mapped keys the spec does not have: their sources are unmatched
    unmatched_ref: list[str] = []
    for k in list(mapped):
        if k not in targets:
            p = prov.pop(k)
            unmatched_ref.extend(p.sources if p.op != "tie" else ())
            del mapped[k]
    used_orig = {s for p in prov.values() for s in p.sources}
    for k, orig in current.items():
        if k not in consumed and orig not in used_orig:
            unmatched_ref.append(orig)
    order = {k: i for i, k in enumerate(ref_sd)}
    unmatched_ref = sorted(set(unmatched_ref), key=lambda k: order.get(k, len(order)))
    unmatched_spec = [k for k in targets if k not in mapped]
    ordered = {k: mapped[k] for k in target_shapes if k in mapped}
    return MapResult(ordered, unmatched_ref, unmatched_spec, problems)


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
    return what + (" and transposing" if p.transposed else "")


def unmap_state_dict(spec_sd: dict[str, Any], provenance: dict[str, Provenance]) -> dict[str, Any]:
    """The inverse direction: spec-layout values (weights or gradients) in the reference's keys and layout."""
    import torch

    out: dict[str, Any] = {}
    splits: dict[str, dict[int, Any]] = {}
    for k, v in spec_sd.items():
        p = provenance.get(k)
        if p is None or p.op == "tie":
            continue
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
    return m is not None and bool(m.rename or m.transpose or m.join or m.split or m.ignore)


def load_weights(gm: Any, graph: Any, path: str | os.PathLike) -> dict[str, Any]:
    """Load a weights file into `gm` (built from `graph`).

    A file in the spec's layout (its keys and shapes are the spec's) loads directly; otherwise the
    spec's `reference.weights` mapping is applied first (a file saved from the reference). The choice
    is made for the whole file: GPT-2's keys may be the spec's while its Conv1D weights are stored
    transposed, and one non-square weight then tells the layouts apart. Unmatched or mis-shaped keys
    raise DiagnosticError (ARC603). Returns the loaded state_dict (spec keys)."""
    sd = read_weights_file(path)
    target = {k: tuple(v.shape) for k, v in gm.state_dict().items()}
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
