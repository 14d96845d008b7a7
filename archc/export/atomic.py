"""Writing a build's output folder DIR all at once or not at all, one build at a time.

Design: a sibling staging folder and a directory swap. A build writes every file into
`PARENT/.NAME.archc-staging-<pid>-<hex>/` (NAME is DIR's name), with its final name, so artifacts
that refer to siblings (the source module's weights, ONNX external data) are verified exactly as
they will be used. The commit then makes the staging folder *be* DIR in one system call:

- DIR did not exist: `rename(staging, DIR)`. A failed build never creates DIR (nor the parents it
  made for it: they are removed again).
- DIR exists: the files in DIR that are not archc's (`owned()`) are hard-linked into the staging
  folder (sub-folders, which cannot be linked, are moved over right after the swap), then
  `renameat2(staging, DIR, RENAME_EXCHANGE)` swaps the two folders atomically; the old folder,
  now at the staging name, is removed. Where the file system has no RENAME_EXCHANGE the swap is
  two renames (`DIR -> .NAME.archc-old-...`, `staging -> DIR`); a build killed between them
  leaves DIR absent and the old folder whole beside it, and the next build puts it back.

So at every instant DIR holds either the old complete set of archc outputs with its manifest or
the new one, never a mix, and the manifest describes exactly the files beside it; a killed build
(even mid-commit) leaves the old set. Why this and not a versioned subfolder behind a symlink: DIR
keeps its layout (`DIR/manifest.json`, `DIR/model.pt2` are plain files, as every tool and test
expects) and readers need no indirection. The cost is that DIR's inode changes on each build (a
shell inside DIR sees the old folder until it `cd`s again).

Exclusive: a build holds `fcntl.flock` on `PARENT/.NAME.archc-lock` from before it looks at DIR
until its commit (or failure) is complete; a second build into DIR refuses at once with a message
naming the holder's pid (or waits up to `ARCHC_BUILD_WAIT` seconds). The lock file is removed by
its holder; a waiter that locked a removed file notices (the inode differs) and locks again. Under
the lock the only staging folders of DIR are those of dead builds (a live one holds the lock), and
their pid is in their name: one whose pid still runs is never touched; the others are cleaned
safely (a sub-folder of DIR that a killed build was moving is put back into DIR first).

Where a swap is impossible (DIR is a mount point, or its parent is not writable) the build stages
inside DIR and commits file by file: the old manifest is removed first and the new one written
last, so a manifest never describes a mixed set, but a killed commit can leave old and new
artifacts side by side without one. That is the only case without the guarantee above.

`--force` replaces only archc's own outputs: other files in DIR are never touched; archc outputs
of an earlier build that this build does not produce are removed, so DIR and its manifest agree.
An artifact name taken by a folder (or anything but a file) is refused before anything changes.

I/O failures (a read-only folder or file system, a full disk, a file size limit, a path through a
non-folder) are `OutputError`s: exit 1, one line naming the path and the cause. Before writing,
the free space and `RLIMIT_FSIZE` are checked against the artifacts' expected size; the torch
writers that abort the process on a failed write (`torch.export.save`, `ScriptModule.save`: a C++
exception in a destructor, SIGABRT) run in a forked child (`write_in_child`), so a full disk
cannot kill archc.

Fault injection: `FAULT_HOOK(point)` is called (and `ARCHC_COMMIT_FAULT=point` exits the process
with `os._exit(86)`) at every step of the commit; `tests/export/test_atomic_faults.py` kills a
build at each one and finds DIR in the old or the new complete state.
"""
from __future__ import annotations

import errno
import fcntl
import os
import re
import shutil
import stat
import time
import uuid
from typing import Any, Callable, Iterable

from archc.errors import EXIT_FAIL, UsageError

MANIFEST = "manifest.json"
STAGING_PREFIX = ".archc-staging-"      # staging inside DIR (the in-place mode; older archc versions)
STAGING_TAG = ".archc-staging-"         # PARENT/.NAME.archc-staging-<pid>-<hex>
OLD_TAG = ".archc-old-"                 # PARENT/.NAME.archc-old-<pid>-<hex> (the two-rename swap)
LOCK_TAG = ".archc-lock"
FAULT_ENV = "ARCHC_COMMIT_FAULT"
WAIT_ENV = "ARCHC_BUILD_WAIT"
FAULT_EXIT = 86
FAULT_HOOK: Callable[[str], None] | None = None   # called at every step of a commit (tests)
_TEMP_RE = re.compile(r"^\..*\.archc-(staging|old)-(\d+)-[0-9a-f]+$|^\.archc-staging-(\d+)-[0-9a-f]+$|^\..*\.archc-lock$")


