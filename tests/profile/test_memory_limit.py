"""The memory limit (issue 12, item 6): build, compare and a measuring profile check what they will
allocate at every size they run against --memory-limit (default: a fraction of the machine's
memory) before allocating anything; a refusal is ARC606, located, naming the size, the estimate
and the limit."""
from __future__ import annotations

import time

import pytest
from typer.testing import CliRunner

from archc.cli.main import app
from archc.diagnostics import DiagnosticError
from archc.pipeline import Options, run
from archc.profile import budget as B
from archc.profile.static import analyze

runner = CliRunner()


def test_build_of_a_huge_batch_refuses_fast_before_allocating(tmp_path):
    from archc.api import build

    import archc.export.build  # noqa: F401  (imported, and the spec read once, before the clock starts:
    run("specs/mlp.yaml", until="check")   # the refusal itself is timed, not the first imports)

    out = tmp_path / "o"
    t0 = time.perf_counter()
    with pytest.raises(DiagnosticError) as ei:
        build("specs/mlp.yaml", str(out), emit=["state_dict"], overrides={"B": 100_000_000}, latency_runs=1)
    assert time.perf_counter() - t0 < 1.0
    (d,) = ei.value.diagnostics
    assert d.code == "ARC606"
    assert "B=100000000" in d.message and "over the memory limit" in d.message
    assert f"{B.MEMORY_LIMIT_FRACTION:.0%} of this machine's" in d.message
    assert "--memory-limit" in d.hint and "--set B=" in d.hint
    assert not out.exists()


def test_build_refusal_points_at_the_set_flag(tmp_path):
    r = runner.invoke(app, ["build", "specs/mlp.yaml", "-o", str(tmp_path / "o"), "--set", "B=100000000"])
    assert r.exit_code == 1, r.output
    assert "error[ARC606]: build at B=100000000 would need about" in r.stderr
    assert "--> <command line>:1:9" in r.stderr
    assert "Traceback" not in r.output
    assert not (tmp_path / "o").exists()


def test_explicit_memory_limit_is_used_and_names_the_estimate(tmp_path):
    r = runner.invoke(app, ["build", "specs/mlp.yaml", "-o", str(tmp_path / "o"), "--emit", "state_dict",
                            "--memory-limit", "1MB"])
    assert r.exit_code == 1, r.output
    from archc.export.dynamic import envs, plan

    g = run("specs/mlp.yaml", until="check").graph
    est = B.estimate(g, g.example_env, "build", "float32")
    assert f"({est.total:,} bytes" in r.stderr and "over --memory-limit" in r.stderr
    est = max((B.estimate(g, e, "build", "float32") for e in envs(g, plan(g, None)[0])), key=lambda e: e.total)
    # no size set on the command line: the batch symbol's declaration in the spec
    assert "specs/mlp.yaml:7:3" in r.stderr
    ok = runner.invoke(app, ["build", "specs/mlp.yaml", "-o", str(tmp_path / "o2"), "--emit", "state_dict",
                             "--memory-limit", str(est.total)])
    assert ok.exit_code == 0, ok.output


@pytest.mark.parametrize("cmd", [["build", "specs/mlp.yaml", "-o", "OUT"], ["profile", "specs/mlp.yaml", "--device", "cpu"],
                                 ["compare", "specs/resnet.yaml"]])
@pytest.mark.parametrize("bad", ["lots", "-5", "0"])
def test_bad_memory_limit_is_a_usage_error(tmp_path, cmd, bad):
    cmd = [str(tmp_path / "o") if c == "OUT" else c for c in cmd]
    r = runner.invoke(app, [*cmd, "--memory-limit", bad])
    assert r.exit_code == 2, r.output
    assert "--memory-limit" in r.stderr


def test_measuring_profile_checks_every_size_it_runs():
    r = runner.invoke(app, ["profile", "specs/mlp.yaml", "--device", "cpu", "--set", "B=10000000"])
    assert r.exit_code == 1, r.output
    assert "error[ARC606]: profile at B=10000000" in r.stderr
    # a batch size of the throughput sweep is checked before the first measurement
    r = runner.invoke(app, ["profile", "specs/mlp.yaml", "--device", "cpu", "-b", "1,2000000000", "--repeats", "1"])
    assert r.exit_code == 1, r.output
    assert "profile at B=2000000000" in r.stderr
    # the static profile (meta) allocates nothing and is not limited
    r = runner.invoke(app, ["profile", "specs/mlp.yaml", "--set", "B=10000000", "--memory-limit", "1KB"])
    assert r.exit_code == 0, r.output


def test_compare_checks_before_building_the_reference():
    pytest.importorskip("torchvision")
    t0 = time.perf_counter()
    r = runner.invoke(app, ["compare", "specs/resnet.yaml", "--memory-limit", "1MB"])
    assert r.exit_code == 1, r.output
    assert "error[ARC606]: compare at" in r.stderr and "kept for the backward pass" in r.stderr
    assert time.perf_counter() - t0 < 30


def test_estimates_follow_the_static_profile():
    g = run("specs/mlp.yaml", Options({"B": 64}), until="check").graph
    s = analyze(g, g.example_env, dtype="float32")
    w = s.weights_bytes + s.buffers_bytes
    assert B.estimate(g, g.example_env, "profile", "float32").total == s.static_peak_bytes
    assert B.estimate(g, g.example_env, "build", "float32").weights == 3 * w
    c = B.estimate(g, g.example_env, "compare", "float64")
    s64 = analyze(g, g.example_env, dtype="float64")
    assert c.total == 4 * (s64.weights_bytes + s64.buffers_bytes) + 2 * (s64.activation_bytes + s64.inputs_bytes)
    # checked at every size: the second one is over
    small, big = g.example_env, {**g.example_env, "B": 10 ** 9}
    assert len(B.check_memory(g, [small], "profile", limit=10 ** 9)) == 1
    with pytest.raises(DiagnosticError, match="B=1000000000"):
        B.check_memory(g, [small, big], "profile", limit=10 ** 9)


def test_default_limit_is_a_fraction_of_the_machine():
    m = B.machine_memory()
    assert m is not None and m > 0
    assert B.default_memory_limit() == int(m * B.MEMORY_LIMIT_FRACTION)
    assert B.measured_sizes(run("specs/mlp.yaml", until="check").graph, [1, 8], ("B", [3])) == [
        {"B": 4}, {"B": 1}, {"B": 8}, {"B": 3}]
