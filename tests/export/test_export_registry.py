"""The export-format registry: a format is one registration. A format registered here (a throwaway
`torch.save` of the state_dict) is emitted, reloaded, verified and committed by `build` and the CLI
with no other change; one whose reloaded artifact is wrong fails verification; one that needs a
missing package is refused naming its install hint."""
from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

from archc.cli.main import app
from archc.api import build
from archc.export import FORMATS, ExportFormat, register_format
from archc.export.atomic import owned
from archc.export.build import parse_emit
from archc.export.registry import unregister_format
from archc.export.verify import Runner, flatten

NAME = "throwaway"
FILE = "model.throwaway.pt"


def _format(*, off_by: float = 0.0, needs: tuple[str, ...] = (), name: str = NAME) -> ExportFormat:
    def export(ctx, entry):
        import torch

        torch.save(ctx.gm.state_dict(), ctx.file(FILE))
        entry["export_seconds"] = 0.0
        entry["notes"].append("written by a test")
        return [FILE]

    class Reloaded(Runner):
        fmt = name

        def __init__(self, ctx):
            import copy

            import torch

            self.module = copy.deepcopy(ctx.gm)
            self.module.load_state_dict(torch.load(ctx.file(FILE), weights_only=True))

        def run(self, inputs):
            import torch

            with torch.no_grad():
                return [t + off_by for t in flatten(self.module(*inputs.values()))]

    return ExportFormat(name=name, files=(FILE,), exporter="torch.save of the state_dict", export=export,
                        load=Reloaded, needs=needs, install="pip install throwaway-extra")


@pytest.fixture
def registered():
    def reg(fmt: ExportFormat) -> ExportFormat:
        return register_format(fmt)

    yield reg
    unregister_format(NAME)


def test_a_registered_format_is_built_and_verified(registered, tmp_path):
    registered(_format())
    assert NAME in parse_emit("all") and parse_emit(f"state_dict,{NAME}") == ["state_dict", NAME]
    assert FILE in owned()
    res = build("specs/mlp.yaml", str(tmp_path / "o"), emit=["state_dict", NAME], latency_runs=1)
    assert res.ok, res.diagnostics
    a = res.manifest["artifacts"][NAME]
    assert list(res.manifest["artifacts"]) == ["state_dict", NAME]
    assert a["status"] == "verified" and a["exporter"] == "torch.save of the state_dict"
    assert a["files"] == [FILE] and a["notes"] == ["written by a test"]
    assert [s["ok"] for s in a["sizes"]] == [True, True] and a["max_abs_diff"] == 0.0
    assert a["size_bytes"] == os.path.getsize(tmp_path / "o" / FILE)
    assert "bitwise_equal" not in a  # only formats registered with bitwise=True are checked exactly


def test_the_cli_emits_a_registered_format(registered, tmp_path):
    registered(_format())
    r = CliRunner().invoke(app, ["build", "specs/mlp.yaml", "-o", str(tmp_path / "o"), "--emit", NAME, "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["artifacts"][NAME]["status"] == "verified"
    assert sorted(os.listdir(tmp_path / "o")) == ["manifest.json", FILE]


def test_a_wrong_reload_fails_verification_and_writes_nothing(registered, tmp_path):
    registered(_format(off_by=1.0))
    res = build("specs/mlp.yaml", str(tmp_path / "o"), emit=[NAME], latency_runs=1)
    assert not res.ok
    (d,) = [d for d in res.diagnostics if d.code == "ARC621"]
    assert d.message.startswith(f"{NAME}: the artifact's outputs differ")
    assert res.manifest["artifacts"][NAME]["status"] == "failed"
    assert not (tmp_path / "o").exists()   # the folder it created is removed again


def test_a_missing_package_names_the_formats_hint(registered, tmp_path):
    registered(_format(needs=("archc_no_such_package",)))
    r = CliRunner().invoke(app, ["build", "specs/mlp.yaml", "-o", str(tmp_path / "o"), "--emit", NAME])
    assert r.exit_code == 3, r.output
    assert "archc_no_such_package" in r.output and "pip install throwaway-extra" in r.output


def test_a_format_registers_once():
    with pytest.raises(ValueError, match="registered twice"):
        register_format(FORMATS["pt2"])
    with pytest.raises(ValueError, match="identifier"):
        register_format(_format(name="all"))


def test_the_built_in_formats_in_order():
    assert list(FORMATS)[:5] == ["pt2", "onnx", "torchscript", "source", "state_dict"]
    assert parse_emit(None) == ["pt2", "onnx", "torchscript"]
