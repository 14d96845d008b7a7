"""No raw torch warning reaches the terminal: `run_command` holds back Python warnings raised from
inside torch and the exporters (shown with --debug); archc's own warnings still show."""
from __future__ import annotations

import warnings

import pytest
import typer

from archc.cli._common import run_command


def _body():
    warnings.warn_explicit("Initializing zero-element tensors is a no-op", UserWarning,
                           "/venv/lib/python3.11/site-packages/torch/utils/_device.py", 122)
    warnings.warn_explicit("archc's own", UserWarning, "/src/archc/archc/pipeline.py", 1)
    return 0


@pytest.mark.parametrize("debug", [False, True])
def test_torch_warnings_are_held_back_unless_debug(capsys, debug):
    with pytest.raises(typer.Exit):
        run_command(_body, debug=debug)
    err = capsys.readouterr().err
    assert "archc's own" in err
    assert ("zero-element" in err) is debug
