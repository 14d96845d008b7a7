"""The spec language v1 as pydantic v2 models (`extra="forbid"`, discriminated unions on `op`).

These models validate the *raw* spec, where any value may still be a `${...}` expression. Each op's
raw model is derived from its registered attribute model, with every field widened to accept an
expression; after expansion the evaluated attributes are validated again by the strict model.
The JSON Schema for editors is generated from `Spec` (see `archc.spec.schema`).
"""
from __future__ import annotations

import typing
from functools import lru_cache
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, create_model
from pydantic.fields import FieldInfo

from archc.ir.types import DTYPES

FORMAT_VERSION = 1
ID_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"

Expr = Annotated[str, Field(pattern=r"\$\{", description="a ${...} expression")]
Dtype = Literal[DTYPES]  # type: ignore[valid-type]
Ref = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.]*(\[[0-9]+\])?$", description="a node or input id")]
# an operand of an elementwise op in `from:` that is a number (`from: [x, 0.5]`), or an expression
# that gives one (`from: [x, "${eps}"]`); the ops that take numbers say so (`OpDef.scalars`)
Operand = Union[Ref, Annotated[Union[int, float], Field(description="a number operand (elementwise ops)")], Expr]


class Strict(BaseModel):
    # defer_build: a model's validator is built on first use, so reading a spec builds only the
    # models of the ops it uses (start-up time matters to `archc lint`)
    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True, defer_build=True)


class NodeCommon(Strict):
    """Keys every node may carry, whatever it is."""

    from_: Optional[Union[Ref, list[Operand]]] = Field(
        None, alias="from", description="input node(s); default: the previous node. Elementwise ops (add, sub, mul, "
        "div, pow, ...) also take numbers and ${...} expressions that give numbers: `from: [x, 0.5]`"
    )
    when: Optional[Union[bool, Expr]] = Field(
        None, description="condition; an absent node stands for its input"
    )
    repeat: Optional[Union[int, Expr]] = Field(
        None, description="repeat the node N times in sequence; the index `i` is visible in its args"
    )
    repeat_names: Optional[str] = Field(
        None, description="with `repeat`: the name of repetition `i`, an identifier (\"encoder_layer_${i}\") or "
        "a non-negative integer (\"${i + 1}\" starts the numbering at 1); default: the index"
    )
    doc: Optional[str] = None


class SeqNodeLight(NodeCommon):
    """An inline sequence, its items validated one by one (see `archc.spec.load`)."""

    seq: list[Any] = Field(description="an inline sequence; its nodes are named 0, 1, 2, ...")


class BlockCall(NodeCommon):
    block: str = Field(description="name of a block defined in `blocks:` or imported")
    args: dict[str, Any] = Field(default_factory=dict, description="values for the block's params")


def _widen(ann: Any) -> Any:
    """T -> Union[T, Expr], recursively inside lists, so every value may be a ${...} expression."""
    origin = typing.get_origin(ann)
    if origin in (list, tuple):
        (arg, *_) = typing.get_args(ann) or (Any,)
        return Union[list[_widen(arg)], Expr]
    if origin is Union or origin is getattr(__import__("types"), "UnionType", None):
        return Union[tuple(_widen(a) for a in typing.get_args(ann)) + (Expr,)]
    if origin is Annotated:
        return _widen(typing.get_args(ann)[0])
    return Union[ann, Expr]


@lru_cache(maxsize=None)
def raw_op_model(op_name: str) -> type[BaseModel]:
    from archc.ops import OPS

    op = OPS[op_name]
    fields: dict[str, Any] = {"op": (Literal[op_name], Field(description=op.doc))}
    for name, info in op.attrs.model_fields.items():
        kw: dict[str, Any] = {"description": info.description} if info.description else {}
        if info.is_required():
            fields[name] = (_widen(info.annotation), FieldInfo(**kw))
        else:
            fields[name] = (_widen(info.annotation), FieldInfo(default=info.default, **kw))
    model = create_model(f"op_{op_name}", __base__=NodeCommon, **fields)
    model.__doc__ = op.doc
    return model


def _body_kind(v: Any) -> str | None:
    if isinstance(v, dict):
        for k in ("op", "block", "seq"):
            if k in v:
                return k
        return None
    for k in ("op", "block", "seq"):
        if hasattr(v, k):
            return k
    return None


class SymbolDef(Strict):
    """A named size. Fields may be ${...} expressions over the spec's params (`max: "${n_positions}"`)."""

    example: Union[Annotated[int, Field(gt=0)], Expr] = Field(description="the size used for checking, profiling and export examples")
    min: Union[Annotated[int, Field(ge=0)], Expr] = 1
    max: Union[Annotated[int, Field(ge=1)], Expr, None] = None
    multiple_of: Union[Annotated[int, Field(ge=1)], Expr] = 1
    doc: Optional[str] = None


