"""Paths that are not regular files (devices, FIFOs, symlinks to them, symlink loops, overlong
import names): `check` exits 2 naming what the path is, `lint` reports an error for each (never
"0 files linted" with exit 0) and never opens a FIFO, so it cannot block on one."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from archc.cli.main import app

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]
SPEC = """archc: 1
name: t
{imports}symbols: {{B: {{example: 2}}}}
inputs: {{x: {{shape: [B, 8]}}}}
layers:
  - a: {{op: relu}}
outputs: {{y: {{from: a}}}}
"""

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")


@pytest.fixture
def odd(tmp_path):
    """name -> a path that is not a regular file."""
    os.mkfifo(tmp_path / "fifo.yaml")
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")
    (tmp_path / "loop1.yaml").symlink_to(tmp_path / "loop2.yaml")
    (tmp_path / "loop2.yaml").symlink_to(tmp_path / "loop1.yaml")
    return {"/dev/zero": "/dev/zero", "/dev/null": "/dev/null", "fifo": str(tmp_path / "fifo.yaml"),
            "link to /dev/zero": str(tmp_path / "zero.yaml"), "symlink loop": str(tmp_path / "loop1.yaml")}


WHAT = {"/dev/zero": "a character device", "/dev/null": "a character device", "fifo": "a FIFO",
        "link to /dev/zero": "a character device", "symlink loop": "a symlink loop"}


@pytest.mark.parametrize("name", list(WHAT))
def test_check_refuses_a_path_that_is_not_a_regular_file(odd, name):
    r = runner.invoke(app, ["check", odd[name]])
    assert r.exit_code == 2, r.output
    assert f"is not a regular file ({WHAT[name]})" in r.output
    assert "internal error" not in r.output


@pytest.mark.parametrize("name", list(WHAT))
def test_lint_reports_a_path_that_is_not_a_regular_file(odd, name):
    r = runner.invoke(app, ["lint", "--isolated", odd[name]])
    assert r.exit_code == 1, r.output
    assert "error[ARC007]" in r.output and f"not a regular file ({WHAT[name]})" in r.output
    assert "1 error" in r.output and "internal error" not in r.output


def test_lint_walks_a_folder_with_a_fifo_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "pipe.yaml")
    (tmp_path / "dev.yaml").symlink_to("/dev/zero")
    (tmp_path / "ok.yaml").write_text(SPEC.format(imports=""))
    env = dict(os.environ, PYTHONPATH=str(REPO), NO_COLOR="1")
    r = subprocess.run([sys.executable, "-m", "archc", "lint", "--isolated", str(tmp_path)], capture_output=True,
                       text=True, timeout=120, env=env)
    assert r.returncode == 1, r.stderr + r.stdout
    out = r.stdout
    assert "pipe.yaml`: not a regular file (a FIFO)" in out
    assert "dev.yaml`: not a regular file (a character device)" in out
    assert "2 errors" in out and "3 files linted" in out


def _imports(tmp_path, name):
    p = tmp_path / "m.yaml"
    p.write_text(SPEC.format(imports=f"imports: [{name}]\n"))
    return str(p)


@pytest.mark.parametrize("make, name, says", [
    (lambda lib: os.mkfifo(lib / "ff.yaml"), "ff", "is not a regular file (a FIFO)"),
    (lambda lib: ((lib / "l1.yaml").symlink_to(lib / "l2.yaml"), (lib / "l2.yaml").symlink_to(lib / "l1.yaml")),
     "l1", "is a symlink loop"),
    (lambda lib: None, "a" * 300, "characters long, longer than a file name may be"),
    (lambda lib: None, "/".join(["a" * 200] * 30), "characters long, longer than a file name may be"),
])
def test_hostile_imports_are_located_diagnostics(tmp_path, make, name, says):
    lib = tmp_path / "lib"
    lib.mkdir()
    make(lib)
    spec = _imports(tmp_path, name)
    for cmd in (["check", spec], ["lint", "--isolated", spec]):
        r = runner.invoke(app, cmd)
        assert r.exit_code == 1, r.output
        assert "error[ARC112]" in r.output and says in r.output, r.output
        assert "m.yaml:3:11" in r.output and "internal error" not in r.output
