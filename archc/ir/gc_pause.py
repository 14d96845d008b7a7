"""`paused()`: the cyclic garbage collector off while a front-end stage builds a large structure.

The front end allocates a few small objects per node and frees almost none of them until the
stage ends, so every automatic collection finds nothing to free and walks more live objects than
the one before: measured on a 50,000-node spec, collections took more time than elaboration and
the lint rules themselves. Reference counting still frees everything acyclic at once; cycles made
meanwhile (exceptions and their frames) wait for the next collection after the stage. Nested uses
leave the collector as the outermost found it.
"""
from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def paused() -> Iterator[None]:
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
