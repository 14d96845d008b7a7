"""`archc compare`: a compiled spec against its reference implementation.

Both models are built on cpu in fp32 and eval mode; the reference's random weights are mapped into
the spec's module (`reference.weights`), then the comparison reports parameter counts, unmatched
keys, the max abs difference of every output on a fixed random input, and the difference
of parameter gradients of one loss `sum_k (out_k * R_k).sum()` (fixed random R_k; the reference's
gradients mapped into the spec's layout like its weights).

Outputs pass when their max abs difference is within `tol`. Gradients of a summed loss grow with the
size of the outputs (GPT-2's position-embedding gradient is ~1e3), so each key's max abs difference
is divided by max(1, max |reference gradient|) of that key; gradients pass when that scaled
difference (`max_grad_rel_diff`) is within `tol`. `max_grad_diff` reports the plain max abs difference.
"""
from __future__ import annotations

import math
from typing import Any

from archc.errors import UsageError
from archc.parity.reference import BadReference, build_reference, parse_ref
from archc.parity.weights import Provenance, map_state_dict, mapping_diagnostics

DEFAULT_TOL = 1e-4


# neither --against nor the spec's `reference.against` names a reference: a usage error
NoReference = UsageError


def _count(module: Any) -> int:
    return sum(p.numel() for p in module.parameters())   # shared parameters once


def _as_list(out: Any) -> list[Any]:
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _max_abs(a: Any, b: Any) -> float:
    import torch

    if a.numel() == 0:
        return 0.0
    a, b = a.detach(), b.detach()
    if not (a.is_floating_point() and b.is_floating_point()):
        a, b = a.to(torch.float64), b.to(torch.float64)
    d = (a - b.to(a.dtype)).abs().max().item()
    return float("inf") if math.isnan(d) else d


def compare_graph(graph: Any, against: str | None = None, *, seed: int = 0, tol: float = DEFAULT_TOL,
                  span_of: Any = None) -> dict[str, Any]:
    """Compare an elaborated graph with REF (default: the spec's `reference.against`). The JSON document."""
    import torch

    from archc.codegen.verify import example_inputs
    from archc.pipeline import Options, from_graph, run

    spec_ref = graph.reference
    against = against or (spec_ref.against if spec_ref is not None else None)
    if not against:
        raise NoReference("no reference to compare against: give --against REF (e.g. torchvision:resnet18) "
                          "or set `reference: {against: ...}` in the spec")
    parse_ref(against)

    # verify on the meta device (cheap), then build the real module
    run(from_graph(graph, Options(device="meta")), until="verify")
    gm = run(from_graph(graph, Options(device="cpu", verify=False, dtype=torch.float32)), until="lower").module
    ref, call = build_reference(against, graph, seed=seed)

    target = {k: tuple(v.shape) for k, v in gm.state_dict().items()}
    mapping = spec_ref.weights if spec_ref is not None else None
    ties = [(t.param, t.to) for t in graph.ties]
    prov: dict[str, Provenance] = {}
    res = map_state_dict(ref.state_dict(), mapping, target, ties=ties, provenance=prov, span_of=span_of)
    problems = mapping_diagnostics(res, "reference", target)

    doc: dict[str, Any] = {
        "spec": graph.spec_file,
        "name": graph.name,
        "variant": graph.variant,
        "reference": against,
        "params": _count(gm),
        "reference_params": _count(ref),
        "unmatched_spec": res.unmatched_spec,
        "unmatched_reference": res.unmatched_ref,
        "problems": [d.to_json() for d in problems],
        "outputs": {},
        "max_abs_diff": None,
        "max_grad_diff": None,
        "max_grad_rel_diff": None,
        "worst_grad_key": None,
        "tol": tol,
        "seed": seed,
    }
    loadable = not res.unmatched_spec and not res.problems
    reasons: list[str] = []
    if doc["params"] != doc["reference_params"]:
        reasons.append(f"parameter counts differ: spec {doc['params']:,}, reference {doc['reference_params']:,}")
    if res.unmatched_spec or res.unmatched_ref or res.problems:
        reasons.append(f"weights do not map: {len(res.unmatched_spec)} spec keys without a value, "
                       f"{len(res.unmatched_ref)} reference keys unused, {len(res.problems)} mis-shaped or broken")
    if not loadable:
        reasons.append("outputs not compared: the reference's weights cannot be loaded into the spec's module")
        return _finish(doc, reasons)

    gm.load_state_dict(res.mapped, strict=True)
    gm.eval()
    ref.eval()
    inputs = example_inputs(graph, seed=seed)
    inputs = {k: (v.float() if v.is_floating_point() else v) for k, v in inputs.items()}
    names = list(graph.outputs)

    # one forward pass of each model (with autograd: the outputs are the same in eval mode)
    gm.zero_grad(set_to_none=True)
    ref.zero_grad(set_to_none=True)
    spec_outs = dict(zip(names, _as_list(gm(*inputs.values()))))
    ref_outs = call(inputs)
    worst = 0.0
    for name in names:
        a, b = spec_outs[name], ref_outs[name]
        entry: dict[str, Any] = {"shape": list(a.shape), "reference_shape": list(getattr(b, "shape", []))}
        if not isinstance(b, torch.Tensor) or tuple(a.shape) != tuple(b.shape):
            entry["max_abs_diff"] = None
            reasons.append(f"output `{name}`: spec shape {list(a.shape)}, reference "
                           f"{list(b.shape) if isinstance(b, torch.Tensor) else type(b).__name__}")
            worst = float("inf")
        else:
            d = _max_abs(a, b)
            entry["max_abs_diff"] = d
            entry["reference_max_abs"] = float(b.detach().abs().max().item()) if b.numel() else 0.0
            worst = max(worst, d)
            if not d <= tol:
                reasons.append(f"output `{name}` differs by {d:.3g} (tolerance {tol:g})")
        doc["outputs"][name] = entry
    doc["max_abs_diff"] = worst if math.isfinite(worst) else None

    # gradients of one fixed random projection of the outputs, both models in eval mode
    if math.isfinite(worst):
        gen = torch.Generator().manual_seed(seed + 1)
        weights = {n: torch.randn(spec_outs[n].shape, generator=gen, dtype=torch.float32)
                   for n in names if spec_outs[n].is_floating_point() and spec_outs[n].requires_grad
                   and ref_outs[n].requires_grad}
        if weights:
            spec_loss = sum((spec_outs[n].float() * r).sum() for n, r in weights.items())
            ref_loss = sum((ref_outs[n].float() * r).sum() for n, r in weights.items())
            spec_loss.backward()
            ref_loss.backward()
            doc.update(_grad_diffs(gm, ref, mapping, ties, span_of))
            g = doc["max_grad_rel_diff"]
            if g is None or not g <= tol:
                reasons.append(f"gradients differ by {g:.3g} (relative to the gradient's magnitude, at least 1) "
                               f"at `{doc['worst_grad_key']}` (tolerance {tol:g})"
                               if g is not None else "gradients could not be compared: "
                               + ", ".join(f"`{k}`" for k in doc.get("grad_unmatched_spec", [])[:5]))
    return _finish(doc, reasons)


