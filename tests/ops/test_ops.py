"""Registry-parametrized tests: every registered op (built-in or plugin) is checked against torch.

For each op: its `example` parses and validates, inference on `example_inputs` matches what the
lowered module/call produces when run, declared params/buffers match the module's, and inference on
symbolic inputs agrees with the concrete result at the example sizes.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from torch import nn

from archc.ir.dims import UnboundSymbol, dim_str, equal, evaluate, free_symbols, sym
from archc.ir.types import DTYPES, ShapeError, TensorType
from archc.ops import OPS, Call, InferContext, load_ops

load_ops()
OP_NAMES = sorted(OPS)

TORCH_DTYPES = {
    "float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16, "float64": torch.float64,
    "int64": torch.int64, "int32": torch.int32, "bool": torch.bool,
}


from tests.ops._support import Ctx  # noqa: E402


def parse_attrs(op):
    spec = yaml.safe_load(op.example)
    assert isinstance(spec, dict) and spec.pop("op") == op.name
    return op.attrs.model_validate(spec)


def example_types(op) -> list[TensorType]:
    dtypes = op.example_dtypes or ("float32",) * len(op.example_inputs)
    return [TensorType(tuple(s), dt) for s, dt in zip(op.example_inputs, dtypes)]


def make_input(t: TensorType, value_range: tuple[int, int] | None = None) -> torch.Tensor:
    shape = tuple(int(d) for d in t.shape)
    dt = TORCH_DTYPES[t.dtype]
    if dt.is_floating_point:
        return torch.randn(shape, dtype=dt)
    if dt == torch.bool:
        return torch.randint(0, 2, shape).bool()
    lo, hi = value_range if value_range is not None else (0, 5)
    return torch.randint(lo, hi, shape, dtype=dt)


def make_inputs(op, types: list[TensorType]) -> list[torch.Tensor]:
    """Example tensors; integer inputs take their values from `op.example_ranges` ([low, high))."""
    ranges = list(op.example_ranges) + [None] * (len(types) - len(op.example_ranges))
    return [make_input(t, tuple(r) if r is not None else None) for t, r in zip(types, ranges)]


def run_lowered(lowered, inputs):
    if isinstance(lowered, Call):
        args = [list(inputs)] if lowered.pack_inputs else list(inputs)
        return lowered.fn(*args, *lowered.params.values(), *lowered.buffers.values(), *lowered.extra_args, **lowered.kwargs)
    assert isinstance(lowered, nn.Module), f"lowering returned {type(lowered).__name__}"
    lowered.eval()
    return lowered(*inputs)


def as_list(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]


def symbolize(types: list[TensorType]) -> tuple[list[TensorType], dict[str, int]]:
    """Batch dim (dim 0 of rank >= 2 inputs) and spatial dims of rank-4/5 inputs become symbols."""
    env: dict[str, int] = {}

    def name_for(base: str, value: int, i: int) -> str:
        name = base if env.get(base, value) == value else f"{base}{i}"
        env[name] = value
        return name

    out = []
    for i, t in enumerate(types):
        shape = list(t.shape)
        if t.rank >= 2:
            shape[0] = sym(name_for("B", shape[0], i))
        if t.rank in (4, 5):
            names = ("H", "W") if t.rank == 4 else ("D", "H", "W")
            for j, n in enumerate(names):
                shape[2 + j] = sym(name_for(n, shape[2 + j], i))
        out.append(TensorType(tuple(shape), t.dtype))
    return out, env


def test_registry_not_empty():
    expected = {"linear", "conv2d", "max_pool2d", "upsample", "interpolate", "batch_norm", "layer_norm",
                "group_norm", "instance_norm", "rms_norm", "dropout", "drop_path", "relu", "gelu", "softmax",
                "add", "mul", "concat", "split", "reshape", "permute", "transpose", "flatten", "unflatten",
                "matmul", "mean", "identity", "leaky_relu", "adaptive_avg_pool2d", "adaptive_max_pool3d"}
    assert expected <= set(OPS)


@pytest.mark.parametrize("name", OP_NAMES)
def test_metadata(name):
    op = OPS[name]
    assert op.name == name
    for field in ("doc", "shape_doc", "lowers_to", "family", "example"):
        assert getattr(op, field), f"{name}: missing {field}"
    assert op.example_inputs or op.arity == (0, 0), f"{name}: no example_inputs"
    lo, hi = op.arity
    assert lo <= len(op.example_inputs) and (hi is None or len(op.example_inputs) <= hi)
    assert not op.example_dtypes or len(op.example_dtypes) == len(op.example_inputs)
    assert all(dt in DTYPES for dt in op.example_dtypes)
    assert not op.example_ranges or len(op.example_ranges) == len(op.example_inputs)
    assert all(r is None or (len(r) == 2 and r[0] < r[1]) for r in op.example_ranges)


@pytest.mark.parametrize("name", OP_NAMES)
def test_example_against_torch(name):
    op = OPS[name]
    attrs = parse_attrs(op)
    in_types = example_types(op)
    out = op.infer(Ctx(), attrs, in_types)
    outs = as_list(out)
    assert all(isinstance(t, TensorType) for t in outs)

    lowered = op.lower(attrs, in_types, out)
    torch.manual_seed(0)
    with torch.no_grad():
        result = as_list(run_lowered(lowered, make_inputs(op, in_types)))
    assert len(result) == len(outs), f"{name}: {len(result)} outputs, inferred {len(outs)}"
    for r, t in zip(result, outs):
        assert tuple(r.shape) == tuple(t.shape), f"{name}: ran {tuple(r.shape)}, inferred {t}"
        assert r.dtype == TORCH_DTYPES[t.dtype], f"{name}: ran {r.dtype}, inferred {t.dtype}"

    want_p = op.params(attrs, in_types) if op.params else {}
    want_b = op.buffers(attrs, in_types) if op.buffers else {}
    if isinstance(lowered, nn.Module):
        got_p = {n: tuple(p.shape) for n, p in lowered.named_parameters()}
        got_b = {n: tuple(b.shape) for n, b in lowered.named_buffers()}
    else:  # a Call's node-owned parameters and (persistent) buffers
        got_p = {n: tuple(p.shape) for n, p in lowered.params.items()}
        got_b = {n: tuple(b.shape) for n, b in lowered.buffers.items()} if lowered.persistent else {}
    assert got_p == {k: tuple(v) for k, v in want_p.items()}
    assert got_b == {k: tuple(v) for k, v in want_b.items()}


@pytest.mark.parametrize("name", OP_NAMES)
def test_symbolic_matches_concrete(name):
    op = OPS[name]
    attrs = parse_attrs(op)
    in_types = example_types(op)
    concrete = as_list(op.infer(Ctx(), attrs, in_types))
    sym_types, env = symbolize(in_types)
    symbolic = as_list(op.infer(Ctx(env), attrs, sym_types))
    assert len(symbolic) == len(concrete)
    for s, c in zip(symbolic, concrete):
        assert tuple(evaluate(d, env) for d in s.shape) == tuple(c.shape), f"{name}: {s} at {env} vs {c}"
        assert s.dtype == c.dtype


@pytest.mark.parametrize("name", OP_NAMES)
def test_unknown_attribute_rejected(name):
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        OPS[name].attrs.model_validate({"definitely_not_an_attr": 1})


def test_front_end_is_torch_free():
    code = "import sys; from archc.ops import load_ops; load_ops(); assert 'torch' not in sys.modules, 'torch imported'"
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)
