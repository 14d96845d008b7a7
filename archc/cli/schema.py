"""`archc schema`: print the JSON Schema that editors use through the yaml-language-server line."""
from __future__ import annotations

import sys

from archc.cli._common import EXIT_OK, DebugOpt, run_command


def schema(debug: DebugOpt = False) -> None:
    """Print the spec language's JSON Schema (checked in as schemas/archc.schema.json)."""

    def body() -> int:
        from archc.spec.schema import json_schema_text

        sys.stdout.write(json_schema_text())
        return EXIT_OK

    run_command(body, debug)
