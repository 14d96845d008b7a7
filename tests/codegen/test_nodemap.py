"""The compiled module's node map: a typed, immutable value read through `node_map(gm)`."""
from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest

import archc
from archc.codegen.nodemap import NodeMap, NoNodeMap, attach, node_map


@pytest.fixture(scope="module")
def mlp():
    return archc.compile("specs/mlp.yaml")


def test_every_ir_node_has_one_fx_node(mlp):
    nodes = node_map(mlp)
    graph = mlp.archc_graph
    assert sorted(nodes.to_path.values()) == sorted(n.path for n in graph.nodes)
    fx_names = {n.name for n in mlp.graph.nodes}
    for n in graph.nodes:
        name = nodes.fx_name(n.path)
        assert name in fx_names and nodes.path(name) == n.path
    assert nodes.path("hidden_1_fc") == "hidden.1.fc" and nodes.fx_name("head") == "head"
    assert nodes.path("x") is None  # a graph input is no IR node


def test_immutable_and_copyable(mlp):
    nodes = node_map(mlp)
    with pytest.raises(TypeError):
        nodes.to_path["head"] = "elsewhere"  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        nodes.to_path = {}  # type: ignore[misc]
    assert copy.deepcopy(nodes) == nodes and pickle.loads(pickle.dumps(nodes)) == nodes


def test_one_fx_node_per_path():
    with pytest.raises(ValueError, match="one fx node"):
        NodeMap({"a": "p", "b": "p"})


def test_a_module_archc_did_not_build_has_none():
    import torch

    m = torch.fx.symbolic_trace(torch.nn.Linear(2, 2))
    with pytest.raises(NoNodeMap, match="not built by archc.codegen.fx.lower"):
        node_map(m)
    attach(m, NodeMap({"linear": "fc"}))
    assert node_map(m).path("linear") == "fc"


def test_verification_reads_it(mlp):
    """codegen.verify attributes every executed node through the map: without it, it refuses."""
    from archc.codegen.verify import verify

    assert verify(mlp, mlp.archc_graph) == []
    bare = copy.deepcopy(mlp)  # a GraphModule's deepcopy keeps no custom attributes
    with pytest.raises(NoNodeMap):
        verify(bare, mlp.archc_graph)
