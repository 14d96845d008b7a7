"""`archc profile` through the CLI: JSON document, sweeps, budgets, measured runs, exit codes."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from archc.cli.main import app

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def doc_of(*args):
    r = invoke("profile", *args, "--json")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


# ---------------------------------------------------------------------------------------------
# static (meta)
# ---------------------------------------------------------------------------------------------


def test_json_document_static():
    doc = doc_of("specs/mlp.yaml")
    assert doc["schema"] == "archc-profile" and doc["schema_version"] == 1
    assert doc["device"] == "meta" and doc["dtype"] == "float32" and doc["measured"] is None
    assert doc["params"] == 269322
    assert doc["macs"] == 4 * (784 * 256 + 256 * 256 + 256 * 10)
    assert doc["flops"] > 2 * doc["macs"] and doc["flops_causal"] == doc["flops"]
    assert doc["symbols"] == {"B": 4}
    assert {"macs", "flops", "flops_causal", "activations_per_element", "memory"} <= set(doc["convention"])
    n = doc["nodes"][0]
    assert n["id"] == "hidden.0.fc" and n["line"] == 14 and n["file"] == "specs/mlp.yaml"
    assert n["macs"] == 4 * 784 * 256 and n["output_shape"] == [4, 256] and n["output_bytes"] == 4 * 256 * 4
    assert [b["scope"] for b in doc["blocks"] if b["depth"] == 1] == ["hidden"]
    assert doc["memory"]["static_peak_bytes"] == doc["memory"]["weights_bytes"] + doc["memory"]["peak_activation_bytes"]
    assert doc["uncounted"] == [] and doc["budget"] == [] and doc["passed"] is True


def test_symbol_sizes_are_set_like_params():
    doc = doc_of("specs/gpt2.yaml", "--variant", "small", "--set", "T=32")
    assert doc["symbols"] == {"B": 2, "T": 32}
    assert doc["flops_causal"] < doc["flops"]
    assert doc["per_token"]["tokens"] == 64


def test_table_output_has_totals_and_spec_lines():
    # at a stated width: the `where` column is the first left out when a table does not fit
    r = runner.invoke(app, ["profile", "specs/resnet50.yaml", "--set", "B=1", "--top", "3"], env={"COLUMNS": "140"})
    assert r.exit_code == 0, r.output
    assert "4.09G MACs" in r.stdout and "25,557,032 params" in r.stdout
    assert "lib/resnet.yaml:32" in r.stdout and "layer3" in r.stdout


def test_sweep_reelaborates_exactly_per_value():
    doc = doc_of("specs/gpt2.yaml", "--variant", "small", "--sweep", "T=8,16,32")
    rows = doc["sweep"]["rows"]
    assert doc["sweep"]["symbol"] == "T" and [r["value"] for r in rows] == [8, 16, 32]
    for r in rows:
        single = doc_of("specs/gpt2.yaml", "--variant", "small", "--set", f"T={r['value']}")
        assert (r["flops"], r["flops_causal"], r["static_peak_bytes"]) == (
            single["flops"], single["flops_causal"], single["memory"]["static_peak_bytes"])


def test_batch_sizes_on_meta_give_static_rows():
    doc = doc_of("specs/mlp.yaml", "--batch-size", "1,8")
    assert [r["batch_size"] for r in doc["throughput"]] == [1, 8]
    assert doc["throughput"][1]["flops"] == 8 * doc["throughput"][0]["flops"]
    assert doc["throughput"][0]["latency_ms"] is None


@pytest.mark.parametrize("args", [["--sweep", "Q=1,2"], ["--sweep", "T"], ["--batch-size", "0"],
                                  ["--device", "tpu"], ["--dtype", "int8"], ["--max-memory", "2 parsecs"],
                                  ["--max-latency-ms", "5"], ["--plot", "x.pdf"]])
def test_usage_errors_exit_2(args):
    r = invoke("profile", "specs/mlp.yaml", *args)
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output


# ---------------------------------------------------------------------------------------------
# budgets
# ---------------------------------------------------------------------------------------------

BUDGET_SPEC = """
    archc: 1
    name: b
    inputs: {x: {shape: [2, 64]}}
    layers:
      - a: {op: linear, out: 64}
    outputs: {y: a}
    budget:
      max_params: 1000
      max_flops: 1G
      max_latency_ms: 100
