"""Control flow of the elaboration walk (not user-facing errors: those are Diagnostics)."""
from __future__ import annotations


class Abort(Exception):
    """Stop expanding this node (its diagnostic is already recorded)."""


class ForwardRef(Exception):
    def __init__(self, name: str):
        self.name = name
