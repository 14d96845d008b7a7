"""Torch functions that the reduction, indexing and layout lowerings call (imported only inside
lowerings). Importable by qualified name, so generated modules can be regenerated and exported."""
from __future__ import annotations

from typing import List

import torch


def prod_dims(x: torch.Tensor, dims: List[int], keepdim: bool) -> torch.Tensor:
    """The product over several dims (torch.prod takes one); `dims` non-negative and descending,
    so that removing one does not move the next."""
    for d in dims:
        x = torch.prod(x, d, keepdim=keepdim)
    return x


def take_along(x: torch.Tensor, index: torch.Tensor, dim: int) -> torch.Tensor:
    """One position of dim `dim` per row of the dims before it: `x[arange(B), index]` for dim 1
    (CLIP's pooled end-of-text token). `index` has shape x.shape[:dim]; the dim is removed."""
    idx = index.to(torch.int64).reshape(list(index.shape) + [1] * (x.dim() - dim))
    shape = list(x.shape)
    shape[dim] = 1
    return torch.gather(x, dim, idx.expand(shape)).squeeze(dim)


def index_select_list(x: torch.Tensor, dim: int, index: List[int]) -> torch.Tensor:
    """torch.index_select with a constant list of indices (negative ones count from the end)."""
    n = x.size(dim)
    idx = torch.tensor([i % n for i in index], dtype=torch.int64, device=x.device)
    return torch.index_select(x, dim, idx)


def expand_to(x: torch.Tensor, sizes: List[int]) -> torch.Tensor:
    """torch.Tensor.expand as a function (-1 keeps a dim)."""
    return x.expand(sizes)


def gather(x: torch.Tensor, index: torch.Tensor, dim: int) -> torch.Tensor:
    """torch.gather with the tensors first (the graph passes inputs before attributes)."""
    return torch.gather(x, dim, index)


def index_select(x: torch.Tensor, index: torch.Tensor, dim: int) -> torch.Tensor:
    """torch.index_select with the tensors first (the graph passes inputs before attributes)."""
    return torch.index_select(x, dim, index)


def einsum(operands: List[torch.Tensor], equation: str) -> torch.Tensor:
    """torch.einsum with the operands first (the graph passes inputs before attributes)."""
    return torch.einsum(equation, operands)
