"""Third-party ops from the `archc.ops` entry-point group: each entry point names a module that
registers its ops with `archc.ops.register`, exactly like the built-in ones. A spec never names
Python code; only installed packages can add ops."""
from __future__ import annotations

import sys
from importlib import metadata

GROUP = "archc.ops"
PLUGIN_ERRORS: list[str] = []


def load_plugins() -> None:
    try:
        eps = metadata.entry_points(group=GROUP)
    except Exception as e:  # pragma: no cover - broken metadata
        PLUGIN_ERRORS.append(f"could not list {GROUP} entry points: {e}")
        return
    for ep in eps:
        try:
            ep.load()
        except Exception as e:
            PLUGIN_ERRORS.append(f"plugin {ep.name!r} ({ep.value}) failed to load: {e}")
            print(f"archc: warning: plugin {ep.name!r} failed to load: {e}", file=sys.stderr)