def _finish(doc: dict[str, Any], reasons: list[str]) -> dict[str, Any]:
    from archc.diagnostics import Diagnostic

    doc["passed"] = not reasons
    doc["reasons"] = reasons
    doc["problems"] += [Diagnostic("ARC604", r).to_json() for r in reasons]
    return doc


def _grad_diffs(gm: Any, ref: Any, mapping: Any, ties: list, span_of: Any) -> dict[str, Any]:
    import torch

    spec_params = dict(gm.named_parameters(remove_duplicate=False))
    ref_grads = {k: (p.grad if p.grad is not None else torch.zeros_like(p))
                 for k, p in ref.named_parameters(remove_duplicate=False)}
    target = {k: tuple(p.shape) for k, p in spec_params.items()}
    res = map_state_dict(ref_grads, mapping, target, ties=ties, span_of=span_of)
    worst_abs, worst_rel, worst_key, missing = 0.0, 0.0, None, []
    for k, p in spec_params.items():
        g_ref = res.mapped.get(k)
        if g_ref is None:
            missing.append(k)
            continue
        g = p.grad if p.grad is not None else torch.zeros_like(p)
        d = _max_abs(g, g_ref)
        scale = max(1.0, float(g_ref.abs().max().item()) if g_ref.numel() else 0.0)
        worst_abs = max(worst_abs, d)
        if worst_key is None or d / scale > worst_rel:
            worst_rel, worst_key = d / scale, k
    ok = worst_key is not None and not missing
    out: dict[str, Any] = {"max_grad_diff": worst_abs if ok else None,
                           "max_grad_rel_diff": worst_rel if ok else None,
                           "worst_grad_key": worst_key}
    if missing:
        out["grad_unmatched_spec"] = missing
    return out


def compare(spec: Any, against: str | None = None, overrides: dict[str, Any] | None = None,
            variant: str | None = None, *, seed: int = 0, tol: float = DEFAULT_TOL) -> dict[str, Any]:
    """The Python entry point: a spec path (or LoadedSpec) against REF. Returns the JSON document."""
    from archc.pipeline import Options, run

    unit = run(spec, Options(dict(overrides or {}), variant), until="check")
    return compare_graph(unit.graph, against, seed=seed, tol=tol, span_of=unit.spec.main.value_span)


__all__ = ["BadReference", "NoReference", "compare", "compare_graph", "DEFAULT_TOL"]