"""


def test_spec_budget_exceeded_points_at_the_budget_line(write_spec):
    path = write_spec(BUDGET_SPEC)
    r = invoke("profile", path, "--json")
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    assert doc["passed"] is False
    by = {c["name"]: c for c in doc["budget"]}
    assert by["max_params"]["ok"] is False and by["max_params"]["line"] == 8
    assert by["max_flops"]["ok"] is True
    assert by["max_latency_ms"]["checked"] is False
    assert "error[ARC610]: parameter count 4.16K (4,160) exceeds the budget `budget.max_params: 1000`" in r.stderr
    assert ":8:15" in r.stderr and "max_params: 1000" in r.stderr
    assert "warning[ARC614]" in r.stderr


def test_flag_budget_points_at_the_command_line():
    r = invoke("profile", "specs/mlp.yaml", "--set", "B=2", "--max-flops", "1M", "--max-params", "1G")
    assert r.exit_code == 1
    assert "error[ARC611]" in r.stderr and "`--max-flops 1M`" in r.stderr
    assert "<command line>:1:" in r.stderr and "--set B=2 --max-params 1G --max-flops 1M" in r.stderr
    assert "ARC610" not in r.stderr


def test_flag_overrides_the_spec_budget(write_spec):
    path = write_spec(BUDGET_SPEC)
    r = invoke("profile", path, "--max-params", "10K", "--json")
    assert r.exit_code == 0, r.output
    by = {c["name"]: c for c in json.loads(r.stdout)["budget"]}
    assert by["max_params"]["source"] == "flag" and by["max_params"]["ok"] is True


def test_memory_budget_checks_the_static_estimate():
    ok = invoke("profile", "specs/mlp.yaml", "--max-memory", "2MiB")
    assert ok.exit_code == 0, ok.output
    r = invoke("profile", "specs/mlp.yaml", "--max-memory", "1MB")
    assert r.exit_code == 1 and "error[ARC612]: static memory estimate" in r.stderr


def test_bad_budget_in_spec_is_a_schema_error(write_spec):
    path = write_spec(BUDGET_SPEC.replace("max_flops: 1G", "max_flops: lots"))
    r = invoke("profile", path)
    assert r.exit_code == 1 and "ARC102" in r.stderr


# ---------------------------------------------------------------------------------------------
# measured (tiny models, few repeats)
# ---------------------------------------------------------------------------------------------


def test_measured_on_cpu():
    doc = doc_of("specs/mlp.yaml", "--device", "cpu", "--warmup", "1", "--repeats", "3", "--batch-size", "1,4")
    m = doc["measured"]
    assert doc["device"] == "cpu" and doc["torch"]
    lat = m["latency_ms"]
    assert lat["n"] == 3 and lat["warmup"] == 1 and lat["q1"] <= lat["median"] <= lat["q3"] and lat["iqr"] >= 0
    assert all(n["latency_ms"] is not None and n["latency_ms"] >= 0 for n in doc["nodes"])
    assert m["per_node_overhead"]["ratio"] > 0
    # the measured peak includes the weights; the activations are small
    assert m["peak_memory_bytes"] >= doc["memory"]["weights_bytes"]
    assert doc["memory"]["measured_peak_bytes"] == m["peak_memory_bytes"]
    assert [r["batch_size"] for r in doc["throughput"]] == [1, 4]
    assert all(r["samples_per_s"] > 0 for r in doc["throughput"])


def test_measured_bfloat16_and_sweep_latency():
    doc = doc_of("specs/gpt2.yaml", "--variant", "small", "--device", "cpu", "--dtype", "bfloat16", "--warmup", "0",
                 "--repeats", "2", "--no-per-node", "--no-memory", "--sweep", "T=8,16")
    assert doc["dtype"] == "bfloat16" and doc["measured"]["dtype"] == "bfloat16"
    assert doc["memory"]["weights_bytes"] == 2 * (doc["params"])
    assert all(r["latency_ms"]["median"] > 0 for r in doc["sweep"]["rows"])


def test_absent_device_exits_3():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    r = invoke("profile", "specs/mlp.yaml", "--device", "cuda")
    assert r.exit_code == 3
    assert "device `cuda` is not available" in r.stderr and "Traceback" not in r.output


@pytest.mark.parametrize("suffix", ["png", "svg"])
def test_plot(tmp_path, suffix):
    pytest.importorskip("matplotlib")
    out = tmp_path / f"p.{suffix}"
    r = invoke("profile", "specs/mlp.yaml", "--batch-size", "1,2,4", "--plot", out)
    assert r.exit_code == 0, r.output
    data = out.read_bytes()
    assert data.startswith(b"\x89PNG") if suffix == "png" else b"<svg" in data[:2000]


@pytest.mark.slow
def test_compile_on_cpu():
    doc = doc_of("specs/mlp.yaml", "--device", "cpu", "--compile", "--warmup", "1", "--repeats", "3")
    assert doc["measured"]["compile"] is True and doc["measured"]["compile_s"] > 0
