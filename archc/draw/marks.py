"""What a picture marks on edges and boxes beyond the data flow: the values that are only attention
masks (drawn as masks, never as skips) and the tied parameters (marked, counted once)."""
from __future__ import annotations

from math import prod

from archc.ir.graph import Graph, Node, ValueRef, param_key

# the input that is an attention mask, by an op's `Traits.attention`: (x, memory, mask), (q, k, v, mask)
MASK_SLOT = {"layer": 2, "core": 3}


def mask_values(graph: Graph) -> set[ValueRef]:
    """Values read only as attention masks (directly or through ops whose outputs are all such
    values): BERT's `attention_mask`. Their edges are drawn as masks, never as skip connections."""
    from archc.ops import load_ops

    ops = load_ops()
    readers: dict[ValueRef, list[tuple[Node, int]]] = {}
    for n in graph.nodes:
        for i, ref in enumerate(n.inputs):
            readers.setdefault(ref, []).append((n, i))
    masks: set[ValueRef] = set()
    masked_nodes: set[str] = set()

    def as_mask(n: Node, i: int) -> bool:
        d = ops.get(n.op)
        slot = MASK_SLOT.get(d.traits.attention) if d is not None else None
        return (slot is not None and i == slot) or n.path in masked_nodes

    for n in reversed(graph.nodes):  # readers come later in definition order
        outs = [ValueRef(n.path, k) for k in range(len(n.outputs))]
        if all(readers.get(r) and all(as_mask(m, i) for m, i in readers[r]) for r in outs):
            masked_nodes.add(n.path)
            masks.update(outs)
    outputs = {o.ref for o in graph.outputs.values()}
    masks -= outputs
    for name in graph.inputs:
        ref = ValueRef(name, 0, True)
        if readers.get(ref) and all(as_mask(m, i) for m, i in readers[ref]):
            masks.add(ref)
    return masks


def tie_map(graph: Graph) -> tuple[set[str], dict[str, list[tuple[str, str]]]]:
    """The tied parameter keys, and per node its (parameter, tie target) pairs."""
    tied = {t.param: t.to for t in graph.ties}
    per_node: dict[str, list[tuple[str, str]]] = {}
    for n in graph.nodes:
        for k in n.params:
            key = param_key(n.path, k)
            if key in tied:
                per_node.setdefault(n.path, []).append((k or n.path, tied[key]))
    return set(tied), per_node


def own_params(n: Node, tied: set[str]) -> int:
    """A node's parameters less the tied ones (counted once, at their tie target, as torch does)."""
    return sum(prod(s) for k, s in n.params.items() if param_key(n.path, k) not in tied)
