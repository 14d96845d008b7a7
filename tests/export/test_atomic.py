"""Exclusive builds and clean I/O failures (issue 12, items 4 and 5): one build at a time per
folder, another build's live staging never touched, an artifact name taken by a folder refused
before anything changes; read-only output, a full disk, a file size limit, a path through a file:
exit 1, one line naming the path and the cause, the previous artifacts intact, never SIGABRT."""
from __future__ import annotations

import errno
import json
import os
import resource
import subprocess
import sys
import threading
import time

import pytest
from typer.testing import CliRunner

from archc.cli.main import app
from archc.export import atomic

runner = CliRunner()
ENV = {**os.environ, "PYTHONPATH": os.getcwd()}
BUILD = [sys.executable, "-m", "archc", "build", "specs/mlp.yaml"]


def _snapshot(d) -> dict:
    return {e: (d / e).read_bytes() for e in sorted(os.listdir(d)) if (d / e).is_file()}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A folder holding a complete build (state_dict), and its files."""
    out = tmp_path_factory.mktemp("built") / "o"
    r = runner.invoke(app, ["build", "specs/mlp.yaml", "-o", str(out), "--emit", "state_dict"])
    assert r.exit_code == 0, r.output
    return out, _snapshot(out)


def _copy(built, tmp_path):
    import shutil

    out = tmp_path / "o"
    shutil.copytree(built[0], out)
    return out


# --- exclusive ------------------------------------------------------------------------------

def test_second_build_refuses_while_the_first_holds_the_folder(tmp_path):
    out = tmp_path / "o"
    with atomic.Staging(str(out)) as first:
        r = runner.invoke(app, ["build", "specs/mlp.yaml", "-o", str(out), "--emit", "state_dict", "--force"])
        assert r.exit_code == 2, r.output
        assert f"another archc build (pid {os.getpid()}) is writing this folder" in r.stderr
        assert os.path.isdir(first.path)        # the first build's staging is untouched
    assert not out.exists() and os.listdir(tmp_path) == []


def test_second_build_waits_for_the_first_and_then_refuses_without_force(tmp_path, monkeypatch):
    out = tmp_path / "o"
    monkeypatch.setenv(atomic.WAIT_ENV, "30")
    first = atomic.Staging(str(out))
    names = []
    for n in ("model.safetensors", atomic.MANIFEST):
        (open(first.file(n), "w")).write(n)
        names.append(n)

    def finish():
        time.sleep(0.5)
        first.commit(names)

    t = threading.Thread(target=finish)
    t.start()
    t0 = time.monotonic()
    r = runner.invoke(app, ["build", "specs/mlp.yaml", "-o", str(out), "--emit", "state_dict"])
    t.join()
    assert time.monotonic() - t0 >= 0.4
    assert r.exit_code == 2 and "is not empty; pass --force" in r.stderr    # never replaces the first's artifacts
    assert (out / "model.safetensors").read_text() == "model.safetensors"


def test_lock_survives_its_file_being_replaced(tmp_path):
    """A waiter that locked a lock file its holder removed locks the new one (never two holders)."""
    out = str(tmp_path / "o")
    a = atomic.Staging(out)
    lock = a.lock.path
    got = []

    def second():
        b = atomic.Staging(out, wait=20)
        got.append(b)

    t = threading.Thread(target=second)
    t.start()
    time.sleep(0.3)
    assert not got
    a.cleanup()                       # removes the lock file while the second waits on it
    t.join()
    (b,) = got
    assert os.stat(lock).st_ino == os.fstat(b.lock.fd).st_ino
    with pytest.raises(atomic.OutDirError, match="another archc build"):
        atomic.Staging(out)
    b.cleanup()


def test_live_staging_of_another_build_is_never_deleted_dead_one_is(tmp_path, built):
    out = _copy(built, tmp_path)
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    try:
        live_dir = tmp_path / f".o.archc-staging-{live.pid}-0123abcd"
        dead_dir = tmp_path / f".o.archc-staging-{dead.pid}-0123abce"
        old_style = out / f".archc-staging-{dead.pid}-0123abcf"
        for d in (live_dir, dead_dir, old_style):
            d.mkdir()
            (d / "model.pt2").write_text("partial")
        r = runner.invoke(app, ["build", "specs/mlp.yaml", "-o", str(out), "--emit", "state_dict", "--force"])
        assert r.exit_code == 0, r.output
        assert (live_dir / "model.pt2").read_text() == "partial"
        assert not dead_dir.exists() and not old_style.exists()
    finally:
        live.kill()
        live.wait()


def test_artifact_name_taken_by_a_folder_is_refused_before_anything_changes(tmp_path, built):
    out = _copy(built, tmp_path)
    (out / "model.py").mkdir()
    (out / "model.py" / "keep.txt").write_text("mine")
    before = _snapshot(out)
    r = runner.invoke(app, ["build", "specs/mlp.yaml", "-o", str(out), "--emit", "source", "--force"])
    assert r.exit_code == 2, r.output
    assert f"{out / 'model.py'} is a folder, where the build writes its model.py" in r.stderr
    assert _snapshot(out) == before and (out / "model.py" / "keep.txt").read_text() == "mine"
    assert sorted(os.listdir(tmp_path)) == ["o"]


def test_force_keeps_user_files_and_folders_and_mode(tmp_path, built):
    out = _copy(built, tmp_path)
    (out / "notes.txt").write_text("mine")
    (out / "data").mkdir()
    (out / "data" / "x.bin").write_bytes(b"x")
    os.chmod(out, 0o750)
    r = runner.invoke(app, ["build", "specs/mlp.yaml", "-o", str(out), "--emit", "source", "--force"])
    assert r.exit_code == 0, r.output
    assert sorted(os.listdir(out)) == ["data", "manifest.json", "model.py", "model.safetensors", "notes.txt"]
    assert (out / "notes.txt").read_text() == "mine" and (out / "data" / "x.bin").read_bytes() == b"x"
    assert os.stat(out).st_mode & 0o777 == 0o750
    man = json.loads((out / "manifest.json").read_text())
    assert set(man["artifacts"]) == {"source"}
    assert sorted(os.listdir(tmp_path)) == ["o"]


def test_symlinked_output_folder_stays_a_link(tmp_path, built):
    real = _copy(built, tmp_path)
    link = tmp_path / "link"
    link.symlink_to(real)
    r = runner.invoke(app, ["build", "specs/mlp.yaml", "-o", str(link), "--emit", "source", "--force"])
    assert r.exit_code == 0, r.output
    assert link.is_symlink() and (real / "model.py").is_file()


# --- I/O failures -----------------------------------------------------------------------------

def _one_line_exit_1(r, path_text: str, cause: str) -> None:
    err = r.stderr.decode() if isinstance(r.stderr, bytes) else r.stderr
    assert r.returncode == 1 if hasattr(r, "returncode") else r.exit_code == 1, err
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"archc: error: cannot write {path_text}") and cause in lines[0], err
    assert "Traceback" not in err and "frame #" not in err and "terminate called" not in err


def _fsize(limit):
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_file_size_limit_is_refused_before_writing(tmp_path, built):
    out = _copy(built, tmp_path)
    before = _snapshot(out)
    r = subprocess.run(BUILD + ["-o", str(out), "--emit", "pt2,torchscript", "--force"], env=ENV, capture_output=True,
                       preexec_fn=_fsize(300_000))
    _one_line_exit_1(r, str(out), "File too large (the file size limit, `ulimit -f`, is 300,000 bytes")
    assert _snapshot(out) == before and sorted(os.listdir(tmp_path)) == ["o"]


@pytest.mark.parametrize("writer", ["torch.export.save", "ScriptModule.save"])
def test_torch_writers_that_abort_run_in_a_child(tmp_path, writer):
    """Measured: under RLIMIT_FSIZE (or on /dev/full) torch.export.save and ScriptModule.save die
    with SIGABRT and C++ frames; through write_in_child they are an OutputError."""
    code = f"""