def owned() -> frozenset[str]:
    """archc's own outputs: the manifest and the files of every registered export format."""
    from archc.export.registry import owned_files

    return frozenset({MANIFEST}) | owned_files()


# DIR cannot be used (exists and is not empty without --force, is a file, is being built): exit 2
OutDirError = UsageError


class OutputError(UsageError):
    """The output cannot be written (read-only, disk full, a file size limit, a path through a
    file): exit 1 with one line naming the path and the cause. (A UsageError for how it is shown:
    `archc: error: ...`, never a traceback; "a bad place to work in", but exit 1 as issue 12 asks.)"""

    exit_code = EXIT_FAIL


IO_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT, errno.EIO,
             errno.ENOTDIR, errno.EISDIR, errno.ENAMETOOLONG, errno.EMLINK, errno.ELOOP, errno.ENXIO}


def cause(code: int | None) -> str:
    """The readable cause of an errno (with the limit, for a file size limit)."""
    if code is None:
        return "the write failed"
    text = os.strerror(code)
    if code == errno.EFBIG:
        soft = _fsize_limit()
        if soft is not None:
            text += f" (the file size limit, `ulimit -f`, is {soft:,} bytes)"
    elif code in (errno.EACCES, errno.EPERM):
        text += " (the folder is read-only for this user)"
    return text


def output_error(path: str, code: int | None, *, unchanged: str | None = None, detail: str = "") -> OutputError:
    tail = f"; {unchanged} is unchanged" if unchanged else ""
    return OutputError(f"cannot write {path}: {cause(code)}{detail}{tail}")


def _fsize_limit() -> int | None:
    import resource

    soft = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    return None if soft == resource.RLIM_INFINITY else soft


def is_temp(name: str) -> bool:
    """A lock file or staging folder of some archc build (never an output, never counted)."""
    return bool(_TEMP_RE.match(name))


def check_outdir(path: str, force: bool) -> None:
    if os.path.lexists(path) and not os.path.isdir(path):
        raise OutDirError(f"{path} exists and is not a folder")
    if os.path.isdir(path):
        try:
            entries = [e for e in os.listdir(path) if not is_temp(e)]
        except OSError as e:
            raise output_error(path, e.errno) from None
        if entries and not force:
            raise OutDirError(f"{path} is not empty; pass --force to replace archc's outputs in it "
                              f"(other files are left alone)")


def artifact_bytes(gm: Any, formats: Iterable[str]) -> tuple[int, int]:
    """(all files, the largest file) a build of `gm` in `formats` is expected to write, roughly:
    each format stores the weights once, and a verification twin may store them once more."""
    seen, w = set(), 0
    for t in gm.state_dict().values():
        key = (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape)) if t.device.type != "meta" else id(t)
        if key not in seen:
            seen.add(key)
            w += t.numel() * t.element_size()
    n = len(list(formats))
    return 2 * n * w + n * (1 << 20), w + (1 << 20)


def _fault(point: str) -> None:
    if FAULT_HOOK is not None:
        FAULT_HOOK(point)
    if os.environ.get(FAULT_ENV) == point:
        os._exit(FAULT_EXIT)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --- renameat2(RENAME_EXCHANGE) ------------------------------------------------------------------

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_renameat2: Any = None


