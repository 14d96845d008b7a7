"""Elementwise math (archc.ops.math, add/mul): broadcasting, number operands, dtype rules, lowering
against torch's own results."""
from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from archc.ir.dims import sym
from archc.ir.types import ScalarType, ShapeError, TensorType, scalar_type
from archc.ops import OPS, Call, load_ops
from tests.ops._support import Ctx

load_ops()
B, H, W = sym("B"), sym("H"), sym("W")
BINARY = ["add", "mul", "sub", "div", "pow", "minimum", "maximum", "eq", "ne", "lt", "le", "gt", "ge"]
TORCH = {"float32": torch.float32, "float16": torch.float16, "float64": torch.float64, "int64": torch.int64,
         "int32": torch.int32, "bool": torch.bool, "bfloat16": torch.bfloat16}


def T(shape, dtype="float32"):
    return TensorType(tuple(shape), dtype)


def infer(name, ins, attrs=None, ctx=None):
    op = OPS[name]
    return op.infer(ctx or Ctx(), op.attrs.model_validate(attrs or {}), ins)


def execute(name, ins, attrs=None):
    """Lower `name` over `ins` (tensors made from the types, numbers as they are) and run it as
    codegen does: a number is a constant argument at its operand's position."""
    op = OPS[name]
    a = op.attrs.model_validate(attrs or {})
    out = op.infer(Ctx(), a, ins)
    call = op.lower(a, ins, out)
    assert isinstance(call, Call)
    torch.manual_seed(0)
    args = []
    for t in ins:
        if isinstance(t, ScalarType):
            args.append(t.value)
        elif t.dtype == "bool":
            args.append(torch.rand(t.shape) > 0.5)
        elif t.dtype.startswith("int"):
            args.append(torch.randint(1, 5, t.shape, dtype=TORCH[t.dtype]))
        else:
            args.append(torch.rand(t.shape, dtype=TORCH[t.dtype]) + 0.5)
    y = call.fn(*args, *call.extra_args, **call.kwargs)
    assert tuple(y.shape) == tuple(out.shape), (name, y.shape, out)
    assert y.dtype == TORCH[out.dtype], (name, y.dtype, out.dtype)
    return out, y, args


@pytest.mark.parametrize("name", BINARY)
def test_broadcasting_symbolic(name):
    out = infer(name, [T((B, 3, H, W)), T((3, 1, 1))])
    assert out.shape == (B, 3, H, W)
    assert infer(name, [T((B, 1, W)), T((B, H, 1))]).shape == (B, H, W)
    ctx = Ctx({"B": 2, "H": 4, "W": 4})
    infer(name, [T((B, H)), T((B, W))], ctx=ctx)          # equal at the example sizes: required equal
    assert [c[:2] for c in ctx.constraints] == [(H, W)]
    with pytest.raises(ShapeError) as e:
        infer(name, [T((B, H)), T((B, W))], ctx=Ctx({"B": 2, "H": 4, "W": 5}))
    assert e.value.code == "ARC201"
    with pytest.raises(ShapeError) as e:
        infer(name, [T((2, 3)), T((2, 4))], ctx=Ctx())
    assert e.value.code == "ARC201"


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("dtype", ["float32", "int64", "float16"])
@pytest.mark.parametrize("number", [2, 0.5])
@pytest.mark.parametrize("first", [False, True])
def test_number_operands_follow_torch_promotion(name, dtype, number, first):
    if name == "pow" and dtype == "float16":
        pytest.skip("pow on float16 is not implemented on CPU")
    x, s = T((2, 3), dtype), scalar_type(number)
    _, y, args = execute(name, [s, x] if first else [x, s])
    a, b = args
    want = {"add": torch.add, "mul": torch.mul, "sub": torch.sub, "div": torch.div, "pow": torch.pow,
            "minimum": lambda a, b: torch.minimum(torch.as_tensor(a), torch.as_tensor(b)),
            "maximum": lambda a, b: torch.maximum(torch.as_tensor(a), torch.as_tensor(b))}
    if name in want and name not in ("minimum", "maximum"):
        ref = want[name](a, b)
        assert ref.dtype == y.dtype
        torch.testing.assert_close(y, ref)
    elif name in ("minimum", "maximum"):
        t = a if torch.is_tensor(a) else b
        ref = (torch.clamp_min if name == "maximum" else torch.clamp_max)(t, number)
        assert ref.dtype == y.dtype and torch.equal(y, ref)
    else:  # comparisons: `number < tensor` as python evaluates it
        import operator

        ref = getattr(operator, name)(a, b)
        assert y.dtype == torch.bool and torch.equal(y, ref)


