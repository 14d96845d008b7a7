"""Small torch modules and functions that lowerings use (imported only inside lowerings).

Everything here is importable by its qualified name, so a GraphModule that calls these functions
can be regenerated, pickled and exported.
"""
from __future__ import annotations

from typing import List

import torch
from torch import nn


class DropPath(nn.Module):
    """Stochastic depth per sample (torchvision.ops.StochasticDepth, mode "row").

    In training, each sample of the batch (dim 0) is zeroed with probability `p` and the kept
    ones are scaled by 1/(1-p). Identity in eval mode or when p == 0.
    """

    def __init__(self, p: float = 0.0):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"drop_path probability must be in [0, 1), got {p}")
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        shape = (x.shape[0],) + (1,) * (x.dim() - 1)
        noise = torch.empty(shape, dtype=x.dtype, device=x.device).bernoulli_(keep)
        return x * noise.div_(keep)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def reshape_onnx(x: torch.Tensor, shape: List[int]) -> torch.Tensor:
    """Reshape with ONNX semantics: a 0 entry copies the input's dim at that position, -1 is
    inferred. The target uses `x.shape` at run time, so dynamic dims stay dynamic for export."""
    return x.reshape([x.shape[i] if isinstance(s, int) and s == 0 else s for i, s in enumerate(shape)])


# Sizes read at run time (a `reshape`/`unflatten` size that is another tensor's symbolic dim):
# archc.codegen.fx builds each from the inputs' sizes with these, so the module is right at every
# size and exports keep the dim dynamic. Typed for torch.jit.script.
def dim_size(x: torch.Tensor, d: int) -> int:
    """The size of dim `d` of `x` (a symbol's size, read from the input that declares it)."""
    return x.size(d)


def size_add(a: int, b: int) -> int:
    return a + b


def size_mul(a: int, b: int) -> int:
    return a * b


def size_floordiv(a: int, b: int) -> int:
    return a // b


def add_n(*xs: torch.Tensor) -> torch.Tensor:
    """Broadcasting sum of two or more tensors."""
    out = xs[0]
    for x in xs[1:]:
        out = out + x
    return out


def mul_n(*xs: torch.Tensor) -> torch.Tensor:
    """Broadcasting product of two or more tensors."""
    out = xs[0]
    for x in xs[1:]:
        out = out * x
    return out
