"""`archc ops [NAME]`: the op reference from the registry (all ops by family, or one in detail)."""
from __future__ import annotations

import difflib
import sys
from typing import Optional

import typer
from typing_extensions import Annotated

from archc.cli._common import EXIT_OK, DebugOpt, JsonOpt, UsageError, print_json, run_command, stdout_console


def ops(
    name: Annotated[Optional[str], typer.Argument(help="An op (conv2d) or a family (norm); all ops when absent.",
                                                   metavar="NAME")] = None,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print the Markdown reference (docs/ops.md) instead.")] = False,
    json_: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """The op reference: attributes with types and defaults, the shape rule, what each op lowers to, an example."""

    def body() -> int:
        from archc.ops import load_ops
        from archc.report.ops import families, op_entry, ops_document, ops_markdown, render_op_detail, render_ops_list

        registry = load_ops()
        if markdown:
            if name is not None or json_:
                raise UsageError("--markdown prints the whole reference; give no NAME and no --json")
            sys.stdout.write(ops_markdown(registry))
            return EXIT_OK
        fams = families(registry)
        if name is not None and name not in registry and name not in fams:
            close = difflib.get_close_matches(name, list(registry) + list(fams), n=3)
            raise UsageError(f"no op or family named {name!r}"
                             + (f"; did you mean {', '.join(close)}?" if close else "; `archc ops` lists them"))
        if json_:
            if name in registry:
                print_json({"schema_version": 1, "op": op_entry(registry[name])})
            else:
                doc = ops_document(registry)
                if name is not None:
                    doc["families"] = {name: doc["families"][name]}
                print_json(doc)
            return EXIT_OK
        con = stdout_console()
        if name in registry:
            render_op_detail(con, registry[name])
        else:
            render_ops_list(con, registry, name)
        return EXIT_OK

    run_command(body, debug)
