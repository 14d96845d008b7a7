"""The README's install section works as written: the distribution's name (`archc-compiler`, since
`archc` on the package index is another project), `archc --version`, every install hint naming
that distribution, a wheel installed into a fresh environment with no extras, and the pre-commit
snippet run as written."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from archc import __version__
from archc.cli.main import app
from archc.errors import DISTRIBUTION, pip_install
from tests.conftest import ROOT

try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = None

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_distribution_name_and_version_are_one_fact():
    if tomllib is None:
        pytest.skip("tomllib needs Python 3.11")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == DISTRIBUTION == "archc-compiler"
    assert project["version"] == __version__
    assert project["scripts"] == {"archc": "archc.cli.main:main"}


def test_version_flag():
    r = CliRunner().invoke(app, ["--version"])
    assert r.exit_code == 0 and r.stdout == f"archc {__version__} (archc-compiler)\n"


# `pip install archc` or `archc[extra]` (not `archc-compiler`): the other project's name
OTHER = re.compile(r"pip install '?archc(?![-\w])|(?<![-\w/])archc\[\w+\]")


def test_every_install_hint_names_the_distribution():
    files = [ROOT / "README.md", ROOT / ".pre-commit-hooks.yaml", *sorted((ROOT / "docs").glob("*.md")),
             *sorted((ROOT / "archc").rglob("*.py")), *sorted((ROOT / "benchmarks").glob("*.py"))]
    bad = [f"{f.relative_to(ROOT)}:{i}: {line.strip()}" for f in files
           for i, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1) if OTHER.search(line)]
    assert bad == []
    assert pip_install("export") == "pip install 'archc-compiler[export]'" and pip_install() == "pip install archc-compiler"
    assert OTHER.search("pip install 'archc[export]'") and OTHER.search("pip install archc ")
    assert not OTHER.search("pip install 'archc-compiler[export]'")


def test_readme_links_the_tutorial_and_has_an_install_section():
    assert "(docs/tutorial.md)" in README and "\n## Install\n" in README
    for extra in ("torch", "export", "reference", "plot", "dev"):
        assert f"| `{extra}` |" in README


def _wheel_command() -> str:
    m = re.search(r"pip install '(dist/archc_compiler-[^']+\.whl)\[torch\]'", README)
    assert m, "the README's wheel command"
    return m.group(1)


def test_the_wheel_installs_into_a_fresh_environment_and_lints_and_checks(tmp_path):
    """Build the wheel from a copy of the checkout, install it with no extras into a new venv
    (its dependencies from the package index), and run the installed `archc`."""
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.egg-info", "build",
                                                             "dist", "out", ".hypothesis", ".pytest_cache"))
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation", "-q", "-w", "dist/"],
                       cwd=src, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    wheel = src / _wheel_command()
    assert wheel.is_file(), sorted(p.name for p in (src / "dist").iterdir())
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    r = subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)],
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0 and re.search(r"No matching distribution|Could not fetch|NewConnectionError|Network is unreachable", r.stderr):
        pytest.skip(f"the package index cannot be reached from here: {r.stderr.strip().splitlines()[-1]}")
    assert r.returncode == 0, r.stderr
    exe = venv / "bin" / "archc"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    run = lambda *a: subprocess.run([str(exe), *a], cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)  # noqa: E731
    assert subprocess.run([str(py), "-c", "import torch"], capture_output=True, env=env).returncode != 0
    v = run("--version")
    assert v.returncode == 0 and v.stdout.strip() == f"archc {__version__} (archc-compiler)"
    shutil.copytree(ROOT / "specs", tmp_path / "specs")
    lint = run("lint", "specs/")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert re.search(r"\d+ files? linted", lint.stdout)
    check = run("check", "specs/mlp.yaml")           # no torch in this environment: exit 3, naming the extra
    assert check.returncode == 3 and "pip install 'archc-compiler[torch]'" in check.stderr, check.stderr
    schema = run("schema")
    assert schema.returncode == 0 and schema.stdout.lstrip().startswith("{")


def test_the_pre_commit_snippet_works_as_written(tmp_path):
    exe = Path(sys.executable).parent / "pre-commit"
    if not exe.exists() or shutil.which("git") is None:
        pytest.skip("pre-commit and git are needed (pip install 'archc-compiler[dev]')")
    m = re.search(r"\*\*pre-commit\*\*.*?```yaml\n(.*?)```", README, re.S)
    assert m, "the README's pre-commit snippet"
    repo = tmp_path / "project"
    (repo / "specs").mkdir(parents=True)
    (repo / ".pre-commit-config.yaml").write_text(m.group(1))
    shutil.copy(ROOT / "specs" / "mlp.yaml", repo / "specs" / "mlp.yaml")
    (repo / "workflow.yml").write_text("on: push\njobs: {}\n")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "PRE_COMMIT_HOME": str(tmp_path / "cache"), "GIT_CONFIG_GLOBAL": os.devnull}
    git = lambda *a: subprocess.run(["git", *a], cwd=repo, capture_output=True, text=True, env=env, check=True)  # noqa: E731
    git("init", "-q")
    git("add", "-A")
    ok = subprocess.run([str(exe), "run", "--all-files"], cwd=repo, capture_output=True, text=True, env=env, timeout=300)
    assert ok.returncode == 0 and "archc lint" in ok.stdout and "Passed" in ok.stdout, ok.stdout + ok.stderr
    # a spec with a lint error fails the hook
    (repo / "specs" / "bad.yaml").write_text("archc: 1\nname: bad\ninputs: {x: {shape: [2, 8]}}\n"
                                            "layers:\n  - a: {op: linear, out: 8}\n  - b: {op: nope}\n")
    git("add", "-A")
    bad = subprocess.run([str(exe), "run", "--all-files"], cwd=repo, capture_output=True, text=True, env=env, timeout=300)
    assert bad.returncode != 0 and "Failed" in bad.stdout and "bad.yaml" in bad.stdout, bad.stdout
