"""op: rnn, lstm, gru: multi-layer (bidirectional) recurrent layers with torch's parameter names.

Multi-output: `node[0]` (or `node`) is the output sequence, `node[1]` the final hidden state h_n and, for lstm,
`node[2]` the final cell state c_n. The initial state is zero.
"""
from __future__ import annotations

from typing import Literal, Sequence

from pydantic import Field

from archc.ir.types import TensorType
from archc.ops._cost import Cost, sizes
from archc.ops._registry import Attrs, InferContext, Traits, rank_error, register
from archc.ops.activation import FLOPS_PER_ELEMENT
from archc.ops.tensor import require_float, static_dim


class RecurrentAttrs(Attrs):
    hidden: int = Field(gt=0, description="hidden size")
    layers: int = Field(1, gt=0, description="number of stacked layers")
    bidirectional: bool = False
    batch_first: bool = Field(True, description="input and output are [B, T, F] (false: [T, B, F])")
    bias: bool = True
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout between layers (train mode; needs layers > 1)")


class RNNAttrs(RecurrentAttrs):
    nonlinearity: Literal["tanh", "relu"] = "tanh"


_GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def _features(op: str, x: TensorType) -> int:
    if x.rank != 3:
        raise rank_error(op, "a rank-3 input [B, T, F] (batch_first) or [T, B, F]", x)
    require_float(op, x)
    return static_dim(op, x.shape[2], "number of input features (last dim)")


def _infer(op: str):
    def infer(ctx: InferContext, a: RecurrentAttrs, ins: Sequence[TensorType]) -> list[TensorType]:
        x = ins[0]
        _features(op, x)
        dirs = 2 if a.bidirectional else 1
        B = x.shape[0] if a.batch_first else x.shape[1]
        out = x.with_shape(x.shape[:2] + (a.hidden * dirs,))
        state = x.with_shape((a.layers * dirs, B, a.hidden))
        return [out, state, state] if op == "lstm" else [out, state]

    return infer


def _params(op: str):
    def params(a: RecurrentAttrs, ins: Sequence[TensorType]) -> dict[str, tuple[int, ...]]:
        F = _features(op, ins[0])
        g = _GATES[op] * a.hidden
        dirs = 2 if a.bidirectional else 1
        p: dict[str, tuple[int, ...]] = {}
        for layer in range(a.layers):
            fin = F if layer == 0 else a.hidden * dirs
            for sfx in ("", "_reverse")[:dirs]:
                p[f"weight_ih_l{layer}{sfx}"] = (g, fin)
                p[f"weight_hh_l{layer}{sfx}"] = (g, a.hidden)
                if a.bias:
                    p[f"bias_ih_l{layer}{sfx}"] = (g,)
                    p[f"bias_hh_l{layer}{sfx}"] = (g,)
        return p

    return params


def _lower(op: str):
    def lower(a: RecurrentAttrs, ins: Sequence[TensorType], out):
        from archc.ops import _seqmodules as m

        F = _features(op, ins[0])
        kw = dict(num_layers=a.layers, bias=a.bias, batch_first=a.batch_first,
                  dropout=a.dropout if a.layers > 1 else 0.0, bidirectional=a.bidirectional)
        if op == "rnn":
            return m.RNN(F, a.hidden, nonlinearity=a.nonlinearity, **kw)
        return {"lstm": m.LSTM, "gru": m.GRU}[op](F, a.hidden, **kw)

    return lower


# Elementwise FLOPs per hidden unit and step, besides the two products' sum and the biases:
# lstm 3 sigmoids + 2 tanh + 4 (cell and hidden updates) = 24; gru 2 sigmoids + 1 tanh + 5 = 17;
# rnn its nonlinearity (tanh 4, relu 1).
_ACT = FLOPS_PER_ELEMENT
_CELL_FLOPS = {"lstm": 3 * _ACT["sigmoid"] + 2 * _ACT["tanh"] + 4, "gru": 2 * _ACT["sigmoid"] + _ACT["tanh"] + 5}


def _cost(op: str):
    """MACs per layer, direction, step and sample G * H * (F_in + H) (G gates); FLOPs 2 * MACs + per
    hidden unit and step the products' sum G, biases 2G (when present) and the cell's elementwise ops."""

    def cost(node, ins, env) -> Cost:
        a = node.attrs
        x = sizes(ins[0], env)
        B, T = (x[0], x[1]) if a.batch_first else (x[1], x[0])
        dirs = 2 if a.bidirectional else 1
        Hd = a.hidden
        G = _GATES[op] * Hd
        macs = 0
        for layer in range(a.layers):
            fin = x[2] if layer == 0 else Hd * dirs
            macs += dirs * B * T * G * (fin + Hd)
        cell = _CELL_FLOPS[op] if op in _CELL_FLOPS else _ACT[getattr(a, "nonlinearity", "tanh")]
        other = a.layers * dirs * B * T * (G + (2 * G if a.bias else 0) + Hd * cell)
        return Cost(macs, 2 * macs + other, workspace=B * T * G * dirs)

    return cost


_DOCS = {
    "rnn": ("Elman RNN (tanh or relu)", "torch.nn.RNN", "(output, h_n)"),
    "lstm": ("LSTM", "torch.nn.LSTM", "(output, h_n, c_n)"),
    "gru": ("GRU", "torch.nn.GRU", "(output, h_n)"),
}
for _op, (_what, _torch, _outs) in _DOCS.items():
    register(
        _op,
        attrs=RNNAttrs if _op == "rnn" else RecurrentAttrs,
        infer=_infer(_op),
        params=_params(_op),
        lower=_lower(_op),
        cost=_cost(_op),
        family="recurrent",
        traits=Traits(weighted=True, width="hidden", width_dim=-1, positional=True),
        doc=f"Multi-layer {_what} with zero initial state; parameters exactly as {_torch} "
        "(weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, ..._reverse when bidirectional). "
        f"Multi-output {_outs}: refer to them as `node[0]`, `node[1]`"
        + (", `node[2]`" if _op == "lstm" else "") + ". `dropout` applies between layers (ignored with one layer).",
        shape_doc="[B, T, F] (batch_first; else [T, B, F]) -> output [B, T, hidden*dirs] ([T, B, ...]), "
        f"h_n{' and c_n' if _op == 'lstm' else ''} [layers*dirs, B, hidden] (dirs = 2 if bidirectional).",
        lowers_to=f"archc.ops._seqmodules.{_op.upper()} (a {_torch} returning a flat tuple)",
        example=f"{{op: {_op}, hidden: 6, layers: 2, bidirectional: true}}",
        example_inputs=[(2, 5, 4)],
    )