def test_promotion_table():
    f, i, b, h = T((4,)), T((4,), "int64"), T((4,), "bool"), T((4,), "float16")
    cases = [
        ("mul", [i, scalar_type(0.5)], "float32"), ("mul", [i, scalar_type(2)], "int64"),
        ("add", [b, scalar_type(1)], "int64"), ("add", [h, scalar_type(0.5)], "float16"),
        ("add", [scalar_type(3), h], "float16"), ("div", [i, scalar_type(2)], "float32"),
        ("div", [i, i], "float32"), ("pow", [i, scalar_type(2)], "int64"), ("pow", [scalar_type(2.0), i], "float32"),
        ("lt", [i, scalar_type(0.5)], "bool"), ("maximum", [i, scalar_type(0.5)], "float32"),
        ("where", [b, i, scalar_type(0.5)], "float32"), ("where", [b, scalar_type(1), scalar_type(0)], "int64"),
        ("where", [b, scalar_type(1.0), scalar_type(0)], "float32"),
    ]
    for name, ins, want in cases:
        assert infer(name, ins).dtype == want, (name, ins)
        out, y, _ = execute(name, ins)
        assert y.dtype == TORCH[want]


@pytest.mark.parametrize("name, ins, code", [
    ("add", [scalar_type(1), scalar_type(2)], "ARC102"),
    ("sub", [scalar_type(1.0), scalar_type(2)], "ARC102"),
    ("add", [T((4,)), T((4,), "float16")], "ARC202"),
    ("sub", [T((4,), "bool"), scalar_type(1)], "ARC202"),
    ("pow", [T((4,), "int64"), scalar_type(-1)], "ARC202"),
    ("where", [scalar_type(1), T((4,)), T((4,))], "ARC102"),
    ("where", [T((4,)), T((4,)), T((4,))], "ARC202"),
    ("lt", [T((4,), "int64"), T((4,))], "ARC202"),
])
def test_refused_operands(name, ins, code):
    with pytest.raises(ShapeError) as e:
        infer(name, ins)
    assert e.value.code == code and e.value.hint


def test_pow_negative_integer_power_is_what_torch_refuses():
    with pytest.raises(RuntimeError, match="negative integer powers"):
        torch.pow(torch.tensor([2]), -1)
    assert infer("pow", [T((4,), "int64"), scalar_type(-1.0)]).dtype == "float32"
    assert infer("pow", [T((4,)), scalar_type(-1)]).dtype == "float32"


def test_where_broadcasts_three_ways():
    out, y, (c, a, b) = execute("where", [T((2, 1, 4), "bool"), T((3, 1)), scalar_type(-1.0)])
    assert out.shape == (2, 3, 4)
    assert torch.equal(y, torch.where(c, a, -1.0))


@pytest.mark.parametrize("name, ref", [
    ("neg", torch.neg), ("abs", torch.abs), ("exp", torch.exp), ("log", torch.log), ("sqrt", torch.sqrt),
    ("rsqrt", torch.rsqrt), ("sin", torch.sin), ("cos", torch.cos),
])
def test_unary(name, ref):
    out, y, (x,) = execute(name, [T((2, 3))])
    torch.testing.assert_close(y, ref(x))
    assert infer(name, [T((B, H, 3))]).shape == (B, H, 3)
    if name in ("neg", "abs"):
        assert infer(name, [T((2,), "int64")]).dtype == "int64"
        bad = "bool"
    else:
        bad = "int64"
    with pytest.raises(ShapeError) as e:
        infer(name, [T((2,), bad)])
    assert e.value.code == "ARC202"


def test_clamp():
    out, y, (x,) = execute("clamp", [T((2, 5))], {"min": 0.6, "max": 1.2})
    torch.testing.assert_close(y, torch.clamp(x, 0.6, 1.2))
    _, y, (x,) = execute("clamp", [T((2, 5))], {"max": 1})
    assert torch.equal(y, torch.clamp(x, max=1))
    assert infer("clamp", [T((3,), "int64")], {"min": 0.5}).dtype == "float32"   # as torch.clamp
    assert infer("clamp", [T((3,), "int64")], {"min": 0, "max": 6}).dtype == "int64"
    with pytest.raises(ValidationError, match="needs `min`, `max` or both"):
        OPS["clamp"].attrs.model_validate({})
    with pytest.raises(ValidationError):
        OPS["clamp"].attrs.model_validate({"min": True})


@pytest.mark.parametrize("src, to", [("float32", "float16"), ("float32", "int64"), ("int64", "float32"),
                                     ("bool", "float32"), ("float16", "bfloat16")])
