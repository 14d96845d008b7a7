"""Skip the default weight draw of layers whose weight the spec's init scheme overwrites anyway.

`nn.Linear` and the convolutions draw a kaiming-uniform weight in their constructor; when the spec
names an init scheme (`init: {scheme: trunc_normal}` ...), `_initialise` then draws that weight a
second time. On vit_b_16 the wasted first draw was 40% of `archc.compile`. While a model is
built inside `deferred_weight_init(True)`, those constructors draw only their bias (with torch's own
bound, so `bias: torch` keeps torch's distribution) and leave the weight to the scheme; a layer the
scheme did not reach (one inside an op without `Traits.init`) gets its full default reset
afterwards (`finish`), so no weight is ever left uninitialised.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Any, Iterator


@contextmanager
def deferred_weight_init(active: bool) -> Iterator[list]:
    """Yield the list of (module, its original reset) whose weight draw was skipped."""
    skipped: list = []
    if not active:
        yield skipped
        return
    import torch.nn as nn
    from torch.nn.modules.conv import _ConvNd

    originals = {cls: cls.__dict__["reset_parameters"] for cls in (nn.Linear, _ConvNd)}

    def patched(cls: type) -> Any:
        def reset_parameters(self: Any) -> None:
            skipped.append((self, originals[cls]))
            if getattr(self, "bias", None) is not None:
                fan_in, _ = nn.init._calculate_fan_in_and_fan_out(self.weight)
                bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
                nn.init.uniform_(self.bias, -bound, bound)

        return reset_parameters

    for cls in originals:
        cls.reset_parameters = patched(cls)
    try:
        yield skipped
    finally:
        for cls, fn in originals.items():
            cls.reset_parameters = fn


def finish(skipped: list, written: set[int]) -> None:
    """Reset, with torch's defaults, every skipped layer whose weight the scheme did not write."""
    for module, reset in skipped:
        if id(module.weight) not in written:
            reset(module)
