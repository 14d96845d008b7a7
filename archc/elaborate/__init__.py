"""Elaboration: a validated spec (typed nodes) -> the graph IR, with every shape inferred.

Expansion and inference are one walk because expressions may ask for shapes (`channels(x)` in a
block's `when:`). The walk (`walk.py`) resolves the frame (`frame.py`: params, variants, `--set`,
symbols, inputs), expands blocks, repeats and sequences, drops absent conditional nodes (which then
stand for their input), validates each op's evaluated attributes, runs its shape rule, records the
constraints the ops imply on the symbols, and finishes (`finish.py`: outputs, ties, constraints).
Its whole mutable state is one `State` (`state.py`); problems go into the session.
"""
from __future__ import annotations

from archc.elaborate.walk import MAX_NODES, MAX_REPEAT, Elaborator, elaborate
from archc.session import DEFAULT_PARAM_LIMIT

__all__ = ["DEFAULT_PARAM_LIMIT", "MAX_NODES", "MAX_REPEAT", "Elaborator", "elaborate"]
