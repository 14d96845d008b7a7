"""`archc.lint(...)` and `archc.profile(...)`: the API's command functions share their names with
the packages `archc.lint` and `archc.profile`. Once a package is imported, Python binds the name on
`archc` to the package, so the function could no longer be reached by that name. These two packages
are therefore callable: calling one calls the command function of the same name in `archc.api`
(looked up through the `archc` package at call time, so no package here imports the API).
Imports nothing of archc.
"""
from __future__ import annotations

import sys
import types
from typing import Any


class CallableModule(types.ModuleType):
    """A package that, called, runs `archc.<its name>` of the Python API."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return sys.modules["archc"]._command(self.__name__.rpartition(".")[2])(*args, **kwargs)


def make_callable(name: str) -> None:
    sys.modules[name].__class__ = CallableModule
