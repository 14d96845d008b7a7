"""Writing artifacts so that nothing is lost and nothing partial appears under a final name.

A build stages every file in a hidden folder inside DIR (`.archc-staging-<pid>-<random>/`), with
its final name, so that artifacts that refer to siblings (the source module's weights, ONNX
external data) are verified exactly as they will be used. Only when every artifact has been
written and verified are the files moved into DIR, one `os.replace` each (atomic on one file
system), the manifest last; a failed or interrupted build removes its staging folder and leaves
DIR as it was (a DIR the build created, and parents it created, are removed again).

`--force` replaces only archc's own outputs (`owned()`: the manifest and every file a registered
format may write): other files in DIR are never touched; archc outputs of an earlier build that
this build does not produce are removed, so DIR and its manifest agree.
"""
from __future__ import annotations

import os
import shutil
import uuid
from typing import Iterable

from archc.errors import UsageError

MANIFEST = "manifest.json"
STAGING_PREFIX = ".archc-staging-"


def owned() -> frozenset[str]:
    """archc's own outputs: the manifest and the files of every registered export format."""
    from archc.export.registry import owned_files

    return frozenset({MANIFEST}) | owned_files()


# DIR cannot be used (exists and is not empty without --force, or is a file): a usage error
OutDirError = UsageError


def check_outdir(path: str, force: bool) -> None:
    if os.path.exists(path) and not os.path.isdir(path):
        raise OutDirError(f"{path} exists and is not a folder")
    if os.path.isdir(path):
        entries = [e for e in os.listdir(path) if not e.startswith(STAGING_PREFIX)]
        if entries and not force:
            raise OutDirError(f"{path} is not empty; pass --force to replace archc's outputs in it "
                              f"(other files are left alone)")


class Staging:
    """A hidden staging folder inside DIR; `commit()` moves its files into DIR."""

    def __init__(self, outdir: str):
        self.outdir = outdir
        # the folders this build creates (DIR and any missing parents, innermost first): a failed
        # build removes them again, so it leaves no new empty folder behind (never one that existed)
        self.created: list[str] = []
        p = os.path.abspath(outdir)
        while not os.path.exists(p):
            self.created.append(p)
            parent = os.path.dirname(p)
            if parent == p:
                break
            p = parent
        os.makedirs(outdir, exist_ok=True)
        for e in os.listdir(outdir):  # leftovers of an interrupted build (a killed process)
            if e.startswith(STAGING_PREFIX):
                shutil.rmtree(os.path.join(outdir, e), ignore_errors=True)
        self.path = os.path.join(outdir, f"{STAGING_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}")
        os.mkdir(self.path)
        self.committed = False

    def file(self, name: str) -> str:
        return os.path.join(self.path, name)

    def commit(self, names: Iterable[str]) -> list[str]:
        """Move the staged `names` into DIR (manifest last); remove archc outputs of an earlier
        build that this one did not produce. Returns the final paths."""
        names = [n for n in names if os.path.exists(self.file(n))]
        done = []
        for n in [n for n in names if n != MANIFEST]:
            dst = os.path.join(self.outdir, n)
            os.replace(self.file(n), dst)
            done.append(dst)
        for stale in sorted(owned() - set(names)):  # before the manifest, so it never lists a stale file
            p = os.path.join(self.outdir, stale)
            if os.path.isfile(p):
                os.remove(p)
        if MANIFEST in names:
            os.replace(self.file(MANIFEST), os.path.join(self.outdir, MANIFEST))
            done.append(os.path.join(self.outdir, MANIFEST))
        self.committed = True
        self.cleanup()
        return done

    def cleanup(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        if not self.committed:
            for d in self.created:
                try:
                    os.rmdir(d)      # only when empty: anything put there meanwhile stays
                except OSError:
                    break

    def __enter__(self) -> "Staging":
        return self

    def __exit__(self, *exc) -> None:
        self.cleanup()
