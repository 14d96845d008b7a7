"""The op registry: one registration per op (attribute schema, shape rule, params, lowering, cost
rule, traits, doc).

Everything that lists ops (the JSON Schema, `archc ops`, docs, registry-parametrized tests) reads
this registry; nothing else lists ops by hand. Shape rules are pure Python; lowerings import torch
lazily, inside the function, so the front end stays torch-free.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence

from pydantic import BaseModel, ConfigDict

from archc.ir.dims import Dim
from archc.ir.types import ShapeError, TensorType
from archc.ops._cost import CostRule, Uncounted


class Attrs(BaseModel):
    """Base class of every op's attribute model. Unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, defer_build=True)


class NoAttrs(Attrs):
    pass


class InferContext(ABC):
    """What a shape rule may ask of the inference pass (implemented by `archc.elaborate.walk`).

    `require_equal` is how ops state facts such as "the two inputs of add have the same dims": the
    pass proves it symbolically, checks it at the example sizes, or records it as a derived
    constraint on the symbols (a U-Net's `H % 16 == 0`).
    """

    @abstractmethod
    def require_equal(self, a: Dim, b: Dim, what: str, inputs: tuple[int, int] | None = None) -> None:
        """Prove `a == b`, check it at the example sizes, or record it as a constraint."""

    @abstractmethod
    def example(self, d: Dim) -> int:
        """The value of a dim at the symbols' example sizes."""


def _always(attrs: Any) -> bool:
    return True


@dataclass(frozen=True)
class OnnxLimit:
    """One thing torch's ONNX exporter cannot write below `min_opset` (lint rule ARC501 reads these).

    `applies(attrs)` says whether this limit applies to a use of the op (`padding_mode: circular`);
    `inputs(types)` says whether it applies to the node's input types (`sdpa` on 5-D tensors).
    `attr` is the attribute the finding points at (None: the whole node). An op lists its limits
    most demanding first; lint reports the first one that applies and fails at `--opset`.
    """

    min_opset: int | None                        # None: no opset lifts it (e.g. a rank the exporter refuses)
    what: str                                    # "ONNX `Mish` needs opset 18"
    hint: str                                    # "export with --opset 18 or later"
    attr: str | None = None
    applies: Callable[[Any], bool] = _always
    inputs: Callable[[Any], bool] = _always      # applies to the node's input types (a list of TensorType)


ROLES = ("", "activation", "probability", "merge", "norm", "view", "pass")


