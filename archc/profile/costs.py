"""Cost rules: what one node of the IR costs, per op, evaluated at concrete symbol sizes.

One registration per op or op family::

    @cost("conv1d", "conv2d", "conv3d")
    def _(node, in_types, env) -> Cost: ...

`in_types` are the node's (symbolic) input types and `env` binds every symbol to an int, so a rule
reads sizes with `shape(t, env)` / `numel(t, env)`. An op that is deliberately not counted is
declared with `uncounted(name, reason)`; an op with neither (a plugin op) is reported by
`archc profile` as uncounted, with the share of the nodes it makes up. Nothing is silently zero.
A registry test fails if a registered op has neither a rule nor a declaration.

Convention (the `convention` of `archc profile --json`, inference / eval mode, per forward pass)
--------------------------------------------------------------------------------------------------

MACs count multiply-accumulates of the contractions only:

* convolution: out_elems * (C_in / groups) * prod(kernel) (stride and dilation enter through
  out_elems); transposed convolution: in_elems * (C_out / groups) * prod(kernel);
  patch_embedding is a convolution with kernel = stride = patch.
* linear: out_elems * in_features; matmul: out_elems * k (k the contracted dim); batched and
  broadcast operands follow the output's shape.
* attention: its projections (q, k, v or the packed qkv; out) plus Q K^T and A V:
  2 * B * T * S * D for the two products (D = heads * head_dim); sdpa the same over its
  own q [.., T, E], k [.., S, E], v [.., S, Ev]: batch * T * S * (E + Ev).
* rnn / lstm / gru: per layer, direction, step and sample G * H * (F_in + H) with G = 1, 4, 3 gates.

FLOPs = 2 * MACs + the other arithmetic, per element of the tensor named:

* bias of conv / linear / projections: 1 per output element.
* activations (per element): relu 1, leaky_relu 2, sigmoid 4 (neg, exp, add, reciprocal),
  tanh 4, silu 5, gelu 8 (either approximation), hardswish 5, mish 8; softmax 5 (max, subtract,
  exp, sum, divide).
* attention scores: scale 1, softmax 5, an explicit mask 1, per (query, key) pair and head;
  bias adds of the projections. Recurrent cells, per hidden unit and step: the two matrix
  products' sum G, biases 2G (when present); rnn tanh 4 (relu 1); lstm 3 sigmoids + 2 tanh + 4 = 24;
  gru 2 sigmoids + 1 tanh + 5 = 17.
* norms (per element of the input): batch_norm 2 (eval: folded scale and shift); layer_norm,
  group_norm, instance_norm 5 (mean, subtract, square, sum, normalise) + 1 per affine weight and
  bias; rms_norm 3 + 1 for the weight.
* pooling: max_pool prod(kernel) - 1 comparisons and avg_pool prod(kernel) (adds and a divide) per
  output element; adaptive avg: in_elems + out_elems, adaptive max: in_elems - out_elems (exact
  when the windows do not overlap).
* elementwise add / mul: (inputs - 1) per output element; mean: 1 per input element;
  pos_embedding_param: 1 per element (its add); sinusoidal positional_embedding: 2 per element.
* interpolation, per output element: nearest 0, linear 3, bilinear 7, trilinear 15, bicubic 31.
* data movement costs 0: reshape, permute, transpose, flatten, unflatten, split, concat, select,
  slice, identity, embedding lookups, class_token, and dropout / drop_path (identity in eval).

Dense counts are the headline. Causal attention (and sdpa) also has the exact count over the
allowed (query, key) pairs only, sum over t of min(t + 1, S) (top-left aligned): `macs_causal`,
`flops_causal`; for every other op these equal the dense counts.

`view` ops return (a view of) their input's storage; the static memory walk does not allocate for
them. `workspace` is the elements an op holds transiently besides its output (attention's q, k, v
and merged heads; a recurrent layer's gates); attention scores are not counted, since the fused
SDPA kernels do not materialise them.
"""
from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import Any, Callable, Mapping, Sequence

from archc.ir.dims import evaluate
from archc.ir.types import TensorType

