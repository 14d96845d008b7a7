"""The torch module behind `swiglu` (imported by the lowering only). Parameter names follow
LLaMA's FeedForward (`w1`, `w2`, `w3`), so its checkpoints map without renames."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SwiGLU(nn.Module):
    def __init__(self, dim: int, hidden: int, out: int, bias: bool = False):
        super().__init__()
        self.w1 = nn.Linear(dim, hidden, bias=bias)   # gate
        self.w2 = nn.Linear(hidden, out, bias=bias)   # down
        self.w3 = nn.Linear(dim, hidden, bias=bias)   # up

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))
