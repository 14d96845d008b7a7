"""Export time and artifact latency per format: `archc build` of specs/resnet50.yaml against
`torch.export` / `torch.onnx.export` / `torch.jit.script` called directly on the reference
(torchvision.models.resnet50()), in one process, as ratios. `--gpt2` adds specs/gpt2.yaml against
Hugging Face's GPT2LMHeadModel (when transformers is installed).

    python benchmarks/export_bench.py [--runs N] [--gpt2] [--size 224]

Not a test: it records numbers (benchmarks/RESULTS.md). archc's export seconds are its own
measurements (the manifest's `export_seconds`: the export alone, or for ONNX the torch.export
trace plus the translation, as the direct reference call also does both); latency is the median
of N runs of the reloaded artifact at batch 2, one thread, for both sides. Verification time is
not part of export time; it is reported separately (the build's wall time minus its exports).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _ref_formats(model, args, names, dyn, tmp, runs):
    """Direct exports of the reference: {format: (export s, latency ms)}."""
    import onnxruntime as ort
    import torch

    from archc.export.verify import latency

    out = {}
    t = time.perf_counter()
    ep = torch.export.export(model, args, dynamic_shapes=dyn)
    torch.export.save(ep, os.path.join(tmp, "ref.pt2"))
    t_pt2 = time.perf_counter() - t
    m = torch.export.load(os.path.join(tmp, "ref.pt2")).module()
    out["pt2"] = (t_pt2, latency(lambda: m(*args), runs))
    t = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, args, os.path.join(tmp, "ref.onnx"), dynamo=True, dynamic_shapes=dyn,
                          input_names=names, opset_version=18, verbose=False)
    t_onnx = time.perf_counter() - t
    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = 1, 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sess = ort.InferenceSession(os.path.join(tmp, "ref.onnx"), so, providers=["CPUExecutionProvider"])
    feed = {n: a.numpy() for n, a in zip([i.name for i in sess.get_inputs()], args)}
    out["onnx"] = (t_onnx, latency(lambda: sess.run(None, feed), runs))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = time.perf_counter()
        try:
            sm = torch.jit.script(model)
        except Exception:  # noqa: BLE001 - HF models do not script; trace like archc would
            sm = torch.jit.trace(model, args, check_trace=False, strict=False)
        sm.save(os.path.join(tmp, "ref.ts"))
        t_ts = time.perf_counter() - t
        lm = torch.jit.load(os.path.join(tmp, "ref.ts"))
    out["torchscript"] = (t_ts, latency(lambda: lm(*args), runs))
    return out


def bench(name, spec, variant, overrides, ref_factory, args_fn, runs, tmp):
    import torch

    from archc.api import build

    t = time.perf_counter()
    res = build(spec, os.path.join(tmp, name), emit=["pt2", "onnx", "torchscript", "source", "state_dict"],
                overrides=overrides, variant=variant, force=True, latency_runs=runs)
    wall = time.perf_counter() - t
    assert res.ok, [d.message for d in res.diagnostics if d.severity == "error"]
    arts = res.manifest["artifacts"]
    ref = None
    if ref_factory is not None:
        model = ref_factory().eval()
        args, names, dyn = args_fn()
        try:
            with torch.no_grad():
                ref = _ref_formats(model, args, names, dyn, tmp, runs)
        except Exception as e:  # noqa: BLE001 - a reference that does not export is reported, not fatal
            print(f"note: the reference {name} did not export directly: {type(e).__name__}: {str(e).splitlines()[0][:200]}")
            ref = None
    rows = []
    for fmt, a in arts.items():
        r = (ref or {}).get(fmt)
        rows.append((fmt, a["export_seconds"], r[0] if r else None, a["latency_ms"], r[1] if r else None,
                     a["max_abs_diff"], a["status"]))
    exports = sum(a["export_seconds"] for f, a in arts.items() if f != "onnx") + arts["onnx"]["export_seconds"] - arts["pt2"]["export_seconds"]
    return rows, wall, exports, res.manifest


def _ratio(a, b):
    return "-" if a is None or b is None or b == 0 else f"{a / b:.2f}"


def _fmt(x, f=".2f"):
    return "-" if x is None else format(x, f)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--gpt2", action="store_true")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    import torch
    from torch.export import Dim

    torch.set_num_threads(1)
    report = []
    with tempfile.TemporaryDirectory() as tmp:
        # warm-up: the first torch.export / ONNX translation in a process pays for importing dynamo and
        # onnxscript's torchlib (~10 s here); neither side should be charged for it
        from archc.api import build as _build

        _build(str(ROOT / "specs/mlp.yaml"), os.path.join(tmp, "warmup"), emit=["pt2", "onnx", "torchscript"], latency_runs=1)
        def tv():
            import torchvision

            return torchvision.models.resnet50()

        def tv_args():
            x = torch.randn(2, 3, a.size, a.size)
            return (x,), ["x"], {"x": {0: Dim("B", min=1)}}

        report.append(("resnet50", "torchvision.models.resnet50()",
                       *bench("resnet50", str(ROOT / "specs/resnet50.yaml"), None, {"H": a.size, "W": a.size}, tv, tv_args, a.runs, tmp)))
        if a.gpt2 and (ROOT / "specs/gpt2.yaml").exists():
            def hf():
                from transformers import GPT2Config, GPT2LMHeadModel

                return GPT2LMHeadModel(GPT2Config(use_cache=False))

            def hf_args():
                ids = torch.randint(0, 50257, (2, 64))
                return (ids,), ["input_ids"], {"input_ids": {0: Dim("B", min=1), 1: Dim("T", min=2, max=1024)}}

            try:
                import transformers  # noqa: F401
                ref = hf
            except ImportError:
                ref = None
            report.append(("gpt2", "transformers GPT2LMHeadModel", *bench("gpt2", str(ROOT / "specs/gpt2.yaml"), None, {}, ref, hf_args, a.runs, tmp)))
    import onnx
    import onnxruntime

    print(f"Run header: archc build vs direct exporter calls on the reference, latency median of {a.runs} runs, batch 2, 1 thread; "
          f"torch {torch.__version__}, onnx {onnx.__version__}, onnxruntime {onnxruntime.__version__}, Python {platform.python_version()}")
    for name, refname, rows, wall, exports, manifest in report:
        sizes = "; ".join(", ".join(f"{k}={v}" for k, v in e.items()) for e in manifest["verification_sizes"])
        print(f"\n{name} (vs {refname}); build wall {wall:.1f} s of which exports {exports:.1f} s, "
              f"the rest is compiling and verifying every artifact at {sizes}")
        print("| format | archc export s | reference export s | ratio | archc latency ms | reference latency ms | ratio | max abs diff | status |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
        for fmt, ae, re_, al, rl, md, st in rows:
            print(f"| {fmt} | {_fmt(ae)} | {_fmt(re_)} | {_ratio(ae, re_)} | {_fmt(al)} | {_fmt(rl)} | {_ratio(al, rl)} | {_fmt(md, '.1e')} | {st} |")
    if a.json:
        print(json.dumps([{"name": r[0], "rows": r[2], "wall": r[3]} for r in report], default=str))


if __name__ == "__main__":
    main()