import resource, sys, torch
from archc.export.atomic import write_in_child, OutputError
class M(torch.nn.Module):
    def __init__(s):
        super().__init__(); s.l = torch.nn.Linear(300, 300)
    def forward(s, x):
        return s.l(x)
m = M()
path = sys.argv[1]
if {writer!r} == "torch.export.save":
    ep = torch.export.export(m, (torch.randn(2, 300),))
    fn, args = torch.export.save, (ep, path)
else:
    sm = torch.jit.script(torch.nn.Linear(300, 300))
    fn, args = sm.save, (path,)
if sys.argv[2] == "rlimit":
    resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))
try:
    write_in_child(path, fn, *args)
except OutputError as e:
    print("OUTPUT-ERROR", e)
"""
    for mode, path, cause in (("rlimit", str(tmp_path / "m.bin"), "File too large"),
                              ("full", "/dev/full", "No space left on device")):
        r = subprocess.run([sys.executable, "-c", code, path, mode], env=ENV, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr[-2000:]
        assert f"OUTPUT-ERROR cannot write {path}: {cause}" in r.stdout, r.stdout + r.stderr[-2000:]
        assert "frame #" not in r.stderr and "terminate called" not in r.stderr


def test_disk_full_during_the_build_keeps_the_old_artifacts(tmp_path, built):
    """An artifact whose staged file is a link to /dev/full (every write: ENOSPC), through the CLI."""
    out = _copy(built, tmp_path)
    before = _snapshot(out)
    script = (
        "import sys\nfrom archc.export import atomic\n"
        "orig, art = atomic.Staging.file, sys.argv[1]\n"
        "def staged(self, n):\n"
        "    p = orig(self, n)\n"
        "    if n == art and not __import__('os').path.lexists(p):\n"
        "        __import__('os').symlink('/dev/full', p)\n"
        "    return p\n"
        "atomic.Staging.file = staged\n"
        "from archc.cli.main import main\nsys.argv = ['archc'] + sys.argv[2:]\nmain()\n")
    for emit, art in (("pt2", "model.pt2"), ("torchscript", "model.torchscript.pt"), ("state_dict", "model.safetensors")):
        r = subprocess.run([sys.executable, "-c", script, art, "build", "specs/mlp.yaml", "-o", str(out), "--emit", emit,
                            "--force"], env=ENV, capture_output=True)
        err = r.stderr.decode()
        assert r.returncode == 1, (emit, err[-3000:])
        assert "Traceback" not in err and "frame #" not in err and "terminate called" not in err, (emit, err[-3000:])
        if emit != "state_dict":   # safetensors reports no error writing /dev/full: its reload then fails (ARC622)
            assert err.strip() == f"archc: error: cannot write {out / art}: No space left on device; {out} is unchanged", err
        assert _snapshot(out) == before
        assert sorted(os.listdir(tmp_path)) == ["o"]


def test_not_enough_free_space_is_refused_before_writing(tmp_path, built, monkeypatch):
    out = _copy(built, tmp_path)
    before = _snapshot(out)

    class Full:
        f_bavail, f_frsize = 10, 4096

    monkeypatch.setattr(atomic.os, "statvfs", lambda p: Full())
    r = runner.invoke(app, ["build", "specs/mlp.yaml", "-o", str(out), "--emit", "state_dict", "--force"])
    assert r.exit_code == 1, r.output
    assert f"archc: error: cannot write {out}: No space left on device (the artifacts need about" in r.stderr
    assert "40.00 KiB are free" in r.stderr
    assert _snapshot(out) == before


def test_read_only_output_folder(tmp_path, built, monkeypatch):
    out = _copy(built, tmp_path)
    before = _snapshot(out)
    if os.geteuid() != 0:
        os.chmod(out, 0o555)
    else:  # root writes anywhere: the folder reports itself read-only
        real = os.access
        monkeypatch.setattr(atomic.os, "access", lambda p, m, **k: False if str(p) == str(out) else real(p, m, **k))
    try:
        r = runner.invoke(app, ["build", "specs/mlp.yaml", "-o", str(out), "--emit", "state_dict", "--force"])
    finally:
        os.chmod(out, 0o755)
    assert r.exit_code == 1, r.output
    assert r.stderr.strip() == f"archc: error: cannot write {out}: Permission denied (the folder is read-only for this user)"
    assert _snapshot(out) == before


def test_read_only_file_system(tmp_path, monkeypatch):
    def erofs(p, *a, **k):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), p)

    monkeypatch.setattr(atomic.os, "mkdir", erofs)
    r = runner.invoke(app, ["build", "specs/mlp.yaml", "-o", str(tmp_path / "a" / "o"), "--emit", "state_dict"])
    assert r.exit_code == 1, r.output
    assert r.stderr.strip() == f"archc: error: cannot write {tmp_path / 'a' / 'o'}: Read-only file system"
    assert os.listdir(tmp_path) == []


def test_path_through_a_file(tmp_path):
    r = subprocess.run(BUILD + ["-o", "/dev/full/o", "--emit", "state_dict"], env=ENV, capture_output=True)
    _one_line_exit_1(r, "/dev/full/o", "Not a directory (/dev/full is not a folder)")
    (tmp_path / "f").write_text("x")
    r = runner.invoke(app, ["build", "specs/mlp.yaml", "-o", str(tmp_path / "f" / "a" / "o"), "--emit", "state_dict"])
    assert r.exit_code == 1 and "Not a directory" in r.stderr, r.output


def test_classify_reads_writer_errors():
    assert atomic.classify(OSError(errno.ENOSPC, "x", "/p"), "/") == ("/p", errno.ENOSPC)
    assert atomic.classify(RuntimeError("Error while serializing: I/O error: File too large (os error 27)"), "/") == (None, 27)
    assert atomic.classify(ValueError("a bug"), "/") is None
    assert atomic.classify(OSError(errno.ENOENT, "x"), "/") is None     # not an I/O failure of the output


def test_building_into_the_working_folder_follows_it(tmp_path, built, monkeypatch):
    out = _copy(built, tmp_path)
    monkeypatch.chdir(out)
    with atomic.Staging(".", True) as st:
        open(st.file("model.safetensors"), "w").write("new")
        open(st.file(atomic.MANIFEST), "w").write("{}")
        st.commit(["model.safetensors", atomic.MANIFEST])
    assert os.path.samefile(os.getcwd(), out)
    assert open("model.safetensors").read() == "new"