class InputDef(Strict):
    shape: list[Union[int, str]] = Field(description="dims: integers or symbol names")
    dtype: Dtype = "float32"
    range: Optional[list[Union[int, Expr]]] = Field(
        None, min_length=2, max_length=2,
        description="[low, high): the values of example inputs of an integer dtype (token ids: [0, vocab])",
    )
    doc: Optional[str] = None


class WeightRename(Strict):
    pattern: str = Field(description="a regular expression over the reference's state_dict keys")
    to: str = Field(description="the replacement (\\1 for groups)")


class WeightJoin(Strict):
    sources: list[str] = Field(alias="from", description="reference keys (after renames) concatenated in this order")
    into: str = Field(description="the spec's key; `*` in keys matches one path segment, consistently")
    dim: int = 0


class WeightSplit(Strict):
    source: str = Field(alias="from", description="a reference key (after renames)")
    into: list[str] = Field(description="the spec's keys, split in equal parts in this order")
    dim: int = 0


class WeightMapping(Strict):
    """How a reference implementation's state_dict keys become this spec's keys."""

    rename: list[WeightRename] = Field(default_factory=list)
    transpose: list[str] = Field(default_factory=list, description="glob patterns of the spec's keys stored transposed by the reference")
    join: list[WeightJoin] = Field(default_factory=list)
    split: list[WeightSplit] = Field(default_factory=list)
    ignore: list[str] = Field(default_factory=list, description="glob patterns of reference keys with no counterpart (e.g. constant buffers)")
    reshape: list[str] = Field(default_factory=list, description="glob patterns of the spec's keys whose value the reference "
                               "stores in another shape of as many elements ([C, 1, 1] for the spec's [C, 1, 1, 1])")
    frozen: list[str] = Field(default_factory=list, description="glob patterns of reference keys (as it names them, or "
                              "after `rename`) of parameters that do not train: mapped and counted, their gradients not "
                              "compared (parameters with requires_grad=False are found without this)")
    unused: list[str] = Field(default_factory=list, description="glob patterns of reference keys of parameters its forward "
                              "never reads and the spec does not have: left out of the mapping, the parameter count and "
                              "the gradients (the compare report lists them)")


class ReferenceDef(Strict):
    """The reference implementation this spec reproduces (used by `archc compare` and weights loading)."""

    against: Optional[str] = Field(None, description="default REF of `archc compare`: torchvision:NAME, timm:NAME, transformers:CLASS, diffusers:CLASS")
    config: dict[str, Any] = Field(default_factory=dict, description="the reference's config / constructor arguments (expressions over params)")
    inputs: dict[str, Optional[str]] = Field(default_factory=dict, description="spec input -> the reference's keyword argument, or null: not passed to the reference (default: positional, in order)")
    outputs: dict[str, Union[str, int]] = Field(default_factory=dict, description="spec output -> the reference's output field or index")
    weights: WeightMapping = Field(default_factory=WeightMapping)


OutputKind = Literal["logits", "probabilities", "features", "embeddings", "hidden", "mask", "loss", "image", "regression"]


class OutputDef(Strict):
    from_: Ref = Field(alias="from")
    kind: Optional[OutputKind] = None
    doc: Optional[str] = None


ParamType = Literal["int", "float", "bool", "str", "list", "any"]


class ParamSpec(Strict):
    type: ParamType = "any"
    default: Any = None
    doc: Optional[str] = None


class InitDef(Strict):
    seed: int = Field(0, ge=0, description="same spec + seed = bit-identical weights")
    scheme: Literal["torch", "kaiming_normal", "kaiming_uniform", "xavier_uniform", "xavier_normal", "normal", "trunc_normal"] = Field(
        "torch", description="weight init of conv/linear/embedding weights; `torch` keeps each module's default"
    )
    std: float = Field(0.02, gt=0, description="std of `normal` / `trunc_normal`")
    bias: Literal["torch", "zeros"] = "torch"


class TieDef(Strict):
    param: str = Field(description="parameter path that becomes shared, e.g. lm_head.weight")
    to: str = Field(description="parameter path it shares storage with, e.g. wte.weight")


class BlockDef(Strict):
    doc: Optional[str] = None
    params: dict[str, Union[ParamSpec, Any]] = Field(
        default_factory=dict,
        description="name: a type (int, float, bool, str, list, any) for a required param, a default value, or {type, default, doc}",
    )
    inputs: list[Annotated[str, Field(pattern=ID_PATTERN)]] = Field(default_factory=lambda: ["x"])
    layers: list[dict[str, Any]]
    output: Optional[Ref] = None


