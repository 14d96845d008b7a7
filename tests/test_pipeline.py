"""The compiler as one list of stages (archc.pipeline), the session it carries, and the one error
hierarchy (archc.errors) with its exit codes."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

from archc.cli.main import app
from archc.errors import EXIT_ENV, EXIT_FAIL, EXIT_INTERNAL, EXIT_USAGE, DiagnosticError, MissingDependency, UsageError, exit_code
from archc.pipeline import STAGES, Options, Session, Unit, from_graph, run
from tests.conftest import ROOT

MLP = ROOT / "specs" / "mlp.yaml"


def test_the_stages_in_order():
    assert STAGES == ("load", "validate", "elaborate", "check", "lint", "lower", "verify", "emit", "measure")


def test_run_stops_at_the_stage_asked_for():
    u = run(MLP, until="validate")
    assert u.done == ["load", "validate"] and u.spec is not None and u.graph is None
    u = run(u, until="elaborate")                      # a unit goes on where it stopped
    assert u.done == ["load", "validate", "elaborate"] and u.graph is not None and u.module is None
    u = run(MLP, Options(device="meta"), until="verify")
    assert "lint" not in u.done and u.verified == [] and all(p.is_meta for p in u.module.parameters())


def test_the_lint_stage_runs_when_asked(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text("archc: 1\nname: s\ninputs: {x: {shape: [2, 8]}}\n"
                    "layers:\n  - a: {op: relu}\n  - b: {op: relu}\n")
    u = run(spec, until="lint")
    assert [d.code for d in u.lint] == ["ARC306"] and u.lint[0] in u.session.diagnostics
    assert "lint" in run(spec, until="lower", also=("lint",)).done


def test_unknown_stage():
    with pytest.raises(ValueError, match="unknown stage"):
        run(MLP, until="optimise")


def test_a_failing_stage_raises_with_every_diagnostic_and_its_sources(tmp_path):
    spec = tmp_path / "bad.yaml"
    # a node-level schema problem (validate) and a reference problem (elaborate): one run, both
    spec.write_text("archc: 1\nname: bad\ninputs: {x: {shape: [2, 8]}}\n"
                    "layers:\n  - a: {op: linear, out: wide}\n  - b: {op: relu, from: nowhere}\n")
    session = Session(Options(), {"<command line>": "--set x=1"})
    with pytest.raises(DiagnosticError) as info:
        run(spec, session=session)
    e = info.value
    assert [d.code for d in e.diagnostics] == ["ARC102", "ARC104"]
    assert e.diagnostics == session.diagnostics
    assert set(e.sources) == {e.diagnostics[0].span.file, "<command line>"}
    assert e.sources[e.diagnostics[0].span.file] == spec.read_text()


def test_from_graph_lowers_an_elaborated_graph():
    g = run(MLP, until="check").graph
    u = run(from_graph(g, Options(device="meta")), until="verify")
    assert isinstance(u, Unit) and u.done[-2:] == ["lower", "verify"]


@pytest.mark.parametrize("error, code", [
    (UsageError("x"), EXIT_USAGE), (MissingDependency("x"), EXIT_ENV), (DiagnosticError([]), EXIT_FAIL),
    (RuntimeError("bug"), EXIT_INTERNAL), (KeyboardInterrupt(), 130),
])
def test_one_exit_code_per_kind_of_error(error, code):
    assert exit_code(error) == code


def test_the_old_error_names_are_the_one_class_of_their_kind():
    from archc.draw.render import GraphvizMissing
    from archc.draw.view import ExpandError
    from archc.lint_driver import ConfigError
    from archc.parity.weights import MissingPackage

    assert GraphvizMissing is MissingDependency and ExpandError is UsageError and ConfigError is UsageError
    assert issubclass(MissingPackage, MissingDependency)


def test_cli_maps_errors_once():
    r = CliRunner().invoke(app, ["check", "no/such/spec.yaml"])
    assert r.exit_code == EXIT_USAGE and "archc: error: no such file" in r.output
    r = CliRunner().invoke(app, ["profile", str(MLP), "--device", "cuda:7"])
    assert r.exit_code in (EXIT_ENV, 0)



def test_emit_is_a_stage_that_needs_its_request(tmp_path):
    with pytest.raises(ValueError, match="BuildRequest"):
        run(MLP, until="emit")
    from archc.export.build import BuildRequest

    u = run(MLP, until="emit", emit=BuildRequest(str(tmp_path / "out"), ["source"], latency_runs=1))
    assert u.done[-3:] == ["lower", "verify", "emit"] and u.built.ok
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["manifest.json", "model.py", "model.safetensors"]


def test_measure_is_a_stage_on_the_elaborated_graph():
    from archc.profile.run import Request

    u = run(MLP, until="measure", measure=Request(device="meta"))
    assert "lower" not in u.done and u.done[-1] == "measure" and u.module is None
    assert u.measured.static.params == u.graph.param_count and u.measured.measured is None


def test_verify_is_skipped_past_its_node_limit_with_a_warning():
    u = run(MLP, Options(device="meta", verify_max_nodes=5), until="verify")
    assert u.verified is None and u.module is None and "verify" in u.done
    (d,) = [d for d in u.session.diagnostics if d.code == "ARC607"]
    assert d.severity == "warning" and "7 nodes, more than 5" in d.message and "--verify-all" in d.hint
    u = run(MLP, Options(device="meta", verify_max_nodes=7), until="verify")
    assert u.verified == [] and not u.session.diagnostics
