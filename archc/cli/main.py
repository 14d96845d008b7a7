"""The `archc` command line: a thin layer over the Python API, one module per command.

`app` (the typer app of every command) is built when first asked for. `archc lint ...`, which
pre-commit hooks and CI run on every change, starts on an app that holds only the lint command:
it does not import the other commands' modules (nor what their help texts read, such as the
export registry), so lint starts about as fast as yamllint.
"""
from __future__ import annotations

import sys
from typing import Any

import typer
from typing_extensions import Annotated

def _usage_name(self: Any) -> str:
    """A required argument as click writes it, `SPEC` (typer 0.29 writes `{SPEC}`), an optional one
    `[SPEC]`; `...` when it repeats."""
    name = self.display_name_raw
    if self.nargs != 1 and not name.endswith("..."):
        name += "..."
    return name if self.required else f"[{name}]"


if hasattr(typer.core.TyperArgument, "_usage_display_name"):
    typer.core.TyperArgument._usage_display_name = _usage_name

HELP = ("A compiler for neural-network architectures: YAML specs to verified PyTorch.\n\n"
        "Exit codes: 0 clean; 1 the spec or its result fails; 2 usage; 3 a missing optional dependency; 4 internal error.")


def _typer() -> typer.Typer:
    return typer.Typer(name="archc", help=HELP, no_args_is_help=True, add_completion=False,
                       pretty_exceptions_enable=False, rich_markup_mode=None)


def _print_version(value: bool) -> None:
    if value:
        from archc import __version__
        from archc.errors import DISTRIBUTION

        print(f"archc {__version__} ({DISTRIBUTION})")
        raise typer.Exit()


def _options(version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                                   help="Print archc's version and exit.")] = False) -> None:
    pass   # `-V` is `--variant` in the commands, so the version is `--version` (or `archc version`)


def version() -> None:
    """Print archc's version."""
    from archc import __version__

    print(__version__)


def build_app() -> typer.Typer:
    """The app of every command, in the order users meet them; each command module imports torch
    (if at all) inside its body."""
    from archc.cli import build as _build
    from archc.cli import check as _check
    from archc.cli import compare as _compare
    from archc.cli import graph as _graph
    from archc.cli import lint as _lint
    from archc.cli import ops as _ops
    from archc.cli import profile as _profile
    from archc.cli import schema as _schema

    a = _typer()
    a.callback()(_options)
    a.command("check")(_check.check)
    a.command("build")(_build.build)
    a.command("compare")(_compare.compare)
    a.command("profile")(_profile.profile)
    a.command("lint")(_lint.lint)
    a.command("graph")(_graph.graph)
    a.command("ops")(_ops.ops)
    a.command("schema")(_schema.schema)
    a.command("version")(version)
    return a


def lint_app() -> typer.Typer:
    """An app with the lint command only: what `archc lint ...` runs (same options, same help,
    same usage line `archc lint`)."""
    from archc.cli import lint as _lint

    a = _typer()
    a.callback()(_options)
    a.command("lint")(_lint.lint)
    return a


_APP: typer.Typer | None = None


def __getattr__(name: str) -> Any:
    if name == "app":   # `from archc.cli.main import app`: the whole app, built once
        global _APP
        if _APP is None:
            _APP = build_app()
        return _APP
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _for(argv: list[str]) -> typer.Typer:
    """The app that runs `argv`: lint's own when the command is `lint`."""
    if argv[:1] == ["lint"]:
        return lint_app()
    return __getattr__("app")


def main() -> None:
    try:
        if sys.argv[1:2] == ["lint"]:
            from archc.cli.lint import fast_main

            fast_main(sys.argv[2:])   # exits, unless the typer app is to read this command line
        _for(sys.argv[1:])()
    except SystemExit:
        raise
    except Exception as e:  # pragma: no cover - last resort; commands handle their own errors
        sys.stderr.write(f"archc: internal error: {type(e).__name__}: {e}\n")
        sys.exit(4)


if __name__ == "__main__":
    main()
