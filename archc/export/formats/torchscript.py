"""`torchscript`: `torch.jit.script` of the GraphModule, or `torch.jit.trace` when scripting fails
(the manifest records which ran and why; never silently). Saved with `ScriptModule.save`.

TorchScript is deprecated upstream (torch 2.14 warns on every script/trace/load). archc still emits
it because C++ (LibTorch) deployments and older serving stacks load nothing else; the warnings are
caught and summarised as one note, which the manifest also records. Drop it with `--emit`.
"""
from __future__ import annotations

import warnings
from typing import Any, Mapping

from archc.codegen.nodemap import node_map
from archc.diagnostics import Diagnostic, DiagnosticError
from archc.export.registry import ExportContext, ExportFormat, register_format, timed
from archc.export.verify import ModuleRunner

DEPRECATION_NOTE = ("TorchScript is deprecated upstream; archc still emits it because C++ (LibTorch) deployments "
                    "and older serving stacks load nothing else (leave it out of --emit to skip it)")


def export(gm: Any, args: tuple, path: str) -> dict:
    """Script (or trace) and save. Returns the manifest facts: exporter, fallback reason, warnings."""
    import torch

    info: dict[str, Any] = {"exporter": "torch.jit.script", "fallback_reason": None, "deprecation_warnings": 0}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            sm = torch.jit.script(gm)
        except Exception as e:  # noqa: BLE001 - the fallback is recorded, never silent
            info["exporter"] = "torch.jit.trace"
            info["fallback_reason"] = f"torch.jit.script failed: {type(e).__name__}: {script_error(e)}"
            try:
                with torch.no_grad():
                    sm = torch.jit.trace(gm, args, check_trace=False)
            except Exception as e2:  # noqa: BLE001
                raise DiagnosticError([Diagnostic("ARC510", f"torchscript: neither torch.jit.script nor torch.jit.trace works: "
                                                  f"{type(e2).__name__}: {script_error(e2)}", None)]) from None
        from archc.export.atomic import write_in_child

        write_in_child(path, sm.save, path)   # a failed write aborts torch's writer: never archc
    info["deprecation_warnings"] = sum(1 for w in caught if issubclass(w.category, (FutureWarning, DeprecationWarning)))
    return info


REASON_CHARS = 500


def script_error(e: BaseException) -> str:
    """TorchScript's complaint, whole sentences: its message lines up to the source excerpt it
    quotes (`File ...`, the code and its `~~~` marks), joined, bounded to REASON_CHARS at a word."""
    lines = []
    for line in str(e).strip().splitlines():
        t = line.strip()
        if not t:
            continue
        if t.startswith(("File ", "~", "^")) or line.startswith((" ", "\t")):
            break
        lines.append(t)
    text = " ".join(lines) or type(e).__name__
    if len(text) > REASON_CHARS:
        text = text[:REASON_CHARS].rsplit(" ", 1)[0] + " ..."
    return text


def fallback_diagnostic(info: dict) -> Diagnostic | None:
    if info.get("exporter") != "torch.jit.trace":
        return None
    return Diagnostic("ARC513", f"torchscript: traced instead of scripted, because {info['fallback_reason']}. A trace "
                      f"records one execution, so control flow that depends on sizes or values is frozen at the traced "
                      f"input's; the artifact is verified at every verification size", None, severity="warning",
                      hint="leave torchscript out of --emit if the traced module is not what you deploy; "
                      "the manifest records the reason (artifacts.torchscript.fallback_reason)")


class TorchScriptRunner(ModuleRunner):
    fmt = "torchscript"

    def __init__(self, path: str, gm: Any = None):
        import torch

        self.gm = gm  # the compiled module, whose node inputs `intermediates` replays

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            self.module = torch.jit.load(path, map_location="cpu")
        self.module.eval()

    def run(self, inputs: Mapping[str, Any]) -> list[Any]:
        import torch

        from archc.export.verify import flatten

        with torch.no_grad():
            return flatten(self.module(*inputs.values()))

    def intermediates(self, inputs: Mapping[str, Any], ref: Mapping[str, Any]) -> dict[str, list[Any]]:
        """Node-local replay: each submodule of the loaded ScriptModule is called on the eager
        module's inputs to that node; its output is compared with the eager output. (A ScriptModule
        takes no hooks, and its forward's intermediates are not reachable from Python.)"""
        import torch

        from archc.export.verify import eager_intermediates

        gm = self.gm
        nodes = node_map(gm)
        _, by_name = eager_intermediates(gm, inputs)
        got: dict[str, list[Any]] = {}
        with torch.no_grad():
            for n in gm.graph.nodes:
                if n.op != "call_module" or n.name not in nodes:
                    continue
                sub = self.module
                try:
                    for part in n.target.split("."):
                        sub = getattr(sub, part)
                    args = [by_name[a.name] if hasattr(a, "name") else a for a in n.args]
                    out = sub(*args)
                except Exception:  # noqa: BLE001 - not replayable; skip the node
                    continue
                got[nodes.to_path[n.name]] = [out[0] if isinstance(out, (tuple, list)) else out]
        return got

    def describe(self, path: str) -> str | None:
        return f"submodule `{path}`, replayed on the eager inputs"


def _export(ctx: ExportContext, entry: dict) -> list[str]:
    elapsed = timed()
    info = export(ctx.gm, ctx.trace_inputs(), ctx.file("model.torchscript.pt"))
    entry["exporter"] = info["exporter"]
    entry["fallback_reason"] = info["fallback_reason"]
    if info["exporter"] == "torch.jit.trace":
        entry["status_tag"] = "traced"      # shown beside the status in `archc build`'s matrix
    entry["deprecated_upstream"] = True
    entry["notes"].append(DEPRECATION_NOTE)
    ctx.note(DEPRECATION_NOTE)
    d = fallback_diagnostic(info)
    if d:
        ctx.result.diagnostics.append(d)
    entry["export_seconds"] = elapsed()
    return ["model.torchscript.pt"]


register_format(ExportFormat(
    name="torchscript",
    files=("model.torchscript.pt",),
    exporter="torch.jit.script",
    export=_export,
    load=lambda ctx: TorchScriptRunner(ctx.file("model.torchscript.pt"), ctx.gm),
    default=True,
    order=30,
))