class BudgetDef(Strict):
    """Limits `archc profile` checks; exceeding one exits 1 (ARC610-ARC613) pointing here.
    Counts take SI suffixes as strings ("25M", "8G"); memory takes bytes ("2GB", "512MiB")."""

    max_params: Optional[Union[Annotated[int, Field(ge=0)], Annotated[str, Field(pattern=r"^\s*[0-9]+(\.[0-9]*)?([eE][+-]?[0-9]+)?\s*[kKMGTP]?\s*$")]]] = Field(
        None, description="largest parameter count (tied parameters once), e.g. 30000000 or \"30M\"")
    max_flops: Optional[Union[Annotated[float, Field(ge=0)], Annotated[str, Field(pattern=r"^\s*[0-9]+(\.[0-9]*)?([eE][+-]?[0-9]+)?\s*[kKMGTP]?\s*$")]]] = Field(
        None, description="largest dense FLOPs of one forward pass at the symbols' example sizes, e.g. 8.5e9 or \"8.5G\"")
    max_memory: Optional[Union[Annotated[int, Field(ge=0)], Annotated[str, Field(pattern=r"^\s*[0-9]+(\.[0-9]*)?\s*([KMGTPkmgtp][iI]?)?[bB]?\s*$")]]] = Field(
        None, description="largest memory in bytes (\"2GB\", \"512MiB\"): the static estimate (weights + peak live "
        "activations), and the measured peak when profiling on a device")
    max_latency_ms: Optional[Annotated[float, Field(gt=0)]] = Field(
        None, description="largest median latency of one forward pass, in milliseconds (checked when measuring)")


class SpecBase(Strict):
    archc: Literal[1] = Field(description="format version")
    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$")
    doc: Optional[str] = None
    extends: Optional[str] = Field(
        None, description="another spec (same folder or lib/) this one specialises: it may then set only name, doc, params and variant"
    )
    variant: Optional[str] = Field(None, description="the variant used when --variant is not given")
    imports: list[str] = Field(default_factory=list, description="block libraries by name: lib/NAME.yaml beside the spec")
    params: dict[Annotated[str, Field(pattern=ID_PATTERN)], Any] = Field(default_factory=dict)
    variants: dict[str, dict[str, Any]] = Field(default_factory=dict)
    symbols: dict[Annotated[str, Field(pattern=ID_PATTERN)], SymbolDef] = Field(default_factory=dict)
    inputs: dict[Annotated[str, Field(pattern=ID_PATTERN)], InputDef] = Field(default_factory=dict)
    blocks: dict[Annotated[str, Field(pattern=ID_PATTERN)], BlockDef] = Field(default_factory=dict)
    layers: list[dict[str, Any]] = Field(default_factory=list)
    outputs: dict[Annotated[str, Field(pattern=ID_PATTERN)], Union[Ref, OutputDef]] = Field(default_factory=dict)
    init: InitDef = Field(default_factory=InitDef)
    ties: list[TieDef] = Field(default_factory=list)
    reference: Optional[ReferenceDef] = None
    budget: Optional[BudgetDef] = Field(None, description="limits `archc profile` checks (parameters, FLOPs, memory, latency)")


@lru_cache(maxsize=None)
def build_models() -> tuple[type[BaseModel], type[BaseModel], Any]:
    """The full models with node bodies typed by the op registry: (Spec, BlockDef, NodeBody)."""
    from archc.ops import load_ops

    ops = load_ops()
    op_models = tuple(raw_op_model(n) for n in sorted(ops))
    op_union = Annotated[Union[op_models], Field(discriminator="op")]  # type: ignore[valid-type]
    seq_model = create_model(
        "SeqNode", __base__=NodeCommon,
        seq=(list["NodeBody"], Field(description="an inline sequence; its nodes are named 0, 1, 2, ...")),
    )
    body = Annotated[
        Union[
            Annotated[op_union, Tag("op")],
            Annotated[BlockCall, Tag("block")],
            Annotated[seq_model, Tag("seq")],
        ],
        Discriminator(_body_kind, custom_error_type="node_kind", custom_error_message="a node needs `op`, `block` or `seq`"),
    ]
    seq_model.model_rebuild(_types_namespace={"NodeBody": body})
    entry = Annotated[dict[Annotated[str, Field(pattern=ID_PATTERN)], body], Field(min_length=1, max_length=1)]
    block = create_model("BlockDef", __base__=BlockDef, layers=(list[entry], ...))
    spec = create_model(
        "Spec", __base__=SpecBase,
        blocks=(dict[Annotated[str, Field(pattern=ID_PATTERN)], block], Field(default_factory=dict)),
        layers=(list[entry], Field(default_factory=list)),
    )
    return spec, block, body
