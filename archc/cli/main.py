"""The `archc` command line: a thin layer over the Python API, one module per command."""
from __future__ import annotations

import sys

import typer
from typing_extensions import Annotated

from archc.cli import build as _build
from archc.cli import check as _check
from archc.cli import compare as _compare
from archc.cli import graph as _graph
from archc.cli import lint as _lint
from archc.cli import ops as _ops
from archc.cli import profile as _profile
from archc.cli import schema as _schema

app = typer.Typer(
    name="archc",
    help="A compiler for neural-network architectures: YAML specs to verified PyTorch.\n\n"
    "Exit codes: 0 clean; 1 the spec or its result fails; 2 usage; 3 a missing optional dependency; 4 internal error.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _print_version(value: bool) -> None:
    if value:
        from archc import __version__
        from archc.errors import DISTRIBUTION

        print(f"archc {__version__} ({DISTRIBUTION})")
        raise typer.Exit()


@app.callback()
def _options(version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                                   help="Print archc's version and exit.")] = False) -> None:
    pass   # `-V` is `--variant` in the commands, so the version is `--version` (or `archc version`)


# in the order users meet them; each command module imports torch (if at all) inside its body
app.command("check")(_check.check)
app.command("build")(_build.build)
app.command("compare")(_compare.compare)
app.command("profile")(_profile.profile)
app.command("lint")(_lint.lint)
app.command("graph")(_graph.graph)
app.command("ops")(_ops.ops)
app.command("schema")(_schema.schema)


@app.command("version")
def version() -> None:
    """Print archc's version."""
    from archc import __version__

    print(__version__)


def main() -> None:
    try:
        app()
    except SystemExit:
        raise
    except Exception as e:  # pragma: no cover - last resort; commands handle their own errors
        sys.stderr.write(f"archc: internal error: {type(e).__name__}: {e}\n")
        sys.exit(4)


if __name__ == "__main__":
    main()