def test_cast(src, to):
    out, y, (x,) = execute("cast", [T((2, 3), src)], {"to": to})
    assert out.dtype == to and torch.equal(y, x.to(TORCH[to]))
    assert infer("cast", [T((B, H), src)], {"to": to}) == T((B, H), to)
    with pytest.raises(ValidationError):
        OPS["cast"].attrs.model_validate({"to": "float8"})


def test_costs_count_number_operands():
    from types import SimpleNamespace

    from archc.ops._cost import Cost

    out = T((2, 3, 4))
    node = SimpleNamespace(out=out, outputs=[out], scalars={1: 0.5}, attrs=None)
    assert OPS["mul"].cost(node, [out], {}) == Cost(0, 24)         # x * 0.5: one multiply per element
    assert OPS["sub"].cost(node, [out], {}) == Cost(0, 24)
    plain = SimpleNamespace(out=out, outputs=[out], attrs=None)
    assert OPS["add"].cost(plain, [out, out, out], {}) == Cost(0, 48)
    clamp = SimpleNamespace(out=out, attrs=OPS["clamp"].attrs.model_validate({"min": 0}))
    assert OPS["clamp"].cost(clamp, [out], {}) == Cost(0, 24)


# ---------------------------------------------------------------------------------------------
# Number operands in specs: `from: [x, 0.5]` through validation, elaboration, lowering and export
# ---------------------------------------------------------------------------------------------

SPEC = """\
archc: 1
name: scalars
params: {eps: 1.0e-5, half: 0.5}
inputs: {x: {shape: [B, 4]}, i: {shape: [B, 4], dtype: int64}}
symbols: {B: {example: 2}}
layers:
  - a: {op: mul, from: [x, "${half}"]}
  - b: {op: sub, from: [1, a]}
  - c: {op: pow, from: [b, 2]}
  - d: {op: add, from: [c, "${eps}"]}
  - e: {op: div, from: [1, d]}
  - f: {op: lt, from: [0.5, e]}
  - g: {op: where, from: [f, e, 0]}
  - h: {op: maximum, from: [0, g]}
  - k: {op: mul, from: [i, 0.5]}
  - m: {op: add, from: [3, h, k]}
outputs: {y: m, z: k}
"""


def reference(x, i):
    a = x * 0.5
    e = 1 / ((1 - a) ** 2 + 1e-5)
    h = torch.clamp_min(torch.where(0.5 < e, e, 0), 0)
    k = i * 0.5
    return 3 + h + k, k


