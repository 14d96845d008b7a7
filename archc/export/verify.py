"""Artifact verification: every artifact is reloaded in its own runtime and compared with the eager
GraphModule at every verification size; on a mismatch, the first IR node whose output diverges is
named, with its spec line.

Weights: at the spec's own initialisation many networks output almost nothing (1e-8..1e-20), which
no tolerance can judge, so the comparison runs on RANDOMIZED weights (`archc.codegen.randomize`,
seed `SEED`: fan-in-scaled, activations of order one). The shipped artifact keeps the spec's
weights; its runner first checks them bitwise against the module's (`Runner.weights`), then the
randomized weights are swapped into the reloaded artifact (`Runner.swap`), or, where the runtime
cannot take new weights (ONNX Runtime, whose initializers the exporter may have folded), a twin is
exported from the randomized module into the staging folder and verified instead (never shipped).

Judgement, per output, relative to the output's magnitude:
`max |artifact - eager| <= atol + rtol * max |eager|`. An output whose magnitude is below `FLOOR`,
or that is the same for two different inputs, proves nothing: it is refused (ARC624, status
`failed`), never `verified`.

Tolerances (the atol only matters for outputs near FLOOR: it is two orders below it, so a 1% error
in an output of magnitude FLOOR still fails):

| dtype    | atol  | rtol  | why |
| -------- | ----- | ----- | --- |
| float32  | 1e-6  | 1e-4  | different kernels (ONNX Runtime's, fused conv+batch-norm) reorder sums |
| float16  | 1e-4  | 1e-2  | ~10 bits of mantissa; reordering a 512-term sum moves the last bits   |
| bfloat16 | 1e-3  | 6e-2  | ~7 bits of mantissa (eps 7.8e-3); errors of a few ulps are normal      |

Finding the first divergent node: each runtime reports its intermediate values tagged with the IR
node path they belong to (see each format's `intermediates`); walking the IR in order, the first
node whose tagged value (the last one of the node's shape) is outside the tolerance is named. A node
whose value the artifact does not keep (a convolution fused with the following batch norm in ONNX)
cannot be observed, so the divergence shows at the next observable node; the diagnostic says which
artifact values it compared.
"""
from __future__ import annotations

import statistics
from abc import ABC, abstractmethod
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from archc.diagnostics import Diagnostic, Related
from archc.ir.graph import Graph

SEED = 0          # the randomized weights of verification (recorded in the manifest)
FLOOR = 1e-3      # an output with max |eager| below this, on randomized weights, is degenerate

TOLERANCES: dict[str, tuple[float, float]] = {
    "float32": (1e-6, 1e-4),
    "float16": (1e-4, 1e-2),
    "bfloat16": (1e-3, 6e-2),
    "float64": (1e-12, 1e-7),
}


class UnsupportedDtype(Exception):
    """The runtime cannot execute this dtype (e.g. ONNX Runtime's CPU kernels and bfloat16)."""


@dataclass
class SizeResult:
    sizes: dict[str, int]
    max_abs_diff: float | None
    ok: bool
    magnitude: float | None = None       # max |eager| over the outputs (the scale the diff is judged against)
    rel_diff: float | None = None        # worst max_abs_diff / max |eager| over the outputs

    def to_json(self) -> dict:
        return {"sizes": self.sizes, "max_abs_diff": self.max_abs_diff, "magnitude": self.magnitude,
                "rel_diff": self.rel_diff, "ok": self.ok}


@dataclass
class Verification:
    status: str                                   # "verified", "unverified", "failed"
    results: list[SizeResult] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    latency_ms: float | None = None
    reason: str | None = None                     # why unverified or failed
    weights: dict[str, Any] = field(default_factory=dict)   # which weights were compared, and how

    @property
    def max_abs_diff(self) -> float | None:
        ds = [r.max_abs_diff for r in self.results if r.max_abs_diff is not None]
        return max(ds) if ds else None

    @property
    def rel_diff(self) -> float | None:
        ds = [r.rel_diff for r in self.results if r.rel_diff is not None]
        return max(ds) if ds else None

    def to_json(self) -> dict:
        return {"status": self.status, "reason": self.reason, "max_abs_diff": self.max_abs_diff,
                "rel_diff": self.rel_diff, "verification": self.weights,
                "sizes": [r.to_json() for r in self.results], "latency_ms": self.latency_ms}


