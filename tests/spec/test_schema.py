"""The checked-in JSON Schema is generated from the models, up to date, and accepts the zoo."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from archc.spec.schema import json_schema_text
from tests.conftest import LIBS, ROOT, ZOO

SCHEMA = ROOT / "schemas" / "archc.schema.json"


def test_schema_is_not_stale():
    assert SCHEMA.read_text() == json_schema_text(), "run `make schema` (archc schema > schemas/archc.schema.json)"


@pytest.mark.parametrize("path", ZOO + LIBS, ids=lambda p: p.name)
def test_zoo_validates_against_schema(path):
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(yaml.safe_load(path.read_text()), json.loads(SCHEMA.read_text()))


def test_schema_rejects_unknown_key():
    jsonschema = pytest.importorskip("jsonschema")
    doc = yaml.safe_load((ROOT / "specs/mlp.yaml").read_text())
    doc["layers"][1]["head"]["kernal"] = 3
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, json.loads(SCHEMA.read_text()))