__all__ = ["Cost", "CostRule", "COSTS", "UNCOUNTED", "cost", "uncounted", "shape", "numel", "rule_for",
           "ACTIVATION_FLOPS", "CONVENTION"]

CONVENTION = {
    "version": 1,
    "mode": "inference (eval mode), one forward pass, at the symbols' sizes",
    "macs": "multiply-accumulates of convolutions, linear, matmul, attention (projections, QK^T, AV), "
    "sdpa and recurrent cells",
    "flops": "2 * MACs + other arithmetic by documented per-op rules (biases, activations, softmax, norms, "
    "pooling, elementwise ops, interpolation); data movement is 0",
    "flops_causal": "as flops, with causal attention counted over the allowed (query, key) pairs only",
    "activations_per_element": None,  # filled below
    "memory": "static peak = weights + buffers + the peak of live activations over a liveness walk of the "
    "IR's topological order (inputs live throughout, views share their input's storage, op workspaces "
    "counted while the op runs)",
    "docs": "archc.profile.costs module docstring; `archc profile --help`",
}


@dataclass(frozen=True)
class Cost:
    macs: int = 0
    flops: int = 0
    macs_causal: int | None = None     # None: same as macs
    flops_causal: int | None = None    # None: same as flops
    workspace: int = 0                 # transient elements besides the outputs

    @property
    def mc(self) -> int:
        return self.macs if self.macs_causal is None else self.macs_causal

    @property
    def fc(self) -> int:
        return self.flops if self.flops_causal is None else self.flops_causal


RuleFn = Callable[[Any, Sequence[TensorType], Mapping[str, int]], Cost]


@dataclass(frozen=True)
class CostRule:
    op: str
    fn: RuleFn
    view: bool = False     # output aliases input 0's storage


COSTS: dict[str, CostRule] = {}
UNCOUNTED: dict[str, str] = {}    # op -> why it is not counted


def cost(*ops: str, view: bool = False) -> Callable[[RuleFn], RuleFn]:
    """Register `fn(node, in_types, env) -> Cost` as the cost rule of `ops`."""

    def deco(fn: RuleFn) -> RuleFn:
        for op in ops:
            if op in COSTS or op in UNCOUNTED:
                raise ValueError(f"cost rule for {op!r} registered twice")
            COSTS[op] = CostRule(op, fn, view)
        return fn

    return deco


def uncounted(op: str, reason: str) -> None:
    """Declare that `op` is deliberately not counted (it is reported as uncounted, with `reason`)."""
    if not reason:
        raise ValueError("uncounted() needs a reason")
    if op in COSTS or op in UNCOUNTED:
        raise ValueError(f"cost rule for {op!r} registered twice")
    UNCOUNTED[op] = reason


def rule_for(op: str) -> CostRule | None:
    return COSTS.get(op)


def shape(t: TensorType, env: Mapping[str, int]) -> tuple[int, ...]:
    return tuple(evaluate(d, env) for d in t.shape)


def numel(t: TensorType, env: Mapping[str, int]) -> int:
    return prod(shape(t, env))


def _out_elems(node: Any, env: Mapping[str, int]) -> int:
    return sum(numel(t, env) for t in node.outputs)


def _tuple(v: Any, n: int) -> tuple[int, ...]:
    return (v,) * n if isinstance(v, int) else tuple(v)


# ---------------------------------------------------------------------------------------------
# Convolutions, linear, matmul
# ---------------------------------------------------------------------------------------------


def _conv_nd(op: str) -> int:
    return int(op[-2])


