"""stack, expand, repeat_interleave, squeeze, unsqueeze, pad, roll, flip, normalize (and the
pixel shuffles and einsum): shapes against torch, symbolic sizes, diagnostics, and a spec that uses
them compiled end to end."""
from __future__ import annotations

import textwrap

import pytest
import torch
import torch.nn.functional as F

from archc.ir.dims import sym
from archc.ir.types import ShapeError, TensorType
from archc.ops import OPS, Call, load_ops
from tests.ops._support import Ctx

load_ops()
B, T, H, W = sym("B"), sym("T"), sym("H"), sym("W")


def infer(name, attrs, *types, ctx=None):
    op = OPS[name]
    return op.infer(ctx if ctx is not None else Ctx(), op.attrs.model_validate(attrs), list(types))


def run(name, attrs, *xs):
    op = OPS[name]
    a = op.attrs.model_validate(attrs)
    types = [TensorType(tuple(x.shape), str(x.dtype).removeprefix("torch.")) for x in xs]
    out = op.infer(Ctx(), a, types)
    low = op.lower(a, types, out)
    assert isinstance(low, Call)
    args = [list(xs)] if low.pack_inputs else list(xs)
    res = low.fn(*args, *low.extra_args, **low.kwargs)
    assert tuple(res.shape) == tuple(out.shape) and str(res.dtype).removeprefix("torch.") == out.dtype
    return res


def raises(code, name, attrs, *types, ctx=None):
    with pytest.raises(ShapeError) as e:
        infer(name, attrs, *types, ctx=ctx)
    assert e.value.code == code, e.value.message
    assert f"`{name}`" in e.value.message
    return e.value


# ---------------------------------------------------------------------------------------------
# stack
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dim", [0, 1, 2, 3, -1, -4])
def test_stack_matches_torch(dim):
    xs = [torch.randn(2, 3, 4) for _ in range(3)]
    assert torch.equal(run("stack", {"dim": dim}, *xs), torch.stack(xs, dim=dim))


def test_stack_symbolic_and_errors():
    ctx = Ctx()
    assert infer("stack", {"dim": 1}, TensorType((B, T)), TensorType((B, T)), ctx=ctx).shape == (B, 2, T)
    infer("stack", {}, TensorType((B, T)), TensorType((B, sym("S"))), ctx=ctx)
    assert ctx.constraints  # T == S recorded
    raises("ARC201", "stack", {}, TensorType((2, 3)), TensorType((2, 4)))
    raises("ARC205", "stack", {}, TensorType((2, 3)), TensorType((2, 3, 1)))
    raises("ARC202", "stack", {}, TensorType((2, 3)), TensorType((2, 3), "int64"))
    raises("ARC204", "stack", {"dim": 3}, TensorType((2, 3)), TensorType((2, 3)))


# ---------------------------------------------------------------------------------------------
# expand, repeat_interleave
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape, sizes", [
    ((1, 4), [3, 4]), ((1, 4), [3, -1]), ((5, 1, 4), [2, -1, 3, 4]), ((1, 1, 8), [6, 2, 1, -1]), ((3,), [3]),
])
def test_expand_matches_torch(shape, sizes):
    x = torch.randn(shape)
    assert torch.equal(run("expand", {"sizes": sizes}, x), x.expand(sizes))


def test_expand_symbolic_and_errors():
    assert infer("expand", {"sizes": [B, -1, -1]}, TensorType((1, 1, 8))).shape == (B, 1, 8)
    assert infer("expand", {"sizes": [-1, T]}, TensorType((B, T))).shape == (B, T)
    ctx = Ctx()
    assert infer("expand", {"sizes": [-1, sym("S")]}, TensorType((B, T)), ctx=ctx).shape == (B, T)
    assert ctx.constraints
    e = raises("ARC201", "expand", {"sizes": [3, 5]}, TensorType((2, 5)))
    assert e.hint and e.input_index == 0
    raises("ARC205", "expand", {"sizes": [5]}, TensorType((2, 5)))
    raises("ARC204", "expand", {"sizes": [-1, 2, 5]}, TensorType((2, 5)))
    raises("ARC204", "expand", {"sizes": [0, 5]}, TensorType((1, 5)))
    raises("ARC204", "expand", {"sizes": [-2, 5]}, TensorType((1, 5)))


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_repeat_interleave_matches_torch(dim):
    x = torch.randn(2, 3, 4)
    assert torch.equal(run("repeat_interleave", {"repeats": 3, "dim": dim}, x), x.repeat_interleave(3, dim=dim))
    assert infer("repeat_interleave", {"repeats": 4, "dim": 1}, TensorType((B, sym("K"), T))).shape == \
        (B, 4 * sym("K"), T)


