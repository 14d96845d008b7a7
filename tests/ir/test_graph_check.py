"""`Graph.check()`: passes on every zoo spec, and names each kind of corruption."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest

from archc.ir.graph import GraphCheckError, Scope, ValueRef
from archc.ir.types import TensorType
from archc.pipeline import Options, run

ROOT = Path(__file__).resolve().parents[2]
ZOO = sorted((ROOT / "specs").glob("*.yaml"))


@pytest.mark.parametrize("spec", ZOO, ids=[p.stem for p in ZOO])
def test_zoo_graphs_check(spec):
    g = run(spec, Options(param_limit=None), until="elaborate").graph
    g.check()


@pytest.fixture(scope="module")
def mlp():
    return run(ROOT / "specs" / "mlp.yaml", until="elaborate").graph


def _violations(g) -> str:
    with pytest.raises(GraphCheckError) as e:
        g.check()
    return str(e.value)


def test_untyped_edge(mlp):
    g = copy.deepcopy(mlp)
    g.nodes[0].outputs[0] = None
    assert f"node {g.nodes[0].path} output 0 has no tensor type" in _violations(g)


def test_reference_to_later_node(mlp):
    g = copy.deepcopy(mlp)
    g.nodes[0].inputs[0] = ValueRef(g.nodes[-1].path)
    assert f"node {g.nodes[0].path} reads {g.nodes[-1].path}, which is not defined before it" in _violations(g)


def test_missing_graph_input(mlp):
    g = copy.deepcopy(mlp)
    g.nodes[0].inputs[0] = ValueRef("nope", is_input=True)
    assert "reads graph input 'nope', which does not exist" in _violations(g)


def test_output_index_out_of_range(mlp):
    g = copy.deepcopy(mlp)
    g.nodes[1].inputs[0] = ValueRef(g.nodes[0].path, index=3)
    assert f"but {g.nodes[0].path} has 1 output(s)" in _violations(g)


def test_duplicate_node(mlp):
    g = copy.deepcopy(mlp)
    g.nodes.append(copy.deepcopy(g.nodes[-1]))
    assert f"node {g.nodes[-1].path} is defined twice" in _violations(g)


def test_missing_span(mlp):
    g = copy.deepcopy(mlp)
    g.nodes[0].span = None
    assert f"node {g.nodes[0].path} has no span" in _violations(g)


def test_scope_without_nodes(mlp):
    g = copy.deepcopy(mlp)
    g.scopes["ghost"] = Scope("ghost", "block", "ghost")
    assert "scope ghost contains no node" in _violations(g)


def test_node_on_scope_path(mlp):
    g = copy.deepcopy(mlp)
    p = g.nodes[0].path
    g.scopes[p] = Scope(p, "block", "x")
    assert f"node {p} has the path of a scope" in _violations(g)


def test_undefined_output(mlp):
    g = copy.deepcopy(mlp)
    name = next(iter(g.outputs))
    g.outputs[name].ref = ValueRef("missing")
    assert f"output {name} reads missing, which is not defined before it" in _violations(g)


def test_lists_every_violation(mlp):
    g = copy.deepcopy(mlp)
    g.nodes[0].span = None
    g.scopes["ghost"] = Scope("ghost", "block", "ghost")
    with pytest.raises(GraphCheckError) as e:
        g.check()
    assert len(e.value.violations) == 2
    assert isinstance(mlp.nodes[0].out, TensorType)