@cost("conv1d", "conv2d", "conv3d")
def _conv(node, ins, env) -> Cost:
    a = node.attrs
    nd = _conv_nd(node.op)
    out = numel(node.out, env)
    cin = evaluate(ins[0].shape[1], env)
    macs = out * (cin // a.groups) * prod(_tuple(a.kernel, nd))
    return Cost(macs, 2 * macs + (out if a.bias else 0))


@cost("conv_transpose1d", "conv_transpose2d", "conv_transpose3d")
def _conv_t(node, ins, env) -> Cost:
    a = node.attrs
    nd = _conv_nd(node.op)
    macs = numel(ins[0], env) * (a.out // a.groups) * prod(_tuple(a.kernel, nd))
    out = numel(node.out, env)
    return Cost(macs, 2 * macs + (out if a.bias else 0))


@cost("patch_embedding")
def _patch(node, ins, env) -> Cost:
    a = node.attrs
    out = numel(node.out, env)
    macs = out * evaluate(ins[0].shape[1], env) * a.patch * a.patch
    return Cost(macs, 2 * macs + (out if a.bias else 0))


@cost("linear")
def _linear(node, ins, env) -> Cost:
    out = numel(node.out, env)
    macs = out * evaluate(ins[0].shape[-1], env)
    return Cost(macs, 2 * macs + (out if node.attrs.bias else 0))


@cost("matmul")
def _matmul(node, ins, env) -> Cost:
    macs = numel(node.out, env) * evaluate(ins[0].shape[-1], env)
    return Cost(macs, 2 * macs)


# ---------------------------------------------------------------------------------------------
# Attention
# ---------------------------------------------------------------------------------------------

SOFTMAX = 5


def causal_pairs(T: int, S: int) -> int:
    """(query, key) pairs a causal mask allows, top-left aligned: sum over t < T of min(t + 1, S)."""
    n = min(T, S)
    return n * (n + 1) // 2 + max(0, T - S) * S


@cost("attention")
def _attention(node, ins, env) -> Cost:
    a = node.attrs
    x = shape(ins[0], env)
    B, T, D = x
    packed = getattr(a, "packed", True)
    cross = len(ins) >= 2 and not packed
    mem = shape(ins[1], env) if cross else x
    S, Dm = mem[1], mem[2]
    H = a.heads
    mask = len(ins) == 3
    if packed:
        proj = B * T * D * 3 * D
        bias = B * T * 3 * D
    else:
        proj = B * T * D * D + 2 * B * S * Dm * D
        bias = B * T * D + 2 * B * S * D
    if a.out_proj:
        proj += B * T * D * D
        bias += B * T * D
    if not a.bias:
        bias = 0
    per_pair = 1 + SOFTMAX + (1 if mask else 0)

    def total(pairs: int) -> tuple[int, int]:
        macs = proj + 2 * B * pairs * D
        return macs, 2 * macs + bias + B * H * pairs * per_pair

    macs, flops = total(T * S)
    mc, fc = total(causal_pairs(T, S)) if a.causal else (None, None)
    workspace = B * T * D + 2 * B * S * D + B * T * D  # q, k, v and the merged heads
    return Cost(macs, flops, mc, fc, workspace)


@cost("sdpa")
def _sdpa(node, ins, env) -> Cost:
    q, k, v = (shape(t, env) for t in ins[:3])
    batch = prod(q[:-2])
    T, E, S, Ev = q[-2], q[-1], k[-2], v[-1]
    per_pair = 1 + SOFTMAX + (1 if len(ins) == 4 else 0)

    def total(pairs: int) -> tuple[int, int]:
        macs = batch * pairs * (E + Ev)
        return macs, 2 * macs + batch * pairs * per_pair

    macs, flops = total(T * S)
    mc, fc = total(causal_pairs(T, S)) if node.attrs.causal else (None, None)
    return Cost(macs, flops, mc, fc)


# ---------------------------------------------------------------------------------------------
# Recurrent
# ---------------------------------------------------------------------------------------------

ACTIVATION_FLOPS = {
    "relu": 1, "leaky_relu": 2, "sigmoid": 4, "tanh": 4, "silu": 5, "gelu": 8, "hardswish": 5,
    "mish": 8, "softmax": SOFTMAX,
}
CONVENTION["activations_per_element"] = dict(ACTIVATION_FLOPS)
_GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def _cell_flops(op: str, a: Any) -> int:
    """Elementwise FLOPs per hidden unit and step, besides the products, their sum and the biases."""
    if op == "lstm":
        return 3 * ACTIVATION_FLOPS["sigmoid"] + 2 * ACTIVATION_FLOPS["tanh"] + 4
    if op == "gru":
        return 2 * ACTIVATION_FLOPS["sigmoid"] + ACTIVATION_FLOPS["tanh"] + 5
    return ACTIVATION_FLOPS["relu" if getattr(a, "nonlinearity", "tanh") == "relu" else "tanh"]


@cost("rnn", "lstm", "gru")
def _recurrent(node, ins, env) -> Cost:
    a = node.attrs
    x = shape(ins[0], env)
    B, T = (x[0], x[1]) if a.batch_first else (x[1], x[0])
    F = x[2]
    dirs = 2 if a.bidirectional else 1
    Hd = a.hidden
    G = _GATES[node.op] * Hd
    macs = 0
    for layer in range(a.layers):
        fin = F if layer == 0 else Hd * dirs
        macs += dirs * B * T * G * (fin + Hd)
    steps = a.layers * dirs * B * T
    other = steps * (G + (2 * G if a.bias else 0) + Hd * _cell_flops(node.op, a))
    return Cost(macs, 2 * macs + other, workspace=B * T * G * dirs)


# ---------------------------------------------------------------------------------------------
# Activations, norms, pooling, elementwise, resize
# ---------------------------------------------------------------------------------------------


def _act_rule(op: str) -> None:
    per = ACTIVATION_FLOPS[op]

    @cost(op)
    def _(node, ins, env) -> Cost:
        return Cost(0, per * numel(node.out, env))


for _op in ACTIVATION_FLOPS:
    _act_rule(_op)


@cost("batch_norm")
def _bn(node, ins, env) -> Cost:
    return Cost(0, 2 * numel(ins[0], env))


@cost("layer_norm")
def _ln(node, ins, env) -> Cost:
    a = node.attrs
    per = 5 + ((1 + (1 if a.bias else 0)) if a.elementwise_affine else 0)
    return Cost(0, per * numel(ins[0], env))


@cost("group_norm", "instance_norm")
def _gn(node, ins, env) -> Cost:
    return Cost(0, (5 + (2 if node.attrs.affine else 0)) * numel(ins[0], env))


@cost("rms_norm")
def _rms(node, ins, env) -> Cost:
    return Cost(0, (3 + (1 if node.attrs.elementwise_affine else 0)) * numel(ins[0], env))


def _window(node) -> int:
    nd = int(node.op[-2])
    return prod(_tuple(node.attrs.kernel, nd))


@cost("max_pool1d", "max_pool2d", "max_pool3d")
def _maxpool(node, ins, env) -> Cost:
    return Cost(0, (_window(node) - 1) * numel(node.out, env))


@cost("avg_pool1d", "avg_pool2d", "avg_pool3d")
def _avgpool(node, ins, env) -> Cost:
    return Cost(0, _window(node) * numel(node.out, env))


@cost("adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d")
def _aavg(node, ins, env) -> Cost:
    return Cost(0, numel(ins[0], env) + numel(node.out, env))


@cost("adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d")
def _amax(node, ins, env) -> Cost:
    return Cost(0, max(0, numel(ins[0], env) - numel(node.out, env)))


@cost("add", "mul")
def _elementwise(node, ins, env) -> Cost:
    return Cost(0, (len(ins) - 1) * numel(node.out, env))


@cost("mean")
def _mean(node, ins, env) -> Cost:
    return Cost(0, numel(ins[0], env))


_INTERP = {"nearest": 0, "nearest-exact": 0, "linear": 3, "bilinear": 7, "trilinear": 15, "bicubic": 31}


@cost("upsample", "interpolate")
def _resize(node, ins, env) -> Cost:
    return Cost(0, _INTERP[node.attrs.mode] * numel(node.out, env))


@cost("pos_embedding_param")
def _pep(node, ins, env) -> Cost:
    return Cost(0, numel(node.out, env))


@cost("positional_embedding")
def _posemb(node, ins, env) -> Cost:
    return Cost(0, 2 * numel(node.out, env) if node.attrs.kind == "sinusoidal" else 0)


# ---------------------------------------------------------------------------------------------
# Data movement: no arithmetic
# ---------------------------------------------------------------------------------------------


def _zero(node, ins, env) -> Cost:
    return Cost()


cost("concat", "embedding", "class_token")(_zero)
cost("reshape", "permute", "transpose", "flatten", "unflatten", "split", "select", "slice", "identity",
     "dropout", "drop_path", view=True)(_zero)
