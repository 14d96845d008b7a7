"""The JSON Schema of the spec language, generated from the pydantic models (for editors)."""
from __future__ import annotations

import json
from typing import Any

SCHEMA_ID = "https://archc.dev/schema/archc-1.json"


def json_schema() -> dict[str, Any]:
    from archc.spec.models import build_models

    spec, _, _ = build_models()
    schema = spec.model_json_schema(mode="validation")
    out = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID}
    out.update(schema)
    out["title"] = "archc architecture spec, format version 1"
    return out


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=False) + "\n"