def exchange(a: str, b: str) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE). False where unsupported."""
    global _renameat2
    if _renameat2 is None:
        _renameat2 = False
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            fn = libc.renameat2
            fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
            fn.restype = ctypes.c_int
            _renameat2 = fn
        except (OSError, AttributeError):
            pass
    if not _renameat2:
        return False
    import ctypes

    if _renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    e = ctypes.get_errno()
    if e in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(e, os.strerror(e), b)


# --- the lock ----------------------------------------------------------------------------------

class BuildLock:
    """An exclusive flock on a lock file, held by one build; removed by its holder when released."""

    def __init__(self, path: str, shown: str, wait: float | None = None):
        self.path, self.fd = path, None
        wait = float(os.environ.get(WAIT_ENV, "0") or 0) if wait is None else wait
        deadline = time.monotonic() + wait
        while True:
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as e:
                raise output_error(os.path.dirname(path) or ".", e.errno, detail=" (cannot create the build's lock file)") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_pid(fd)
                os.close(fd)
                if time.monotonic() >= deadline:
                    who = f" (pid {holder})" if holder else ""
                    raise OutDirError(f"{shown}: another archc build{who} is writing this folder; wait for it to finish, "
                                      f"or set {WAIT_ENV}=SECONDS to wait for it") from None
                time.sleep(0.1)
                continue
            try:
                same = os.fstat(fd).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                same = False
            if not same:        # the holder removed the file while we waited: lock the new one
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            self.fd = fd
            return

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            os.unlink(self.path)
        except OSError:
            pass
        os.close(self.fd)
        self.fd = None


def _read_pid(fd: int) -> int | None:
    try:
        raw = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(raw) if raw.isdigit() else None
    except OSError:
        return None


# --- the staging folder --------------------------------------------------------------------------

class Staging:
    """A build's staging folder for DIR; `commit()` makes it DIR (see the module docstring).

    Holds DIR's lock from construction to `cleanup()`; under it, DIR is checked again (`force`),
    leftovers of dead builds are cleaned, and the free space and file size limit are checked
    against `expect` = (all files, the largest file) in bytes."""

    def __init__(self, outdir: str, force: bool = False, expect: tuple[int, int] = (0, 0), wait: float | None = None):
        self.outdir = outdir
        self.force = force
        self.created: list[str] = []     # parents this build made (innermost first): removed on failure
        self.committed = False
        self.path: str | None = None
        self.lock: BuildLock | None = None
        d = os.path.abspath(outdir)
        if os.path.islink(d) and os.path.isdir(d):
            d = os.path.realpath(d)      # swap the folder the link points to, never the link
        self.dir = d
        self.parent, self.name = os.path.dirname(d), os.path.basename(d)
        try:
            self._open(expect, wait)
        except BaseException:
            self.cleanup()
            raise

    # where things live
    def _sibling(self, tag: str) -> str:
        return os.path.join(self.parent, f".{self.name}{tag}{os.getpid()}-{uuid.uuid4().hex[:8]}")

    def _open(self, expect: tuple[int, int], wait: float | None) -> None:
        if os.path.lexists(self.dir) and not os.path.isdir(self.dir):
            raise OutDirError(f"{self.outdir} exists and is not a folder")
        p = self.parent
        missing = []
        while not os.path.exists(p):
            missing.append(p)
            if os.path.dirname(p) == p:
                break
            p = os.path.dirname(p)
        if os.path.lexists(p) and not os.path.isdir(p):
            raise output_error(self.outdir, errno.ENOTDIR, detail=f" ({p} is not a folder)")
        for m in reversed(missing):
            try:
                os.mkdir(m)
            except FileExistsError:
                continue
            except OSError as e:
                raise output_error(self.outdir, e.errno) from None
            self.created.insert(0, m)
        exists = os.path.isdir(self.dir)
        if exists and not os.access(self.dir, os.W_OK):
            raise output_error(self.outdir, errno.EACCES)
        self.swap = os.access(self.parent, os.W_OK) and (
            not exists or os.stat(self.dir).st_dev == os.stat(self.parent).st_dev)
        if not self.swap and not exists:
            raise output_error(self.outdir, errno.EACCES, detail=f" (cannot create it in {self.parent})")
        lock = os.path.join(self.parent, f".{self.name}{LOCK_TAG}") if self.swap else os.path.join(self.dir, f".archc{LOCK_TAG}")
        self.lock = BuildLock(lock, self.outdir, wait)
        recover(self.dir)
        check_outdir(self.dir, self.force)
        self._check_space(expect)
        self.path = self._sibling(STAGING_TAG) if self.swap else os.path.join(
            self.dir, f"{STAGING_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}")
        try:
            os.mkdir(self.path)
        except OSError as e:
            self.path = None
            raise output_error(self.outdir, e.errno, unchanged=self.outdir if exists else None) from None

    def _check_space(self, expect: tuple[int, int]) -> None:
        total, largest = expect
        where = self.parent if self.swap else self.dir
        if total:
            try:
                st = os.statvfs(where)
                free = st.f_bavail * st.f_frsize
            except OSError:
                free = None
            if free is not None and free < total:
                raise OutputError(f"cannot write {self.outdir}: {os.strerror(errno.ENOSPC)} (the artifacts need about "
                                  f"{_fmt(total)}, {_fmt(free)} are free)")
        soft = _fsize_limit()
        if largest and soft is not None and soft < largest:
            raise OutputError(f"cannot write {self.outdir}: {os.strerror(errno.EFBIG)} (the file size limit, `ulimit -f`, "
                              f"is {soft:,} bytes; an artifact needs about {largest:,})")

    def file(self, name: str) -> str:
        return os.path.join(self.path, name)

    # the commit
    def commit(self, names: Iterable[str]) -> list[str]:
        """Make the staged `names` DIR's archc outputs, all at once (manifest included); archc
        outputs of an earlier build that this one did not produce go. Returns the final paths."""
        names = [n for n in dict.fromkeys(names) if os.path.exists(self.file(n))]
        shown = self.outdir
        for n in names:   # an artifact name taken by a folder (or a FIFO...): refused, nothing changed
            p = os.path.join(self.dir, n)
            if os.path.lexists(p) and (os.path.isdir(p) or not (os.path.isfile(p) or os.path.islink(p))):
                raise OutDirError(f"{os.path.join(shown, n)} is {'a folder' if os.path.isdir(p) else 'not a file'}, "
                                  f"where the build writes its {n}; move it away or build into another folder")
        try:
            if self.swap:
                self._commit_swap(names)
            else:
                self._commit_in_place(names)
        except OSError as e:
            if self.committed:
                pass
            else:
                raise output_error(e.filename or shown, e.errno, unchanged=shown) from None
        self.committed = True
        self.cleanup()
        return [os.path.join(self.outdir, n) for n in names if n != MANIFEST] + (
            [os.path.join(self.outdir, MANIFEST)] if MANIFEST in names else [])

    def _commit_swap(self, names: list[str]) -> None:
        _fault("begin")
        for e in os.listdir(self.path):          # the staging folder holds the outputs only (no .verify/ twin)
            if e not in names:
                p = self.file(e)
                shutil.rmtree(p) if os.path.isdir(p) and not os.path.islink(p) else os.remove(p)
        if not os.path.isdir(self.dir):
            try:
                os.rename(self.path, self.dir)
                self.committed = True
                self.path = None
                _fault("renamed")
                return
            except OSError as e:
                if e.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
            check_outdir(self.dir, self.force)   # created meanwhile (not by archc: we hold the lock)
        keep = set(names)
        own = owned()
        later = []                                # sub-folders (and what cannot be linked): moved after the swap
        for e in sorted(os.listdir(self.dir)):
            src = os.path.join(self.dir, e)
            if e in keep or e == MANIFEST:
                continue
            st = os.lstat(src)
            regular = stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)
            if e in own and regular:
                continue                          # a stale archc output: it goes with the old folder
            if regular:
                try:
                    os.link(src, self.file(e), follow_symlinks=False)
                    continue
                except OSError:
                    pass
            later.append(e)
        _fault("linked")
        os.chmod(self.path, stat.S_IMODE(os.stat(self.dir).st_mode))
        try:
            cwd = os.getcwd()
        except OSError:
            cwd = None
        if exchange(self.path, self.dir):
            old = self.path
        else:
            old = self._sibling(OLD_TAG)
            os.rename(self.dir, old)
            _fault("moved-old")
            os.rename(self.path, self.dir)
        self.committed = True
        self.path = None
        _fault("swapped")
        for e in later:
            dst = os.path.join(self.dir, e)
            if not os.path.lexists(dst):
                try:
                    os.rename(os.path.join(old, e), dst)
                except OSError:
                    continue
            _fault(f"moved:{e}")
        if cwd is not None and (cwd == self.dir or cwd.startswith(self.dir + os.sep)):
            try:
                os.chdir(cwd)             # a process working inside DIR follows it into the new folder
            except OSError:
                pass
        _remove_safely(old, self.dir)
        _fault("cleaned")

    def _commit_in_place(self, names: list[str]) -> None:
        _fault("begin")
        m = os.path.join(self.dir, MANIFEST)
        if os.path.lexists(m):
            os.remove(m)              # first: no manifest ever describes a mixed set
        _fault("manifest-removed")
        for n in [n for n in names if n != MANIFEST]:
            os.replace(self.file(n), os.path.join(self.dir, n))
            _fault(f"replaced:{n}")
        for stale in sorted(owned() - set(names)):
            p = os.path.join(self.dir, stale)
            if os.path.isfile(p) and not os.path.islink(p):
                os.remove(p)
        _fault("stale-removed")
        if MANIFEST in names:
            os.replace(self.file(MANIFEST), m)
        self.committed = True
        _fault("manifest")

    def cleanup(self) -> None:
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            self.path = None
        if self.lock is not None:
            self.lock.release()
            self.lock = None
        if not self.committed:
            for d in self.created:
                try:
                    os.rmdir(d)      # only when empty: anything put there meanwhile stays
                except OSError:
                    break
            self.created = []

    def __enter__(self) -> "Staging":
        return self

    def __exit__(self, typ, exc, tb) -> None:
        shown, staged = self.outdir, self.path
        err = None
        if exc is not None and not self.committed and not isinstance(exc, (UsageError, KeyboardInterrupt)):
            err = classify(exc, staged or self.dir)     # (probing the staging folder before it goes)
        self.cleanup()
        if exc is None or self.committed or isinstance(exc, KeyboardInterrupt):
            return
        unchanged = shown if os.path.isdir(self.dir) else None

        def mine(path: str) -> str:       # a staged file is named as it would be in DIR
            return path.replace(staged, shown) if staged and path.startswith(staged) else path

        if isinstance(exc, OutputError):
            if staged and staged in str(exc):
                raise OutputError(mine(str(exc).replace(staged, shown)) + (f"; {unchanged} is unchanged" if unchanged else "")) from None
            return
        if err is not None:
            raise output_error(mine(err[0] or shown), err[1], unchanged=unchanged) from None


def _fmt(n: float) -> str:
    from archc.profile.units import fmt_bytes

    return fmt_bytes(n)


def _remove_safely(old: str, dest: str) -> bool:
    """Remove a dead or replaced folder of DIR: files and links go (a file of the user's has its
    other link in DEST); a sub-folder not yet in DEST is put back into DEST first; one that DEST
    already has is left where it is (never deleted). True when `old` is gone."""
    left = False
    try:
        entries = os.listdir(old)
    except FileNotFoundError:
        return True
    own = owned()
    for e in entries:
        p = os.path.join(old, e)
        st = os.lstat(p)
        if stat.S_ISDIR(st.st_mode):
            if e == ".verify":
                shutil.rmtree(p, ignore_errors=True)
                continue
            dst = os.path.join(dest, e)
            if os.path.isdir(dest) and not os.path.lexists(dst):
                try:
                    os.rename(p, dst)
                    continue
                except OSError:
                    pass
            left = True
            continue
        if stat.S_ISREG(st.st_mode) and st.st_nlink == 1 and e not in own and os.path.isdir(dest) \
                and not os.path.lexists(os.path.join(dest, e)):
            try:                     # a file of the user's that only this folder holds: back into DEST
                os.rename(p, os.path.join(dest, e))
                continue
            except OSError:
                pass
        try:
            os.remove(p)
        except OSError:
            left = True
    if not left:
        try:
            os.rmdir(old)
        except OSError:
            return False
    return not left


def recover(outdir: str) -> None:
    """Clean up after dead builds of DIR (call it holding DIR's lock): a two-rename swap killed
    between its renames is completed backwards (the old folder becomes DIR again); staging and old
    folders of dead builds are removed safely (`_remove_safely`), as are the in-place staging
    folders of dead builds inside DIR. A folder whose pid still runs is never touched."""
    d = os.path.abspath(outdir)
    parent, name = os.path.dirname(d), os.path.basename(d)
    try:
        entries = sorted(os.listdir(parent))
    except OSError:
        entries = []
    pat = re.compile(rf"^\.{re.escape(name)}\.archc-(staging|old)-(\d+)-[0-9a-f]+$")
    found = [(m.group(1), int(m.group(2)), os.path.join(parent, e)) for e in entries if (m := pat.match(e))]
    dead = [(k, p) for k, pid, p in found if not _pid_alive(pid)]
    if not os.path.isdir(d):
        olds = [p for k, p in dead if k == "old"]
        if olds:
            os.rename(olds[0], d)        # killed between the two renames: the old folder is DIR again
            dead = [(k, p) for k, p in dead if p != olds[0]]
    for _, p in dead:
        _remove_safely(p, d)
    if os.path.isdir(d):
        for e in os.listdir(d):
            m = re.match(r"^\.archc-staging-(\d+)-[0-9a-f]+$", e)
            if m and not _pid_alive(int(m.group(1))):
                shutil.rmtree(os.path.join(d, e), ignore_errors=True)


# --- I/O failures ------------------------------------------------------------------------------

_OS_ERROR_RE = re.compile(r"os error (\d+)|\[Errno (\d+)\]")


def classify(exc: BaseException, where: str) -> tuple[str | None, int] | None:
    """(path, errno) when `exc` is an I/O failure of a write under `where` (or of a write whose
    errno is an I/O one); None for anything else (a bug stays a bug)."""
    if isinstance(exc, OutputError):
        return None
    if isinstance(exc, OSError) and exc.errno in IO_ERRNOS:
        return exc.filename, exc.errno
    m = _OS_ERROR_RE.search(str(exc))
    if m:
        code = int(m.group(1) or m.group(2))
        if code in IO_ERRNOS:
            return None, code
    text = str(exc)
    if isinstance(exc, RuntimeError) and ("file write failed" in text or "unexpected pos" in text
                                          or "PytorchStreamWriter" in text):
        return None, probe(where)
    return None


def probe(where: str, path: str | None = None) -> int | None:
    """The errno a write in `where` (appending to `path`, when given) fails with now, if any."""
    soft = _fsize_limit()
    if soft is not None and path is None:
        for root, _, files in os.walk(where):
            for f in files:
                try:
                    if os.path.getsize(os.path.join(root, f)) >= soft:
                        return errno.EFBIG
                except OSError:
                    pass
    target = path
    tmp = None
    if target is None:
        target = tmp = os.path.join(where if os.path.isdir(where) else os.path.dirname(where), f".archc-probe-{uuid.uuid4().hex[:8]}")
    try:
        with open(target, "ab") as f:
            f.write(b"\0" * (1 << 16))
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        return e.errno if e.errno in IO_ERRNOS else None
    finally:
        if tmp is not None:
            try:
                os.remove(tmp)
            except OSError:
                pass
    return None


def write_in_child(path: str, fn: Callable[..., Any], *args: Any) -> None:
    """Run `fn(*args)`, a writer of `path` that may abort the process on a failed write (torch's
    C++ serialisers), in a forked child: its stderr (C++ frames) never reaches the terminal, and a
    failure is an OutputError naming `path` and the cause (the errno a write there fails with now,
    e.g. ENOSPC or EFBIG), or a RuntimeError with the writer's one-line message. In-process where
    there is no fork."""
    if not hasattr(os, "fork") or os.environ.get("ARCHC_WRITE_IN_PROCESS") == "1":
        fn(*args)
        return
    import warnings

    r, w = os.pipe()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)   # fork in a threaded process (3.12+)
            pid = os.fork()
    except OSError:                # no memory for a child (strict overcommit): write here after all
        os.close(r)
        os.close(w)
        fn(*args)
        return
    if pid == 0:  # the child: never returns
        code = 1
        try:
            os.close(r)
            os.dup2(w, 2)
            fn(*args)
            code = 0
        except BaseException as e:  # noqa: BLE001 - reported to the parent
            try:
                os.write(w, f"\n@@archc-error {type(e).__name__}: {e}\n".encode("utf-8", "replace")[-4000:])
            except BaseException:  # noqa: BLE001
                pass
        finally:
            os._exit(code)
    os.close(w)
    chunks = []
    with os.fdopen(r, "rb") as f:
        while True:
            b = f.read(65536)
            if not b:
                break
            chunks.append(b)
            if sum(map(len, chunks)) > (1 << 20):
                chunks = chunks[-4:]
    _, status = os.waitpid(pid, 0)
    if status == 0:
        return
    text = b"".join(chunks).decode("utf-8", "replace")
    code = probe(os.path.dirname(path), path)
    m = _OS_ERROR_RE.search(text)
    if code is None and m and int(m.group(1) or m.group(2)) in IO_ERRNOS:
        code = int(m.group(1) or m.group(2))
    if code is not None:
        raise output_error(path, code)
    raise RuntimeError(f"writing {path} failed: {_one_line(text, status)}")


def _one_line(text: str, status: int) -> str:
    for marker in ("@@archc-error ", "what():"):
        for line in text.splitlines():
            if marker in line:
                return line.split(marker, 1)[1].strip()[:300]
    if os.WIFSIGNALED(status):
        return f"the writer was killed by signal {os.WTERMSIG(status)}"
    return f"the writer exited with status {os.waitstatus_to_exitcode(status)}"
