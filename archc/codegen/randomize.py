"""Randomized weights that keep activations of order one: the footing of every proof archc gives.

At default initialisation many networks output almost nothing (an ImageNet classifier with
squeeze-excitation gives logits of about 1e-14, zero-initialised layer scales and gates switch whole
branches off), so a comparison there passes a wrong model. `randomize_` redraws every parameter and
the batch-norm statistics of a module, in place and deterministically for a seed:

- weights of two or more dims (linear, conv, attention projections, recurrent matrices): normal with
  std 1/sqrt(fan_in), fan_in = prod(shape[1:]) (transformers' `Conv1D` stores [in, out]: shape[0]);
- embedding tables and free tokens (a parameter of two or more dims whose first dim is 1, not owned
  by a linear or conv: class tokens, learned position embeddings): standard normal;
- norm scales, layer scales, gates and other 1-D or 0-D parameters: uniform in [0.5, 1.5], so none
  is zero and none is exactly one (a swapped or dropped scale shows); PReLU slopes: uniform in
  [0.1, 0.4];
- biases (a 1-D parameter named `bias` or ending in `_bias`): normal with std 0.1;
- batch-norm running statistics: measured, when `calibrate` is given, by calling it once with the
  batch norms in train mode and a cumulative average (momentum None), so the statistics are real,
  non-trivial ones; otherwise (or where the batch is too small to measure) mean ~ N(0, 0.1) and
  variance ~ U(0.5, 1.5).

The draw depends only on the seed and each parameter's name and shape, so two modules with the same
state_dict keys get the same weights; `archc compare` draws them on the reference and maps them into
the spec's module (the keys differ there), `archc build` draws them on the spec's module.
"""
from __future__ import annotations

import math
import zlib
from typing import Any, Callable

SCALE_RANGE = (0.5, 1.5)
PRELU_RANGE = (0.1, 0.4)
BIAS_STD = 0.1
STAT_MEAN_STD = 0.1


def _generator(seed: int, name: str) -> Any:
    import torch

    return torch.Generator().manual_seed((seed * 1_000_003 + zlib.crc32(name.encode())) % (2 ** 63))


def _is_projection(module: Any) -> bool:
    import torch.nn as nn

    return isinstance(module, (nn.Linear, nn.Bilinear, nn.modules.conv._ConvNd)) or type(module).__name__ == "Conv1D"


def _is_norm(module: Any) -> bool:
    import torch.nn as nn

    return isinstance(module, (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.LocalResponseNorm)) \
        or "norm" in type(module).__name__.lower()


def _draw(module: Any, pname: str, p: Any, gen: Any) -> Any:
    import torch
    import torch.nn as nn

    shape = tuple(p.shape)
    if isinstance(module, nn.PReLU):
        lo, hi = PRELU_RANGE
        return torch.empty(shape).uniform_(lo, hi, generator=gen)
    if len(shape) >= 2 and not _is_norm(module):
        if isinstance(module, (nn.Embedding, nn.EmbeddingBag)) or (shape[0] == 1 and not _is_projection(module)):
            return torch.randn(shape, generator=gen)
        fan_in = shape[0] if type(module).__name__ == "Conv1D" else math.prod(shape[1:])
        return torch.randn(shape, generator=gen) / math.sqrt(max(1, fan_in))
    if pname == "bias" or pname.endswith("_bias"):
        return torch.randn(shape, generator=gen) * BIAS_STD
    lo, hi = SCALE_RANGE
    return torch.empty(shape).uniform_(lo, hi, generator=gen)


def _batch_norms(module: Any) -> list[tuple[str, Any]]:
    import torch.nn as nn

    return [(n, m) for n, m in module.named_modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]


def _random_stats(name: str, bn: Any, seed: int) -> None:
    import torch

    gen = _generator(seed, name + ".running_stats")
    c = bn.running_mean.shape
    bn.running_mean.copy_(torch.randn(c, generator=gen) * STAT_MEAN_STD)
    lo, hi = SCALE_RANGE
    bn.running_var.copy_(torch.empty(c).uniform_(lo, hi, generator=gen))


def randomize_(module: Any, seed: int = 0, *, calibrate: Callable[[], Any] | None = None) -> dict[str, Any]:
    """Redraw `module`'s parameters and batch-norm statistics in place (see the module doc).

    `calibrate()` runs the module on a representative input (it is called once, under no_grad, with
    only the batch norms in train mode). Returns what was done: {"seed", "parameters", "batch_norms",
    "statistics": "measured" | "random" | "none"}.
    """
    import torch

    seen: set[int] = set()
    count = 0
    with torch.no_grad():
        for mname, sub in module.named_modules():
            for pname, p in sub.named_parameters(recurse=False):
                if id(p) in seen:        # tied parameters are drawn once, by their first name
                    continue
                seen.add(id(p))
                full = f"{mname}.{pname}" if mname else pname
                p.copy_(_draw(sub, pname, p, _generator(seed, full)).to(p.dtype))
                count += 1
        bns = _batch_norms(module)
        for name, bn in bns:
            _random_stats(name, bn, seed)
        stats = "random" if bns else "none"
        if bns and calibrate is not None and _calibrate(module, bns, calibrate):
            stats = "measured"
    return {"seed": seed, "parameters": count, "batch_norms": len(bns), "statistics": stats}


def _calibrate(module: Any, bns: list[tuple[str, Any]], calibrate: Callable[[], Any]) -> bool:
    """Measure the batch norms' statistics; on failure (a batch of one value per channel) keep the
    random ones. Only the batch norms switch to train mode: dropout stays off."""
    import torch

    saved = [(bn, bn.training, bn.momentum, bn.running_mean.clone(), bn.running_var.clone(),
              bn.num_batches_tracked.clone() if bn.num_batches_tracked is not None else None) for _, bn in bns]
    for bn, *_ in saved:
        bn.reset_running_stats()
        bn.momentum = None          # a cumulative average: after one batch, exactly that batch's statistics
        bn.train()
    ok = True
    try:
        with torch.no_grad():
            calibrate()
    except Exception:  # noqa: BLE001 - a batch too small to measure: the random statistics stay
        ok = False
    for bn, training, momentum, mean, var, nbt in saved:
        bn.train(training)
        bn.momentum = momentum
        if not ok:
            bn.running_mean.copy_(mean)
            bn.running_var.copy_(var)
            if nbt is not None:
                bn.num_batches_tracked.copy_(nbt)
    if ok:   # a variance of 0 (a constant channel) would make eps the whole denominator: keep it honest
        for _, bn in bns:
            bn.running_var.clamp_(min=1e-2)
    return ok


__all__ = ["randomize_", "SCALE_RANGE", "BIAS_STD"]
