"""Typed IR facts: the static type of a tensor edge (symbolic shape + dtype)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from archc.ir.dims import Dim, shape_str

DTYPES = ("float32", "float16", "bfloat16", "float64", "int64", "int32", "bool")
FLOAT_DTYPES = ("float32", "float16", "bfloat16", "float64")


@dataclass(frozen=True)
class TensorType:
    shape: tuple[Dim, ...]
    dtype: str = "float32"

    @property
    def rank(self) -> int:
        return len(self.shape)

    def shape_str(self) -> str:
        return shape_str(self.shape)

    def with_shape(self, shape: Sequence[Dim]) -> "TensorType":
        return TensorType(tuple(shape), self.dtype)

    def __str__(self) -> str:
        return f"{self.shape_str()} {self.dtype}"


@dataclass(frozen=True)
class ScalarType(TensorType):
    """A number written where a tensor may be (`from: [x, 0.5]`): a python scalar operand.

    Rank 0; `dtype` is the category torch gives a python number (int64 for an int, float32 for a
    float); `value` is the number, which lowering writes as a constant of the graph."""

    value: int | float = 0

    def __str__(self) -> str:
        return f"the number {self.value!r}"


def scalar_type(value: int | float) -> ScalarType:
    return ScalarType((), "int64" if isinstance(value, int) else "float32", value)


class ShapeError(Exception):
    """Raised by a shape rule. `input_index` names the input that is at fault, when one is."""

    def __init__(self, code: str, message: str, hint: str | None = None, input_index: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint
        self.input_index = input_index
