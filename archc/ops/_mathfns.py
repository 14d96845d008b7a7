"""Small torch functions that the math and activation lowerings call (imported only inside lowerings).

Importable by their qualified names and typed for torch.jit.script, so a GraphModule that calls
them can be regenerated, pickled, scripted and exported; `archc build --emit source` copies them.
"""
from __future__ import annotations

from typing import Union

import torch

# The `*_scalar_first` functions take a number operand before the tensor (`from: [0, x]`): torch's
# own functions want the tensor first. `Union[int, float]` lets torch.jit.script pass either.


def cast(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """`x` converted to `dtype` (op `cast`)."""
    return x.to(dtype)


def maximum_scalar_first(s: Union[int, float], x: torch.Tensor) -> torch.Tensor:
    """maximum(number, tensor): torch.maximum takes tensors only, torch.clamp_min the tensor first."""
    return torch.clamp_min(x, s)


def minimum_scalar_first(s: Union[int, float], x: torch.Tensor) -> torch.Tensor:
    """minimum(number, tensor), as `maximum_scalar_first`."""
    return torch.clamp_max(x, s)


def eq_scalar_first(s: Union[int, float], x: torch.Tensor) -> torch.Tensor:
    """number == tensor."""
    return torch.eq(x, s)


def ne_scalar_first(s: Union[int, float], x: torch.Tensor) -> torch.Tensor:
    """number != tensor."""
    return torch.ne(x, s)


def lt_scalar_first(s: Union[int, float], x: torch.Tensor) -> torch.Tensor:
    """number < tensor, which is tensor > number."""
    return torch.gt(x, s)


def le_scalar_first(s: Union[int, float], x: torch.Tensor) -> torch.Tensor:
    """number <= tensor, which is tensor >= number."""
    return torch.ge(x, s)


def gt_scalar_first(s: Union[int, float], x: torch.Tensor) -> torch.Tensor:
    """number > tensor, which is tensor < number."""
    return torch.lt(x, s)


def ge_scalar_first(s: Union[int, float], x: torch.Tensor) -> torch.Tensor:
    """number >= tensor, which is tensor <= number."""
    return torch.le(x, s)


def quick_gelu(x: torch.Tensor) -> torch.Tensor:
    """x * sigmoid(1.702 x): the GELU approximation of OpenAI's CLIP (transformers' `quick_gelu`)."""
    return x * torch.sigmoid(1.702 * x)
