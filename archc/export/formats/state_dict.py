"""`state_dict`: the weights as safetensors (`model.safetensors`), also the weights of the `source`
artifact.

safetensors refuses tensors that share storage, so a tied parameter (GPT-2's head tied to its
token embedding) is stored once, under the key it is tied *to*; the file's metadata records the tie
(`archc.ties`: JSON {tied key: stored key}) and the generated source re-ties on construction.
Verification reloads the file with `safetensors.torch.load_file`, requires the stored keys to be
exactly the state_dict's minus the tied ones and every tensor to be bitwise equal, then runs the
compiled module with the reloaded weights.
"""
from __future__ import annotations

import copy
import json
import os
from typing import Any, Mapping

from archc.codegen.nodemap import attach, node_map
from archc.export.registry import ExportContext, ExportFormat, register_format, timed
from archc.export.verify import Runner
from archc.ir.graph import Graph


def tensors(gm: Any, graph: Graph) -> tuple[dict[str, Any], dict[str, str]]:
    tied = {t.param: t.to for t in graph.ties}
    sd = gm.state_dict()
    out = {k: v.detach().contiguous().clone() if k not in tied else None for k, v in sd.items()}
    return {k: v for k, v in out.items() if v is not None}, tied


def save(gm: Any, graph: Graph, path: str, meta: Mapping[str, str]) -> dict:
    from safetensors.torch import save_file

    ts, tied = tensors(gm, graph)
    md = {"format": "pt", "archc.ties": json.dumps(tied)}
    md.update({k: str(v) for k, v in meta.items()})
    save_file(ts, path, metadata=md)
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)  # like the other artifacts (save_file creates it 0600)
    return {"tensors": len(ts), "ties": tied}


class StateDictRunner(Runner):
    fmt = "state_dict"

    def __init__(self, path: str, gm: Any, graph: Graph):
        from safetensors import safe_open
        from safetensors.torch import load_file

        self.state = load_file(path, device="cpu")
        with safe_open(path, framework="pt") as f:
            self.ties = json.loads((f.metadata() or {}).get("archc.ties", "{}"))
        self.graph = graph
        expected, _ = tensors(gm, graph)
        missing = sorted(set(expected) - set(self.state))
        extra = sorted(set(self.state) - set(expected))
        if missing or extra:
            raise ValueError(f"keys differ from the module's: missing {missing[:5]}, unexpected {extra[:5]}")
        self.module = copy.deepcopy(gm)
        self.module.load_state_dict(self.state, strict=False)
        for t in graph.ties:  # deepcopy keeps ties; re-tie defensively
            from archc.codegen.fx import _tie

            _tie(self.module, t.param, t.to)
        attach(self.module, node_map(gm))

    def run(self, inputs: Mapping[str, Any]) -> list[Any]:
        import torch

        from archc.export.verify import flatten

        with torch.no_grad():
            return flatten(self.module(*inputs.values()))

    def intermediates(self, inputs: Mapping[str, Any], ref: Mapping[str, Any]) -> dict[str, list[Any]]:
        from archc.export.verify import eager_intermediates

        by_path, _ = eager_intermediates(self.module, inputs)
        return {k: [v[0] if isinstance(v, (tuple, list)) else v] for k, v in by_path.items()}

    def weights(self) -> dict[str, Any] | None:
        return dict(self.state)

    def describe(self, path: str) -> str | None:
        keys = [k for k in self.state if k.startswith(path + ".") or k == path]
        return f"tensors {', '.join(keys[:3])}" if keys else None


WEIGHTS = "model.safetensors"


def save_weights(ctx: ExportContext) -> None:
    """Write `model.safetensors` once per build (the `source` format ships the same file)."""
    if not os.path.exists(ctx.file(WEIGHTS)):
        save(ctx.gm, ctx.graph, ctx.file(WEIGHTS),
             {"archc.spec": ctx.spec, "archc.spec_sha256": ctx.spec_sha256, "archc.dtype": ctx.dtype})


def _export(ctx: ExportContext, entry: dict) -> list[str]:
    elapsed = timed()
    save_weights(ctx)
    entry["export_seconds"] = elapsed()
    return [WEIGHTS]


register_format(ExportFormat(
    name="state_dict",
    files=(WEIGHTS,),
    exporter="safetensors.torch.save_file",
    export=_export,
    load=lambda ctx: StateDictRunner(ctx.file(WEIGHTS), ctx.gm, ctx.graph),
    needs=("safetensors",),
    order=50,
))
