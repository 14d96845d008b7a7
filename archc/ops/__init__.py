"""The op registry and the built-in ops. `register` is the public way to add an op (plugins too)."""
from archc.ops._cost import Cost, Uncounted, numel, sizes
from archc.ops._registry import OPS, Attrs, Call, InferContext, NoAttrs, OnnxLimit, OpDef, Traits, load_ops, register

__all__ = ["OPS", "Attrs", "Call", "Cost", "Uncounted", "numel", "sizes", "InferContext", "NoAttrs", "OnnxLimit", "OpDef", "Traits", "load_ops", "register"]