def write(tmp_path, text, name="s.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_spec_numbers_compile_and_match_torch(tmp_path):
    import archc

    gm = archc.compile(write(tmp_path, SPEC))
    g = gm.archc_graph
    b = g.node("b")
    assert b.scalars == {0: 1} and [str(r) for r in b.inputs] == ["a"] and b.operands()[0] == 1
    assert g.node("a").scalars == {1: 0.5} and g.node("d").scalars == {1: 1e-5}
    assert g.node("k").out.dtype == "float32"                  # int64 tensor * 0.5, as torch promotes
    assert "b = sub(1, a)" in g.pretty() and "m = add(3, h, k)" in g.pretty()
    assert [n.op for n in gm.graph.nodes if n.op == "placeholder"] == ["placeholder"] * 2   # numbers are no inputs
    x, i = torch.randn(3, 4), torch.randint(0, 5, (3, 4))
    y, z = gm(x, i)
    ry, rz = reference(x, i)
    torch.testing.assert_close(y, ry)
    assert z.dtype == torch.float32 and torch.equal(z, rz)


def test_spec_numbers_are_constants_in_the_fx_graph(tmp_path):
    import archc

    gm = archc.compile(write(tmp_path, SPEC))
    code = gm.code
    assert "torch.mul(x, 0.5)" in code and "torch.sub(1, a)" in code and "torch.add(c, 1e-05)" in code
    assert "lt_scalar_first(0.5, e)" in code and "maximum_scalar_first(0, g)" in code


def test_spec_numbers_export_cleanly(tmp_path):
    import archc

    gm = archc.compile(write(tmp_path, SPEC.replace("[3, h, k]", "[3, h]")))   # add_n of 3 does not script
    ep = torch.export.export(gm, (torch.randn(2, 4), torch.randint(0, 5, (2, 4))))
    assert not [n for n in ep.graph.nodes if n.op == "placeholder" and "const" in n.name]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scripted = torch.jit.script(gm)
    x, i = torch.randn(2, 4), torch.randint(0, 5, (2, 4))
    for a, b in zip(scripted(x, i), gm(x, i)):
        assert torch.equal(a, b)


def test_lint_accepts_numbers_without_torch(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    p = write(tmp_path, SPEC)
    code = ("import sys; from archc.lint_driver import lint_text; "
            f"r = lint_text(open({str(p)!r}).read()); "
            "assert not [d for d in r.diagnostics if d.severity == 'error'], r.diagnostics; "
            "assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])


def test_schema_accepts_numbers_and_expressions_in_from():
    import jsonschema
    import yaml

    from archc.spec.schema import json_schema

    schema = json_schema()
    jsonschema.validate(yaml.safe_load(SPEC), schema)
    bad = yaml.safe_load(SPEC.replace('[x, "${half}"]', "[x, true]"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


BAD = """\
archc: 1
name: bad
params: {word: hi}
inputs: {x: {shape: [2, 4]}}
blocks:
  blk: {layers: [{r: {op: relu}}]}
layers:
  - a: {op: relu, from: [0.5]}
  - b: {op: add, from: [1, 2]}
  - c: {op: mul, from: [x, "${word}"]}
  - d: {op: mul, from: [x, true]}
  - e: {block: blk, from: [2]}
  - f: {op: add, from: [x, 99999999999999999999999]}
  - g: {op: where, from: [1, x, x]}
  - h: {op: conv2d, from: [x, 1], out: 4, kernel: 1}
"""


def test_numbers_where_tensors_are_needed_are_located_diagnostics(tmp_path):
    from archc.errors import DiagnosticError
    from archc.pipeline import run

    with pytest.raises(DiagnosticError) as e:
        run(write(tmp_path, BAD), until="elaborate")
    got = {(d.code, d.span.line, d.span.col) for d in e.value.diagnostics}
    assert got == {
        ("ARC102", 8, 26),    # relu takes tensors: at the number
        ("ARC102", 9, 24),    # every operand an integer: read as Ultralytics-style indexes, at the `from:`
        ("ARC102", 10, 28),   # an expression that gives a word
        ("ARC102", 11, 28),   # true is no number (schema)
        ("ARC102", 12, 27),   # a block's input, an integer: an index, at the `from:`
        ("ARC209", 13, 28),   # past int64
        ("ARC102", 14, 5),    # where's condition
        ("ARC102", 15, 27),   # conv2d's second input, an integer: an index, at the `from:`
    }, got
    by_line = {d.span.line: d for d in e.value.diagnostics}
    assert "takes tensors" in by_line[8].message and by_line[8].hint
    assert "names nodes, not layer indexes" in by_line[9].message and by_line[9].hint
    assert "names nodes, not layer indexes" in by_line[12].message
    assert [r.message for r in by_line[14].related] == ["input 0 is the number 1"]


def test_absent_node_stands_for_its_first_tensor(tmp_path):
    import archc

    text = SPEC.replace("- b: {op: sub, from: [1, a]}", "- b: {op: sub, from: [1, a], when: false}")
    g = archc.infer(write(tmp_path, text))
    assert "b" not in {n.path for n in g.nodes} and [str(r) for r in g.node("c").inputs] == ["a"]


def test_broadcast_constraint_points_at_tensor_inputs_among_numbers(tmp_path):
    import archc

    text = """\
archc: 1
name: t
inputs: {x: {shape: [B, H]}, y: {shape: [B, W]}}
symbols: {B: {example: 2}, H: {example: 4}, W: {example: 4}}
layers:
  - s: {op: add, from: [1, x, y]}
outputs: {o: s}
"""
    g = archc.infer(write(tmp_path, text))
    assert g.node("s").scalars == {0: 1} and len(g.node("s").inputs) == 2
    assert any("H" in c.text and "W" in c.text for c in g.constraints)


def test_numbers_are_shared_by_repetitions_and_sequences(tmp_path):
    import archc

    text = """\
archc: 1
name: rep
inputs: {x: {shape: [2, 4]}}
layers:
  - m: {op: mul, from: [x, 0.5], repeat: 3}
  - s: {seq: [{op: sub}, {op: relu}], from: [x, 1]}
  - t: {op: add, from: [m, "${s}"]}
outputs: {y: t}
"""
    gm = archc.compile(write(tmp_path, text))
    g = gm.archc_graph
    assert [g.node(f"m.{k}").scalars for k in range(3)] == [{1: 0.5}] * 3
    assert g.node("s.0").scalars == {1: 1} and [str(r) for r in g.node("t").inputs] == ["m.2", "s.1"]
    x = torch.randn(2, 4)
    torch.testing.assert_close(gm(x), x * 0.125 + torch.relu(x - 1))


def test_profile_counts_number_operands(tmp_path):
    from archc.profile import analyze
    import archc

    g = archc.infer(write(tmp_path, SPEC))
    flops = {n.path: n.flops for n in analyze(g).nodes}
    assert flops["a"] == 8 and flops["m"] == 16 and flops["k"] == 8     # B=2 x 4; m adds 3 operands
