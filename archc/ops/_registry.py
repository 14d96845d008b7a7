"""The op registry: one registration per op (attribute schema, shape rule, params, lowering, doc).

Everything that lists ops (the JSON Schema, `archc ops`, docs, registry-parametrized tests) reads
this registry; nothing else lists ops by hand. Shape rules are pure Python; lowerings import torch
lazily, inside the function, so the front end stays torch-free.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from pydantic import BaseModel, ConfigDict

from archc.ir.dims import Dim
from archc.ir.types import ShapeError, TensorType


class Attrs(BaseModel):
    """Base class of every op's attribute model. Unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, defer_build=True)


class NoAttrs(Attrs):
    pass


class InferContext(ABC):
    """What a shape rule may ask of the inference pass (implemented by `archc.ir.expand`).

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
    meta: dict = field(default_factory=dict)


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
    # Parameters owned by the node itself, for ops whose state_dict key is the node's own path
    # (torchvision's `class_token`, `encoder.pos_embedding`). The key "" registers the parameter AT
    # the node path; another key `k` registers it at `path.k`. Their values are passed to `fn` as
    # extra positional arguments after the inputs (before `extra_args`), in this dict's order.
    params: dict = field(default_factory=dict)


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
) -> OpDef:
    """Register an op. `lower(attrs, input_types, output_type)` returns an `nn.Module` or a `Call`;
    `infer(ctx, attrs, input_types)` returns the output TensorType (a list for multi-output ops)."""
    if name in OPS:
        raise ValueError(f"op {name!r} registered twice")
    op = OpDef(
        name, attrs, infer, lower, doc, example, family, arity, params, buffers, shape_doc, lowers_to,
        tuple(tuple(s) for s in example_inputs), tuple(example_dtypes), tuple(example_ranges),
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
