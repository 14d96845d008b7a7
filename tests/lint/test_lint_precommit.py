"""The pre-commit hook manifest: valid for pre-commit, and its entry lints only archc specs."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from archc.cli.main import app
from tests.conftest import ROOT

MANIFEST = ROOT / ".pre-commit-hooks.yaml"


def test_manifest_declares_the_hook():
    (hook,) = yaml.safe_load(MANIFEST.read_text())
    assert hook["id"] == "archc-lint" and hook["entry"] == "archc lint" and hook["language"] == "python"
    assert hook["files"] == r"\.ya?ml$"


def test_manifest_is_valid_for_pre_commit():
    exe = Path(sys.executable).parent / "pre-commit"
    if not exe.exists() and shutil.which("pre-commit") is None:
        pytest.skip("pre-commit is not installed (pip install 'archc-compiler[dev]')")
    cmd = [str(exe) if exe.exists() else "pre-commit", "validate-manifest", str(MANIFEST)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr


def test_hook_args_skip_yaml_that_is_not_a_spec(tmp_path):
    (hook,) = yaml.safe_load(MANIFEST.read_text())
    other = tmp_path / "workflow.yml"
    other.write_text("on: push\njobs: {}\n")
    r = CliRunner().invoke(app, ["lint", *hook["args"], str(other), "specs/mlp.yaml"])
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("0 errors, 0 warnings; 1 file linted")
