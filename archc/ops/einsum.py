"""op: einsum: sums of products over named dims (torch.einsum), with the operands' ranks checked
against the equation and the output's dims taken, symbolic ones included, from the inputs'."""
from __future__ import annotations

from typing import Sequence

from pydantic import Field

from archc.ir.dims import Dim, equal
from archc.ir.types import ShapeError, TensorType
from archc.ops._cost import Cost, numel, size
from archc.ops._registry import Attrs, Call, InferContext, register
from archc.ops.tensor import broadcast, same_dtype

_ELLIPSIS = "."


class EinsumAttrs(Attrs):
    equation: str = Field(description="torch.einsum's equation, e.g. `bhqd,bhkd->bhqk`; letters name dims, "
                          "`...` the broadcast ones; without `->` the output is the letters used once, sorted")


def _parse_equation(eq: str, n_in: int) -> tuple[list[str], str]:
    """The operands' subscripts and the output's (`...` as one `.`); ARC204 when malformed."""
    text = eq.replace(" ", "")

    def bad(why: str, hint: str | None = None) -> ShapeError:
        return ShapeError("ARC204", f"`einsum` equation `{eq}`: {why}", hint=hint)

    lhs, arrow, rhs = text.partition("->")
    if "->" in rhs:
        raise bad("more than one `->`")
    parts = [p.replace("...", _ELLIPSIS) for p in lhs.split(",")]
    out = rhs.replace("...", _ELLIPSIS) if arrow else None
    for p in parts + ([out] if out is not None else []):
        for c in p:
            if c != _ELLIPSIS and not c.isalpha():
                raise bad(f"`{c}` is not a letter", "subscripts are letters a-z, A-Z, and `...` for broadcast dims")
        if p.count(_ELLIPSIS) > 1:
            raise bad("`...` appears twice in one term")
    if len(parts) != n_in:
        raise bad(f"it names {len(parts)} operand(s), but the node has {n_in} input(s)",
                  "give one comma-separated term per input, in `from:` order")
    if out is None:
        counts: dict[str, int] = {}
        for p in parts:
            for c in p:
                counts[c] = counts.get(c, 0) + 1
        out = (_ELLIPSIS if _ELLIPSIS in counts else "") + "".join(
            sorted(c for c, k in counts.items() if k == 1 and c != _ELLIPSIS))
    else:
        seen = set("".join(parts))
        for c in out:
            if c not in seen:
                raise bad(f"the output's `{'...' if c == _ELLIPSIS else c}` is not in any operand")
        if len(set(out)) != len(out):
            raise bad("the output names a letter twice")
    return parts, out


def _einsum_sizes(ctx: InferContext, a: EinsumAttrs, ins: Sequence[TensorType]):
    parts, out = _parse_equation(a.equation, len(ins))
    sizes: dict[str, tuple[int, Dim]] = {}  # letter -> (first input, size)
    ell: list[Sequence[Dim]] = []
    ell_from: list[int] = []
    for i, (p, t) in enumerate(zip(parts, ins)):
        letters = len(p.replace(_ELLIPSIS, ""))
        if (_ELLIPSIS in p and t.rank < letters) or (_ELLIPSIS not in p and t.rank != letters):
            want = f"at least {letters}" if _ELLIPSIS in p else str(letters)
            raise ShapeError("ARC205", f"`einsum` term `{p.replace(_ELLIPSIS, '...')}` of `{a.equation}` needs "
                             f"rank {want}, but input {i} has shape {t.shape_str()}",
                             hint="one letter per dim (`...` for any number of leading dims)", input_index=i)
        k = 0
        for c in p:
            if c == _ELLIPSIS:
                n = t.rank - letters
                ell.append(t.shape[k:k + n])
                ell_from.append(i)
                k += n
                continue
            d = t.shape[k]
            k += 1
            if c not in sizes:
                sizes[c] = (i, d)
                continue
            j, first = sizes[c]
            if isinstance(first, int) and first == 1 and not (isinstance(d, int) and d == 1):
                sizes[c] = (i, d)  # torch broadcasts a size-1 dim of a repeated letter
            elif not (isinstance(d, int) and d == 1) and not equal(first, d):
                ctx.require_equal(first, d, f"`einsum` `{c}` of inputs {j} and {i}", inputs=(j, i))
    batch = broadcast(ctx, "einsum", ell, ell_from) if ell else ()
    return parts, out, sizes, batch


def _einsum_infer(ctx: InferContext, a: EinsumAttrs, ins: Sequence[TensorType]) -> TensorType:
    dtype = same_dtype("einsum", ins)
    _, out, sizes, batch = _einsum_sizes(ctx, a, ins)
    shape: list[Dim] = []
    for c in out:
        if c == _ELLIPSIS:
            shape.extend(batch)
        else:
            shape.append(sizes[c][1])
    return TensorType(tuple(shape), dtype)


def _einsum_cost(node, ins, env) -> Cost:
    """MACs (two or more operands): the product of every dim's size over the letters and the broadcast
    dims (each output element sums the products over the contracted letters); one operand: 1 FLOP per
    input element (a sum or a copy)."""
    parts, out, sizes, batch = _einsum_sizes(_CostCtx(env), node.attrs, ins)
    if len(ins) == 1:
        return Cost(0, numel(ins[0], env))
    macs = 1
    for _, d in sizes.values():
        macs *= size(d, env)
    for d in batch:
        macs *= size(d, env)
    return Cost(macs, 2 * macs)


class _CostCtx(InferContext):
    """The cost rule re-reads the equation's sizes; the shape rule already proved them equal."""

    def __init__(self, env):
        self.env = env

    def require_equal(self, a, b, what, inputs=None) -> None:
        pass

    def example(self, d) -> int:
        return size(d, self.env)


def _einsum_lower(a: EinsumAttrs, ins, out):
    from archc.ops._tensorfns import einsum

    return Call(einsum, kwargs={"equation": a.equation}, pack_inputs=True)


register(
    "einsum",
    attrs=EinsumAttrs,
    infer=_einsum_infer,
    lower=_einsum_lower,
    cost=_einsum_cost,
    family="tensor",
    arity=(1, None),
    doc="Sum of products over named dims, as torch.einsum (`bhqd,bhkd->bhqk` for attention scores, "
    "`bchw->bhwc` for a permute).",
    shape_doc="one term per input, one letter per dim (ARC205 otherwise); a letter's dims must be equal across "
    "inputs (or 1); the output's dims are the inputs' dims its letters name, symbolic ones included; `...` dims "
    "broadcast.",
    lowers_to="archc.ops._tensorfns.einsum (torch.einsum)",
    example="{op: einsum, equation: 'bij,bjk->bik'}",
    example_inputs=[(2, 3, 4), (2, 4, 5)],
)