# ---------------------------------------------------------------------------------------------
# squeeze, unsqueeze
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dims", [1, -1, [1, 3], [-1, 1]])
def test_squeeze_matches_torch(dims):
    x = torch.randn(2, 1, 3, 1)
    want = x.squeeze(tuple(dims) if isinstance(dims, list) else dims)
    assert torch.equal(run("squeeze", {"dims": dims}, x), want)


def test_squeeze_only_size_1_dims():
    e = raises("ARC204", "squeeze", {"dims": 2}, TensorType((2, 1, 3)))
    assert "size 3, not 1" in e.message and e.hint
    e = raises("ARC204", "squeeze", {"dims": 0}, TensorType((B, 1, 3)))
    assert "symbolic" in e.hint
    raises("ARC204", "squeeze", {"dims": [1, -2]}, TensorType((2, 1, 3)))
    raises("ARC204", "squeeze", {"dims": 3}, TensorType((2, 1, 3)))
    assert infer("squeeze", {"dims": [2, 3]}, TensorType((B, 8, 1, 1))).shape == (B, 8)


@pytest.mark.parametrize("dim", [0, 1, 2, -1, -3])
def test_unsqueeze_matches_torch(dim):
    x = torch.randn(2, 3)
    assert torch.equal(run("unsqueeze", {"dim": dim}, x), x.unsqueeze(dim))
    assert infer("unsqueeze", {"dim": 1}, TensorType((B, T))).shape == (B, 1, T)
    raises("ARC204", "unsqueeze", {"dim": 3}, TensorType((2, 3)))
    raises("ARC204", "unsqueeze", {"dim": -4}, TensorType((2, 3)))


