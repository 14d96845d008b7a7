"""Small torch functions that the math and activation lowerings call (imported only inside lowerings).

Importable by their qualified names and typed for torch.jit.script, so a GraphModule that calls
them can be regenerated, pickled, scripted and exported; `archc build --emit source` copies them.
"""
from __future__ import annotations

import torch


def cast(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """`x` converted to `dtype` (op `cast`)."""
    return x.to(dtype)


def maximum_scalar_first(s: float, x: torch.Tensor) -> torch.Tensor:
    """maximum(number, tensor): torch.maximum takes tensors only, torch.clamp_min the tensor first."""
    return torch.clamp_min(x, s)


def minimum_scalar_first(s: float, x: torch.Tensor) -> torch.Tensor:
    """minimum(number, tensor), as `maximum_scalar_first`."""
    return torch.clamp_max(x, s)


def quick_gelu(x: torch.Tensor) -> torch.Tensor:
    """x * sigmoid(1.702 x): the GELU approximation of OpenAI's CLIP (transformers' `quick_gelu`)."""
    return x * torch.sigmoid(1.702 * x)