class Runner(ABC):
    """A loaded artifact. `run` returns the flat list of outputs; `intermediates` maps IR node
    paths to the candidate values the artifact computed for them, in execution order; `weights`
    are the artifact's own tensors by state_dict key (None: not readable), `swap` loads other
    weights into it (False: the runtime cannot; verification then uses a twin)."""

    fmt = "?"

    @abstractmethod
    def run(self, inputs: Mapping[str, Any]) -> list[Any]:
        """Run the loaded artifact on named inputs: its outputs, flattened."""

    def intermediates(self, inputs: Mapping[str, Any], ref: Mapping[str, Any]) -> dict[str, list[Any]]:
        return {}

    def describe(self, path: str) -> str | None:
        """Where the artifact keeps the value compared for `path` (for the diagnostic)."""
        return None

    def weights(self) -> dict[str, Any] | None:
        return None

    def swap(self, state: Mapping[str, Any]) -> bool:
        return False


class ModuleRunner(Runner):
    """A Runner whose reloaded artifact is an nn.Module-like `self.module` (pt2's `.module()`, a
    ScriptModule): its weights are its state_dict, and randomized weights are swapped into it."""

    module: Any

    def weights(self) -> dict[str, Any] | None:
        return dict(self.module.state_dict())

    def swap(self, state: Mapping[str, Any]) -> bool:
        return swap_module(self.module, state)


def swap_module(module: Any, state: Mapping[str, Any]) -> bool:
    """Load `state` into an nn.Module-like artifact: every key it has must be in `state` (a key
    missing there means the artifact holds a tensor verification would not randomize)."""
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    if missing:
        raise ValueError(f"cannot swap the randomized weights in: the artifact's {', '.join(missing[:3])} "
                         f"is not a tensor of the module")
    module.load_state_dict({k: state[k] for k in own}, strict=True)
    return True


def weights_differ(got: Mapping[str, Any] | None, want: Mapping[str, Any]) -> list[str]:
    """The keys of `want` whose tensor the artifact holds differently (bitwise; a key the artifact
    does not hold under that name is not judged: ties and folded constants)."""
    import torch

    if got is None:
        return []
    out = []
    for k, v in want.items():
        g = got.get(k)
        if g is None:
            continue
        g = to_torch(g)
        if tuple(g.shape) != tuple(v.shape) or not torch.equal(g.to(v.dtype), v):
            out.append(k)
    return out


def flatten(out: Any) -> list[Any]:
    if isinstance(out, (tuple, list)):
        res: list[Any] = []
        for o in out:
            res.extend(flatten(o))
        return res
    if isinstance(out, dict):
        return flatten(list(out.values()))
    return [out]


def to_torch(x: Any) -> Any:
    import numpy as np
    import torch

    if isinstance(x, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(x))
    return x


def diff(ref: Any, got: Any, atol: float, rtol: float) -> tuple[bool, float | None]:
    """(within tolerance, max |got - ref|); judged `max|got - ref| <= atol + rtol * max|ref|`; a
    shape or kind mismatch is (False, None)."""
    ok, md, _ = compare(ref, got, atol, rtol)
    return ok, md