# ---------------------------------------------------------------------------------------------
# pad
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("pads", [[1, 2], [0, 3, 2, 1], [1, 0, 0, 2, 3, 1]])
@pytest.mark.parametrize("lead", [1, 2])
def test_pad_matches_torch(mode, pads, lead):
    """Modes other than constant pad n dims of a rank n+1 or n+2 input (what torch runs)."""
    x = torch.randn((2, 3, 4, 5, 6)[2 - lead + 3 - len(pads) // 2:])
    got = run("pad", {"pads": pads, "mode": mode}, x)
    assert torch.equal(got, F.pad(x, pads, mode=mode))


def test_pad_constant_value_and_crop():
    x = torch.randn(2, 3, 6)
    assert torch.equal(run("pad", {"pads": [2, 0], "value": -1.5}, x), F.pad(x, [2, 0], value=-1.5))
    assert torch.equal(run("pad", {"pads": [-1, -2, 1, 1]}, x), F.pad(x, [-1, -2, 1, 1]))


def test_pad_symbolic_shape():
    out = infer("pad", {"pads": [0, 1, 2, 3]}, TensorType((B, 3, H, W)))
    assert out.shape == (B, 3, H + 5, W + 1)


def test_pad_errors():
    x = TensorType((2, 3, 4, 5))
    raises("ARC204", "pad", {"pads": [1]}, x)
    raises("ARC204", "pad", {"pads": []}, x)
    raises("ARC205", "pad", {"pads": [1] * 10}, x)
    x3 = TensorType((3, 4, 5))
    e = raises("ARC204", "pad", {"pads": [5, 0], "mode": "reflect"}, x3)
    assert "less than its size 5" in e.message and e.hint
    e = raises("ARC204", "pad", {"pads": [0, 0, 4, 0], "mode": "reflect"}, x3)
    assert "dim 1" in e.message
    assert infer("pad", {"pads": [4, 0, 3, 3], "mode": "reflect"}, x3).shape == (3, 10, 9)
    raises("ARC204", "pad", {"pads": [6, 0], "mode": "circular"}, x3)
    assert infer("pad", {"pads": [5, 5], "mode": "circular"}, x3).shape == (3, 4, 15)
    raises("ARC204", "pad", {"pads": [-1, 0], "mode": "replicate"}, x3)
    raises("ARC204", "pad", {"pads": [1, 1], "mode": "reflect", "value": 1.0}, x3)
    raises("ARC205", "pad", {"pads": [1, 1], "mode": "replicate"}, TensorType((5,)))
    raises("ARC205", "pad", {"pads": [1, 1], "mode": "replicate"}, TensorType((2, 3, 4, 5)))
    # a symbolic dim is checked at the example sizes
    e = raises("ARC204", "pad", {"pads": [0, 0, 8, 8], "mode": "reflect"}, TensorType((B, 3, H, W)),
               ctx=Ctx({"B": 2, "H": 8, "W": 8}))
    assert "at the example sizes" in e.message
    assert infer("pad", {"pads": [3, 3], "mode": "reflect"}, TensorType((B, 3, T)), ctx=Ctx({"B": 2, "T": 8})).shape \
        == (B, 3, T + 6)


# ---------------------------------------------------------------------------------------------
# roll, flip, normalize
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shifts, dims", [(1, 1), (-2, -1), ([1, -3], [1, 2]), ([2, 2], [0, 0])])
def test_roll_matches_torch(shifts, dims):
    x = torch.randn(2, 4, 5)
    assert torch.equal(run("roll", {"shifts": shifts, "dims": dims}, x), torch.roll(x, shifts, dims))


def test_roll_flip_errors():
    raises("ARC204", "roll", {"shifts": [1, 2], "dims": 1}, TensorType((2, 3)))
    raises("ARC204", "roll", {"shifts": 1, "dims": 2}, TensorType((2, 3)))
    raises("ARC204", "flip", {"dims": [1, -1]}, TensorType((2, 3)))
    raises("ARC204", "flip", {"dims": []}, TensorType((2, 3)))


@pytest.mark.parametrize("dims", [0, -1, [0, 2]])
def test_flip_matches_torch(dims):
    x = torch.randn(2, 3, 4)
    assert torch.equal(run("flip", {"dims": dims}, x), torch.flip(x, [dims] if isinstance(dims, int) else dims))


@pytest.mark.parametrize("attrs", [{}, {"dim": -1}, {"p": 1.0, "dim": 0}, {"p": 3.0, "eps": 1e-3}])
def test_normalize_matches_torch(attrs):
    x = torch.randn(2, 5, 3)
    x[0, :, 0] = 0  # a zero vector: divided by eps
    want = F.normalize(x, p=attrs.get("p", 2.0), dim=attrs.get("dim", 1), eps=attrs.get("eps", 1e-12))
    torch.testing.assert_close(run("normalize", attrs, x), want)


def test_normalize_errors():
    raises("ARC202", "normalize", {}, TensorType((2, 3), "int64"))
    raises("ARC204", "normalize", {"dim": 2}, TensorType((2, 3)))


# ---------------------------------------------------------------------------------------------
# end to end: a spec written with the new ops compiles, and its mistakes are located diagnostics
# ---------------------------------------------------------------------------------------------

CLIP_HEAD = """
archc: 1
name: pooled
symbols: {B: {example: 2}, T: {example: 6}}
inputs:
  ids: {shape: [B, T], dtype: int64, range: [0, 50]}
  h: {shape: [B, T, 8]}
layers:
  - eot: {op: argmax, dim: -1, from: ids}
  - pooled: {op: take, from: [h, eot]}
  - emb: {op: normalize, dim: -1, from: pooled}
  - mask: {op: sum, dims: -1, keepdim: true, from: h}
  - pos: {op: cumsum, dim: 1, from: ids}
  - both: {op: stack, dim: 1, from: [emb, emb]}
  - wide: {op: unsqueeze, dim: 1, from: both}
  - big: {op: expand, sizes: ['${dim(h, 0)}', 3, -1, -1], from: wide}
  - padded: {op: pad, pads: [1, 2, 0, 1], mode: replicate, from: h}
  - sq: {op: squeeze, dims: -1, from: mask}
outputs: {emb: emb, pos: pos, big: big, padded: padded, sq: sq}
"""


def _write(tmp_path, text):
    p = tmp_path / "spec.yaml"
    p.write_text(textwrap.dedent(text).lstrip())
    return p


def test_spec_compiles_and_matches_torch(tmp_path):
    from archc import api

    m = api.compile(str(_write(tmp_path, CLIP_HEAD)))
    for b, t in ((2, 6), (3, 4)):
        ids, h = torch.randint(0, 50, (b, t)), torch.randn(b, t, 8)
        emb, pos, big, padded, sq = m(ids, h)
        want = F.normalize(h[torch.arange(b), ids.argmax(-1)], dim=-1)
        torch.testing.assert_close(emb, want)
        assert torch.equal(pos, ids.cumsum(1))
        assert torch.equal(big, torch.stack([want, want], 1).unsqueeze(1).expand(b, 3, 2, 8))
        assert torch.equal(padded, F.pad(h, [1, 2, 0, 1], mode="replicate"))
        torch.testing.assert_close(sq, h.sum(-1))


def test_shape_mistakes_are_located_diagnostics(tmp_path):
    from archc import api
    from archc.errors import DiagnosticError

    text = CLIP_HEAD.replace("{op: squeeze, dims: -1, from: mask}", "{op: squeeze, dims: 1, from: mask}")
    with pytest.raises(DiagnosticError) as e:
        api.infer(str(_write(tmp_path, text)))
    (d,) = e.value.diagnostics
    assert d.code == "ARC204" and "`sq` (squeeze): `squeeze` dim 1 has size T, not 1" in d.message
    line = next(i for i, ln in enumerate(text.strip().splitlines(), 1) if "- sq:" in ln)
    assert d.hint and (d.span.line, d.span.col) == (line, 5)


# ---------------------------------------------------------------------------------------------
# pixel_shuffle, pixel_unshuffle
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape, r", [((2, 12, 3, 4), 2), ((1, 18, 2, 2), 3), ((4, 3, 8, 5, 2), 1), ((3, 8, 1, 1), 2)])
def test_pixel_shuffles_match_torch(shape, r):
    x = torch.randn(shape)
    y = run("pixel_shuffle", {"factor": r}, x)
    assert torch.equal(y, F.pixel_shuffle(x, r))
    assert torch.equal(run("pixel_unshuffle", {"factor": r}, y), x)


def test_pixel_shuffle_divisibility_is_symbolic():
    ctx = Ctx()
    out = infer("pixel_unshuffle", {"factor": 4}, TensorType((B, 3, H, W)), ctx=ctx)
    assert out.shape[:2] == (B, 48)
    from archc.ir.dims import evaluate

    assert [evaluate(d, {"H": 32, "W": 8}) for d in out.shape[2:]] == [8, 2]
    assert {c[2] for c in ctx.constraints} == {"`pixel_unshuffle` height (dim -2) `H` divisible by 4",
                                              "`pixel_unshuffle` width (dim -1) `W` divisible by 4"}
    # at the example sizes an indivisible symbol fails
    raises("ARC201", "pixel_unshuffle", {"factor": 4}, TensorType((B, 3, H, W)), ctx=Ctx({"B": 1, "H": 30, "W": 8}))
    e = raises("ARC204", "pixel_unshuffle", {"factor": 2}, TensorType((2, 3, 5, 4)))
    assert "height (dim -2) 5 is not a multiple of 2" in e.message and e.hint
    e = raises("ARC204", "pixel_shuffle", {"factor": 2}, TensorType((2, 6, 5, 4)))
    assert "channels (dim -3) 6 is not a multiple of 4" in e.message and e.hint
    raises("ARC205", "pixel_shuffle", {"factor": 2}, TensorType((8, 4)))
    assert infer("pixel_shuffle", {"factor": 2}, TensorType((B, 4 * sym("C"), H, W))).shape == \
        (B, sym("C"), 2 * H, 2 * W)


# ---------------------------------------------------------------------------------------------
# einsum
# ---------------------------------------------------------------------------------------------

EINSUMS = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)]),
    ("bchw->bhwc", [(2, 3, 4, 5)]),
    ("bij,bjk", [(2, 3, 4), (2, 4, 5)]),
    ("ba", [(3, 2)]),
    ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("i,j->ij", [(3,), (4,)]),
    ("...ij,...jk", [(2, 1, 2, 3), (5, 3, 4)]),
    ("b...d,d e -> b...e", [(2, 3, 4, 5), (5, 6)]),
    ("ij,jk->ik", [(2, 1), (3, 4)]),
    ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]),
]


