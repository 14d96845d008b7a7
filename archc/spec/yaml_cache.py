"""The in-process cache of successful `load_yaml_file` loads.

Keyed by the file's bytes (not its mtime: same-size rewrites within one filesystem timestamp tick
must not be served stale), the display name and the limits. A hit re-reads the file (cheap) but
not the YAML (dear): linting specs that import the same library reads that library once. Each
caller gets its own copy of `data` (rebuilt from marshal), so a caller that changes the document
cannot change what later callers see; spans and text are immutable and shared.
"""
from __future__ import annotations

import marshal

from archc.spec.yaml_spans import Limits, Loaded, SpanMap

_FILE_CACHE: dict[tuple, tuple[bytes, SpanMap, str]] = {}
_FILE_CACHE_MAX_ENTRIES = 128
_FILE_CACHE_MAX_BYTES = 64 * 1024


def cache_key(raw: bytes, file: str, limits: Limits) -> tuple | None:
    """The cache key of a file's bytes, or None when the load is not cached (too big, or limits
    that cannot be hashed)."""
    if len(raw) > _FILE_CACHE_MAX_BYTES:
        return None
    key = (raw, file, limits)
    try:
        hash(key)
    except TypeError:  # unhashable limits: no caching
        return None
    return key


def cache_get(key: tuple | None, file: str) -> Loaded | None:
    """The cached load for `key` (a fresh copy of its data), or None."""
    if key is None:
        return None
    hit = _FILE_CACHE.get(key)
    if hit is None:
        return None
    blob, spans, text = hit
    return Loaded(data=marshal.loads(blob), spans=spans, file=file, text=text)


def cache_put(key: tuple | None, loaded: Loaded) -> None:
    """Remember `loaded` under `key` (oldest entry out when full); data too deep for marshal is
    not cached."""
    if key is None:
        return
    try:
        blob = marshal.dumps(loaded.data)
    except (ValueError, RecursionError):  # too deep for marshal (only with raised limits)
        return
    if len(_FILE_CACHE) >= _FILE_CACHE_MAX_ENTRIES:
        del _FILE_CACHE[next(iter(_FILE_CACHE))]
    _FILE_CACHE[key] = (blob, loaded.spans, loaded.text)