@dataclass(frozen=True)
class Traits:
    """What the passes after shape inference need to know about an op, declared in its registration.

    Every consumer reads `OPS[node.op].traits.<field>`; none lists op names. The defaults describe
    an op that none of them treats specially (a plugin op that declares nothing).

    weighted     learned weights that count as a layer of depth (conv, linear, attention, recurrent;
                 not norms or embeddings). Read by lint ARC301 deep-plain-chain.
    width        the attribute that is the op's output width (`out`, `dim`, `hidden`), or None.
                 Read by lint ARC401 width-not-multiple-of-8.
    bias         the attribute that switches on a bias that a following batch norm cancels (`bias`
                 on conv and linear), or None. Read by lint ARC304 bias-before-batch-norm.
    width_dim    the dim of the output that `width` sizes: 1 for channels-first ops (conv), -1 for
                 ops on the last dim (linear). ARC304 uses it: batch norm normalises dim 1, so a
                 bias on dim -1 of a rank-3 output is not cancelled.
    role         what the op does to values, for rules that reason about chains of ops:
                 ""            none of the below;
                 "activation"  an elementwise nonlinearity (relu, gelu, ...; not softmax). ARC306
                               double-activation;
                 "probability" turns scores into a distribution (softmax). ARC307 softmax-on-logits;
                 "merge"       combines several inputs elementwise or by joining (add, mul, concat);
                 "norm"        normalises its input (batch/layer/group/instance/rms norm);
                 "view"        rearranges every element without changing it (reshape, flatten,
                               unflatten, permute, transpose);
                 "pass"        returns its input unchanged at inference (identity, dropout,
                               drop_path). ARC307 looks through these.
                 ARC401 treats activation, probability, view and pass ops after a layer as part of
                 an output head.
    positional   the op injects position (order) information into a sequence (positional
                 embeddings, recurrent layers, conv1d). Read by lint ARC309.
    attention    "layer" for a complete attention layer (projections and heads), "core" for the
                 scaled-dot-product kernel on given q, k, v, "" otherwise. ARC302 reads any
                 non-empty value; ARC309 and ARC310 reason about "layer".
    batch_stats  the op normalises with batch statistics (batch_norm). Read by ARC302-ARC305.
    vocab        the attribute that is a vocabulary size (embedding's `num`), or None. ARC310.
    aliases      the output is (a view of) input 0's storage: the static memory walk of
                 `archc profile` does not allocate for it (reshape, transpose, dropout in eval).
                 On an op with no input (`param`, `constant`), the output is the node's own
                 parameter or buffer, counted with the weights, not as an activation.
    inplace      the op may overwrite its first input when that is a temporary: codegen's in-place
                 pass (`archc.codegen.fx._in_place`) then calls the lowering's `Call.inplace`
                 instead of `Call.fn` (relu -> relu_, add -> +=).
    overwritable the op's output is a fresh tensor that it does not keep for the backward pass, so
                 a following in-place op may overwrite it (conv, linear, batch/layer/group/instance
                 norm, add). Read by the same pass.
    init         the spec's `init:` scheme applies to the op's weights: its params named `weight` or
                 ending in `.weight` (torch's name for a layer's weight), and under `bias: zeros`
                 the matching `bias`. Read by `archc.codegen.fx._initialise`.
    onnx         `OnnxLimit`s: what the ONNX exporter cannot write below some opset. Lint ARC501.
    picture      the colour family of the op's box in `archc graph` (`archc.draw.dot`); "" in a
                 registration means the op's `family`, which `register` fills in.
    """

    weighted: bool = False
    width: str | None = None
    bias: str | None = None
    width_dim: int = 1
    role: str = ""
    positional: bool = False
    attention: str = ""
    batch_stats: bool = False
    vocab: str | None = None
    aliases: bool = False
    inplace: bool = False
    overwritable: bool = False
    init: bool = False
    onnx: tuple[OnnxLimit, ...] = ()
    picture: str = ""

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"Traits.role must be one of {ROLES}, got {self.role!r}")
        if self.attention not in ("", "layer", "core"):
            raise ValueError(f"Traits.attention must be '', 'layer' or 'core', got {self.attention!r}")
        object.__setattr__(self, "onnx", tuple(self.onnx))


InferFn = Callable[[InferContext, Any, Sequence[TensorType]], Any]  # TensorType or list of them
ParamsFn = Callable[[Any, Sequence[TensorType]], dict[str, tuple[int, ...]]]
LowerFn = Callable[[Any, Sequence[TensorType], Any], Any]  # -> nn.Module | Call


@dataclass(frozen=True)
class OpDef:
    name: str
    attrs: type[Attrs]
    infer: InferFn
    lower: LowerFn
    doc: str
    example: str
    family: str
    arity: tuple[int, int | None] = (1, 1)      # min, max number of inputs (None: unbounded)
    params: ParamsFn | None = None               # static parameter shapes (name -> shape); None: no params
    buffers: ParamsFn | None = None              # static buffer shapes (running stats)
    shape_doc: str = ""                          # the shape rule in words
    lowers_to: str = ""                          # what it lowers to, e.g. "torch.nn.Conv2d"
    example_inputs: tuple[tuple[int, ...], ...] = ()  # input shapes for `example` (registry tests run them)
    example_dtypes: tuple[str, ...] = ()                 # input dtypes for `example` (default float32)
    example_ranges: tuple = ()                           # per input (low, high) for integer example inputs
    traits: Traits = Traits()                            # what lint, codegen, init, profile, graph read
    cost: CostRule | Uncounted | None = None             # MACs and FLOPs (archc.ops._cost); None: no rule
    # a number may stand for an operand in `from:` (`{op: mul, from: [x, 0.5]}`): the shape rule and
    # the lowering then see an `archc.ir.types.ScalarType` at its position, and codegen writes the
    # number as a constant argument at that position; ops without it refuse numbers (ARC102)
    scalars: bool = False