@pytest.mark.parametrize("eq, shapes", EINSUMS)
def test_einsum_matches_torch(eq, shapes):
    xs = [torch.randn(s) for s in shapes]
    torch.testing.assert_close(run("einsum", {"equation": eq}, *xs), torch.einsum(eq, xs))


def test_einsum_symbolic_dims_come_from_the_inputs():
    S = sym("S")
    ctx = Ctx()
    out = infer("einsum", {"equation": "bhqd,bhkd->bhqk"}, TensorType((B, 4, T, 8)), TensorType((B, 4, S, 8)), ctx=ctx)
    assert out.shape == (B, 4, T, S) and not ctx.constraints
    ctx = Ctx()
    infer("einsum", {"equation": "bi,bj->bij"}, TensorType((B, 3)), TensorType((sym("N"), 4)), ctx=ctx)
    assert ctx.constraints and "`einsum` `b` of inputs 0 and 1" == ctx.constraints[0][2]
    assert infer("einsum", {"equation": "...d,de->...e"}, TensorType((B, T, 8)), TensorType((8, 2))).shape == (B, T, 2)


@pytest.mark.parametrize("eq, shapes, code", [
    ("ij,jk->ik", [(2, 3), (4, 5)], "ARC201"),
    ("ij,jk->ik", [(2, 3, 1), (3, 5)], "ARC205"),
    ("...ij,jk", [(3,), (3, 5)], "ARC205"),
    ("ij,jk", [(2, 3)], "ARC204"),
    ("ij->ik", [(2, 3)], "ARC204"),
    ("ij->ii", [(2, 3)], "ARC204"),
    ("i1->i", [(2, 3)], "ARC204"),
    ("i->i->i", [(2,)], "ARC204"),
    ("......i", [(2, 3)], "ARC204"),
])
def test_einsum_errors(eq, shapes, code):
    e = raises(code, "einsum", {"equation": eq}, *[TensorType(s) for s in shapes])
    assert eq in e.message or code == "ARC201"