def compare(ref: Any, got: Any, atol: float, rtol: float) -> tuple[bool, float | None, float | None]:
    """(within tolerance, max |got - ref|, max |ref|) for one output; the magnitude is None for
    non-float values (compared exactly)."""
    import torch

    got = to_torch(got)
    if not isinstance(ref, torch.Tensor) or not isinstance(got, torch.Tensor):
        return (ref == got, None if ref != got else 0.0, None)
    if tuple(ref.shape) != tuple(got.shape):
        return False, None, None
    if not ref.dtype.is_floating_point:
        same = bool(torch.equal(ref, got.to(ref.dtype)))
        return same, 0.0 if same else float((ref.double() - got.double()).abs().max()), None
    a, b = ref.detach().double(), got.detach().double()
    if a.numel() == 0:
        return True, 0.0, 0.0
    err = (a - b).abs()
    nan_ok = torch.isnan(a) == torch.isnan(b)
    err = torch.where(torch.isnan(a) & torch.isnan(b), torch.zeros_like(err), err)
    finite = torch.isfinite(err)
    md = float(err[finite].max()) if bool(finite.any()) else float("inf")
    fa = a[torch.isfinite(a)]
    mag = float(fa.abs().max()) if fa.numel() else 0.0
    ok = bool(nan_ok.all()) and bool(finite.all()) and md <= atol + rtol * mag
    return ok, md, mag


def make_inputs(graph: Graph, env: Mapping[str, int], dtype: str, seed: int = 0) -> dict[str, Any]:
    from archc.codegen.verify import example_inputs, torch_dtype

    ins = example_inputs(graph, dict(env), seed=seed)
    if dtype != "float32":
        dt = torch_dtype(dtype)
        ins = {k: (v.to(dt) if v.dtype.is_floating_point else v) for k, v in ins.items()}
    return ins