@dataclass(frozen=True)
class Call:
    """A lowering to a function call instead of a submodule (param-free ops such as add, relu).

    The graph node is `fn(*inputs, *extra_args, **kwargs)`, or `fn([inputs...], *extra_args, **kwargs)`
    with `pack_inputs` (torch.cat). Ops whose output differs between train and eval (dropout) must
    lower to modules instead, so `.eval()` reaches them.
    """

    fn: Callable
    kwargs: dict = field(default_factory=dict)
    extra_args: tuple = ()
    pack_inputs: bool = False
    # The in-place variant of `fn` (same arguments; overwrites and returns its first input), which
    # codegen's in-place pass may use for an op with `Traits.inplace` (relu: torch.relu_).
    inplace: Callable | None = None
    # Parameters owned by the node itself, for ops whose state_dict key is the node's own path
    # (torchvision's `class_token`, `encoder.pos_embedding`). The key "" registers the parameter AT
    # the node path; another key `k` registers it at `path.k`. Their values are passed to `fn` as
    # extra positional arguments after the inputs (before `extra_args`), in this dict's order.
    params: dict = field(default_factory=dict)
    # Buffers owned by the node itself (a `constant` op's table), named like `params` ("" is the
    # node path itself) and passed to `fn` after the params. `persistent=False` keeps them out of
    # the state_dict (as torch's `register_buffer(..., persistent=False)`).
    buffers: dict = field(default_factory=dict)
    persistent: bool = True


OPS: dict[str, OpDef] = {}


def register(
    name: str,
    *,
    attrs: type[Attrs] = NoAttrs,
    infer: InferFn,
    lower: LowerFn,
    doc: str,
    example: str,
    family: str,
    arity: tuple[int, int | None] = (1, 1),
    params: ParamsFn | None = None,
    buffers: ParamsFn | None = None,
    shape_doc: str = "",
    lowers_to: str = "",
    example_inputs: Sequence[Sequence[int]] = (),
    example_dtypes: Sequence[str] = (),
    example_ranges: Sequence = (),
    traits: Traits = Traits(),
    cost: CostRule | Uncounted | None = None,
    scalars: bool = False,
) -> OpDef:
    """Register an op. `lower(attrs, input_types, output_type)` returns an `nn.Module` or a `Call`;
    `infer(ctx, attrs, input_types)` returns the output TensorType (a list for multi-output ops);
    `traits` says what later passes need to know (see `Traits`); `cost(node, input_types, env)`
    returns its `Cost` (MACs, FLOPs) at concrete sizes, or `Uncounted(reason)` declares it is not
    counted (see `archc.ops._cost`)."""
    if name in OPS:
        raise ValueError(f"op {name!r} registered twice")
    if not traits.picture:
        traits = replace(traits, picture=family)
    op = OpDef(
        name, attrs, infer, lower, doc, example, family, arity, params, buffers, shape_doc, lowers_to,
        tuple(tuple(s) for s in example_inputs), tuple(example_dtypes), tuple(example_ranges), traits, cost, scalars,
    )
    OPS[name] = op
    return op


_loaded = False


def load_ops() -> dict[str, OpDef]:
    """Import the built-in op modules and the `archc.ops` entry-point plugins, once."""
    global _loaded
    if not _loaded:
        _loaded = True
        from archc.ops import _builtin  # noqa: F401  (registers on import)
        from archc.ops._plugins import load_plugins

        load_plugins()
    return OPS


def rank_error(op: str, expected: str, got: TensorType, index: int = 0) -> ShapeError:
    return ShapeError("ARC205", f"`{op}` expects {expected}, but input {index} has shape {got.shape_str()}")