def test_einsum_cost():
    from types import SimpleNamespace

    op = OPS["einsum"]
    a = op.attrs.model_validate({"equation": "bhqd,bhkd->bhqk"})
    ins = [TensorType((B, 4, T, 8)), TensorType((B, 4, T, 8))]
    cost = op.cost(SimpleNamespace(attrs=a, out=op.infer(Ctx(), a, ins)), ins, {"B": 2, "T": 10})
    assert (cost.macs, cost.flops) == (2 * 4 * 10 * 10 * 8, 2 * 2 * 4 * 10 * 10 * 8)


def test_lowering_helpers_script():
    """The helpers the lowerings call compile with torch.jit.script (so TorchScript export scripts,
    not traces, a graph that uses them)."""
    import inspect

    from archc.ops import _tensorfns

    fns = [f for n, f in inspect.getmembers(_tensorfns, inspect.isfunction)
           if f.__module__ == _tensorfns.__name__ and not n.startswith("_")]
    assert len(fns) >= 7
    for f in fns:
        torch.jit.script(f)


SHUFFLE_EINSUM = """
archc: 1
name: shuffles
symbols: {B: {example: 2}, H: {example: 8, multiple_of: 2}, W: {example: 6, multiple_of: 2}}
inputs:
  x: {shape: [B, 4, H, W]}
  idx: {shape: [3], dtype: int64, range: [0, 8]}
layers:
  - down: {op: pixel_unshuffle, factor: 2, from: x}
  - up: {op: pixel_shuffle, factor: 2, from: down}
  - rolled: {op: roll, shifts: [1, -2], dims: [2, 3], from: up}
  - flipped: {op: flip, dims: -1, from: rolled}
  - padded: {op: pad, pads: [1, 1, 2, 0], mode: reflect, from: flipped}
  - twice: {op: repeat_interleave, repeats: 2, dim: 1, from: x}
  - picked: {op: index_select, dim: 1, from: [twice, idx]}
  - gram: {op: einsum, equation: 'bchw,bdhw->bcd', from: [picked, x]}
  - lowest: {op: min, dims: [2, 3], from: padded}
  - where: {op: argmin, dim: 1, from: padded}
  - product: {op: prod, dims: [1, 3], from: padded}
outputs: {padded: padded, gram: gram, lowest: lowest, where: where, product: product}
"""


def test_second_spec_compiles_and_matches_torch(tmp_path):
    from archc import api

    m = api.compile(str(_write(tmp_path, SHUFFLE_EINSUM)))
    for b, h, w in ((2, 8, 6), (1, 4, 10)):
        x, idx = torch.randn(b, 4, h, w), torch.randint(0, 8, (3,))
        padded, gram, lowest, where, product = m(x, idx)
        want = F.pad(torch.roll(x, (1, -2), (2, 3)).flip(-1), [1, 1, 2, 0], mode="reflect")
        assert torch.equal(padded, want)
        picked = x.repeat_interleave(2, 1)[:, idx]
        torch.testing.assert_close(gram, torch.einsum("bchw,bdhw->bcd", picked, x))
        assert torch.equal(lowest, want.amin((2, 3))) and torch.equal(where, want.argmin(1))
        torch.testing.assert_close(product, want.prod(3).prod(1))
