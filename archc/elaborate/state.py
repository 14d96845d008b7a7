"""The elaboration walk's state, all of it, in one explicit dataclass.

The walk (`archc.elaborate.walk`) and its frame and finish steps read and extend one `State`;
nothing else is mutable during elaboration. The graph IR is built from it at the end.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from archc.diagnostics import Diagnostic, Span
from archc.ir import dims as D
from archc.ir.graph import GraphInput, GraphOutput, Node, Scope, Symbol, Tie, ValueRef


@dataclass
class State:
    # what the user chose (copied from the options: `extends:` and the spec's variant add to them)
    overrides: dict[str, Any]
    override_spans: dict[str, Span]
    variant: str | None
    param_limit: int | None
    diags: list[Diagnostic]                        # the session's diagnostics (the same list)
    # the frame: params, symbols and inputs
    params: dict[str, Any] = field(default_factory=dict)        # resolved spec params
    globals: dict[str, Any] = field(default_factory=dict)       # what top-level expressions see
    symbols: dict[str, Symbol] = field(default_factory=dict)
    example_env: dict[str, int] = field(default_factory=dict)   # symbol -> example size
    bad_symbol_overrides: set[str] = field(default_factory=set)
    inputs: dict[str, GraphInput] = field(default_factory=dict)
    # the graph as it grows
    nodes: list[Node] = field(default_factory=list)
    node_index: dict[str, Node] = field(default_factory=dict)   # module path -> node
    scopes: dict[str, Scope] = field(default_factory=dict)      # block / repeat / seq instances
    scope_outputs: dict[str, ValueRef] = field(default_factory=dict)
    from_spans: dict[str, Span | None] = field(default_factory=dict)  # module path -> its `from:` value
    constraints: list[D.Constraint] = field(default_factory=list)
    poisoned: set[ValueRef] = field(default_factory=set)        # values whose node failed (reported)
    absent: dict[ValueRef, Any] = field(default_factory=dict)   # input-less nodes left out by `when` -> span
    outputs: dict[str, GraphOutput] = field(default_factory=dict)
    ties: list[Tie] = field(default_factory=list)
    # where the walk is
    block_stack: list[str] = field(default_factory=list)        # blocks being expanded (cycle check)
    current_scope: Any = None                                   # the `layers:` list being walked
    cycle_nodes: set[str] = field(default_factory=set)          # nodes of the current list on a cycle
    total_params: int = 0
    repeat_product: int = 1                                     # product of the enclosing repeats
    reserved_reported: set[str] = field(default_factory=set)    # module paths named like a torch attribute (reported)