def eager_intermediates(gm: Any, inputs: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run the GraphModule node by node: (IR path -> output, fx node name -> output)."""
    import torch
    import torch.fx as fx

    from archc.codegen.nodemap import node_map

    f2p = node_map(gm).to_path
    by_path: dict[str, Any] = {}
    by_name: dict[str, Any] = {}

    class Rec(fx.Interpreter):
        def run_node(self, n):
            r = super().run_node(n)
            # a copy: later nodes may compute in place (archc.codegen.fx writes relu/add in place)
            kept = tuple(t.clone() if isinstance(t, torch.Tensor) else t for t in r) if isinstance(r, tuple) else (
                r.clone() if isinstance(r, torch.Tensor) else r)
            by_name[n.name] = kept
            if n.name in f2p:
                by_path[f2p[n.name]] = kept
            return r

    with torch.no_grad():
        Rec(gm).run(*inputs.values())
    return by_path, by_name


def first_divergence(graph: Graph, ref: Mapping[str, Any], got: Mapping[str, list[Any]], atol: float,
                     rtol: float) -> tuple[str, float | None, int] | None:
    """The first IR node (graph order) whose artifact value is outside the tolerance: (path, max
    diff, number of nodes compared before it)."""
    import torch

    compared = 0
    for n in graph.nodes:
        if n.path not in ref or not got.get(n.path):
            continue
        r = ref[n.path]
        r = r[0] if isinstance(r, (tuple, list)) else r
        if not isinstance(r, torch.Tensor):
            continue
        cands = [to_torch(c) for c in got[n.path]]
        cands = [c for c in cands if isinstance(c, torch.Tensor) and tuple(c.shape) == tuple(r.shape)]
        if not cands:
            continue
        ok, md = diff(r, cands[-1], atol, rtol)
        if not ok:
            return n.path, md, compared
        compared += 1
    return None


LATENCY_THREADS = 1


def latency(fn: Callable[[], Any], runs: int = 5) -> float:
    """Median wall time of `runs` calls (after one warm-up), in milliseconds, on one thread (torch's
    and ONNX Runtime's sessions are single-threaded): comparable across formats and stable on a
    shared machine."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(LATENCY_THREADS)
    try:
        with torch.no_grad():
            fn()
            ts = []
            for _ in range(runs):
                t = time.perf_counter()
                fn()
                ts.append((time.perf_counter() - t) * 1e3)
    finally:
        torch.set_num_threads(threads)
    return statistics.median(ts)


def verify_artifact(fmt: str, runner: Runner, gm: Any, graph: Graph, envs: list[dict[str, int]], dtype: str,
                    latency_runs: int = 5, weights: Mapping[str, Any] | None = None) -> Verification:
    """Compare `runner` with the eager module `gm` (the weights both hold: `weights` describes them,
    for the manifest) at every env, judged relative to each output's magnitude; refuse degenerate
    outputs; localise a mismatch."""
    import torch

    atol, rtol = TOLERANCES[dtype]
    v = Verification("verified", weights={**(weights or {}), "atol": atol, "rtol": rtol, "floor": FLOOR})
    refs: list[list[Any]] = []
    for env in envs:
        inputs = make_inputs(graph, env, dtype)
        with torch.no_grad():
            ref = flatten(gm(*inputs.values()))
        refs.append(ref)
        try:
            got = flatten(runner.run(inputs))
        except UnsupportedDtype as e:
            v.status, v.reason = "unverified", str(e)
            v.diagnostics.append(Diagnostic(
                "ARC514", f"{fmt}: {e}; the artifact is written but marked `unverified` in the manifest",
                None, severity="warning", hint="verify it on a runtime that has these kernels, or build with --dtype float32"))
            return v
        except Exception as e:  # noqa: BLE001 - the runtime's own error, reported as a diagnostic
            v.status, v.reason = "failed", f"{type(e).__name__}: {_first_line(e)}"
            v.diagnostics.append(Diagnostic(
                "ARC622", f"{fmt}: the reloaded artifact fails to run at {_env_str(env)}: {v.reason}", None,
                hint="the exporter produced an artifact its own runtime cannot execute at this size"))
            return v
        if len(got) != len(ref):
            v.status, v.reason = "failed", f"{len(got)} outputs, expected {len(ref)}"
            v.diagnostics.append(Diagnostic("ARC621", f"{fmt}: the artifact returns {len(got)} outputs, the module {len(ref)}"))
            return v
        worst: float | None = 0.0
        mag: float | None = None
        rel: float | None = 0.0
        ok_all = True
        for r, g in zip(ref, got):
            ok, md, m = compare(r, g, atol, rtol)
            ok_all &= ok
            worst = None if (md is None or worst is None) else max(worst, md)
            if m is not None:
                mag = m if mag is None else max(mag, m)
                rel = None if (md is None or rel is None) else max(rel, md / m if m > 0 else (0.0 if md == 0 else float("inf")))
        v.results.append(SizeResult(dict(env), worst, ok_all, mag, rel if mag is not None else None))
        if not ok_all:
            v.status, v.reason = "failed", (f"outputs differ at {_env_str(env)} (max abs diff {_fmt(worst)}, "
                                            f"max |eager| {_fmt(mag)}, relative {_fmt(rel)})")
            v.diagnostics.append(localise(fmt, runner, gm, graph, inputs, env, worst, atol, rtol))
            return v
    bad = degenerate(gm, graph, envs, refs, dtype, atol, rtol)
    if bad:
        v.status, v.reason = "failed", f"degenerate output: {bad}"
        v.diagnostics.append(Diagnostic(
            "ARC624", f"{fmt}: verification refused: {bad}, so agreeing with it proves nothing; "
            f"the artifact is not marked verified", None,
            hint="an output that is (nearly) zero or constant on randomized weights is not a function of the input: "
                 "check the spec's last layers (a zero-initialised or detached head, a constant)"))
        return v
    try:
        inputs = make_inputs(graph, envs[0], dtype)
        v.latency_ms = latency(lambda: runner.run(inputs), latency_runs)
    except Exception:  # noqa: BLE001 - latency is informative only
        v.latency_ms = None
    return v


def degenerate(gm: Any, graph: Graph, envs: list[dict[str, int]], refs: list[list[Any]], dtype: str, atol: float,
               rtol: float) -> str | None:
    """Why the module's outputs cannot judge an artifact, or None: a float output whose magnitude
    is below FLOOR, or that is the same for a second input (another seed at the first size; the
    second size when its shape is the same)."""
    import torch

    names = list(graph.outputs)
    with torch.no_grad():
        other = flatten(gm(*make_inputs(graph, envs[0], dtype, seed=1).values()))
    for i, r in enumerate(refs[0]):
        if not isinstance(r, torch.Tensor) or not r.dtype.is_floating_point or r.numel() == 0:
            continue
        name = f"output `{names[i]}`" if i < len(names) and len(names) == len(refs[0]) else f"output {i}"
        mags = [float(ref[i].detach().double().abs().max()) for ref in refs
                if i < len(ref) and isinstance(ref[i], torch.Tensor) and ref[i].numel()]
        if max(mags) < FLOOR:
            return f"{name} has max |eager| {max(mags):.3g} < {FLOOR:g} at {_env_str(envs[0])}"
        seconds = [("another input", other[i] if i < len(other) else None)]
        seconds += [(f"{_env_str(e)}", ref[i]) for e, ref in zip(envs[1:], refs[1:]) if i < len(ref)]
        for what, o in seconds:
            if isinstance(o, torch.Tensor) and tuple(o.shape) == tuple(r.shape):
                ok, _, _ = compare(r, o, atol, rtol)
                if ok:
                    return f"{name} is the same for {what} as at {_env_str(envs[0])}"
    return None


def bitwise_equal(runner: Runner, gm: Any, graph: Graph, envs: list[dict[str, int]]) -> bool:
    """Whether the artifact's float32 outputs are exactly the module's at every env (formats that
    run the very same kernels, such as the generated source, must be)."""
    import torch

    for env in envs:
        ins = make_inputs(graph, env, "float32")
        with torch.no_grad():
            a, b = flatten(gm(*ins.values())), runner.run(ins)
        if not all(torch.equal(x, y) for x, y in zip(a, b)):
            return False
    return True


def localise(fmt: str, runner: Runner, gm: Any, graph: Graph, inputs: Mapping[str, Any], env: Mapping[str, int],
             worst: float | None, atol: float, rtol: float) -> Diagnostic:
    ref_paths, _ = eager_intermediates(gm, inputs)
    try:
        got = runner.intermediates(inputs, ref_paths)
    except Exception as e:  # noqa: BLE001
        got = {}
        note = f"intermediate values unavailable: {type(e).__name__}: {_first_line(e)}"
    else:
        note = None
    hit = first_divergence(graph, ref_paths, got, atol, rtol) if got else None
    if hit is None:
        return Diagnostic("ARC621", f"{fmt}: the artifact's outputs differ from the compiled module's at {_env_str(env)} "
                          f"(max abs diff {_fmt(worst)}, tolerance atol={atol:g} rtol={rtol:g}); "
                          f"no single node could be singled out" + (f" ({note})" if note else ""), None,
                          hint="the divergence lies in a value the artifact does not keep; rebuild and compare")
    path, md, compared = hit
    node = graph.node(path)
    where = runner.describe(path)
    related = (Related(f"{fmt} keeps this node's output as {where}", None),) if where else ()
    return Diagnostic(
        "ARC621",
        f"{fmt}: the artifact diverges from the compiled module at node `{path}` ({node.op}): max abs diff "
        f"{_fmt(md)} at {_env_str(env)} (tolerance atol={atol:g} rtol={rtol:g}); {compared} earlier nodes agree",
        node.span, hint="the artifact's weights or operators for this node differ from the spec's module",
        related=related)


def _env_str(env: Mapping[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in env.items()) or "the static size"


def _fmt(x: float | None) -> str:
    return "n/a (shapes differ)" if x is None else f"{x:.3g}"


def _first_line(e: BaseException) -> str:
    s = str(e).strip().splitlines()
    return s[0][:300] if s else ""
