"""Fault injection into the build's commit (issue 12, item 4 and its acceptance): a build killed
(`os._exit`, in a forked child) at every step of its commit leaves DIR in the old or the new
complete state, the manifest describing exactly the archc files beside it; the next build cleans
up after it and puts back anything of the user's the killed one was moving."""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys

import pytest

from archc.export import atomic

OLD = {"manifest.json": ["model.safetensors", "model.pt2"], "model.safetensors": "old weights", "model.pt2": "old program"}
NEW = {"manifest.json": ["model.safetensors", "model.py"], "model.safetensors": "new weights", "model.py": "new source"}
USER = {"notes.txt": "mine", "data/a.txt": "a", "data/deep/b.txt": "b"}


def _write_set(stage_file, files: dict) -> list[str]:
    for name, content in files.items():
        with open(stage_file(name), "w") as f:
            f.write(json.dumps({"files": content}) if name == atomic.MANIFEST else content)
    return list(files)


def _commit(out: str, files: dict, force: bool = True) -> None:
    with atomic.Staging(out, force) as st:
        st.commit(_write_set(st.file, files))


def _archc_state(out: str) -> dict | None:
    """The archc outputs in DIR: name -> content; the manifest must list exactly the files beside it."""
    if not os.path.isdir(out):
        return None
    own = atomic.owned()
    present = {e for e in os.listdir(out) if e in own}
    state = {}
    for e in present:
        with open(os.path.join(out, e)) as f:
            state[e] = f.read()
    if atomic.MANIFEST in state:
        listed = json.loads(state[atomic.MANIFEST])["files"]
        assert set(listed) == present - {atomic.MANIFEST}, f"the manifest lists {listed}, DIR holds {sorted(present)}"
        state[atomic.MANIFEST] = listed
    return state


def _user_state(out: str) -> dict:
    got = {}
    for k in USER:
        p = os.path.join(out, k)
        if os.path.exists(p):
            with open(p) as f:
                got[k] = f.read()
    return got


def _setup(tmp_path) -> str:
    out = str(tmp_path / "out")
    os.makedirs(os.path.join(out, "data", "deep"))
    for k, v in USER.items():
        with open(os.path.join(out, k), "w") as f:
            f.write(v)
    os.symlink("notes.txt", os.path.join(out, "link.txt"))
    _commit(out, OLD)
    assert _archc_state(out) == OLD
    return out


def _points(tmp_path, exchange=True) -> list[str]:
    out = _setup(tmp_path / "probe")
    seen: list[str] = []
    atomic.FAULT_HOOK = seen.append
    try:
        if not exchange:
            orig, atomic.exchange = atomic.exchange, lambda a, b: False
        _commit(out, NEW)
    finally:
        atomic.FAULT_HOOK = None
        if not exchange:
            atomic.exchange = orig
    assert _archc_state(out) == NEW and _user_state(out) == USER
    return seen


def _kill_at(out: str, point: str, exchange=True) -> None:
    pid = os.fork()
    if pid == 0:
        try:
            if not exchange:
                atomic.exchange = lambda a, b: False

            def hook(p):
                if p == point:
                    os._exit(atomic.FAULT_EXIT)

            atomic.FAULT_HOOK = hook
            _commit(out, NEW)
        finally:
            os._exit(3)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == atomic.FAULT_EXIT, f"the child did not reach {point}"


def _assert_recovers(out: str, parent: str) -> None:
    # the next build (it takes the lock, cleans the dead build's folders) finds everything of the user's
    with atomic.Staging(out, True):
        pass
    assert _user_state(out) == USER
    assert os.readlink(os.path.join(out, "link.txt")) == "notes.txt"
    assert [e for e in os.listdir(parent) if e != "out"] == []      # no staging, old folder or lock left
    assert [e for e in os.listdir(out) if atomic.is_temp(e)] == []
    _commit(out, NEW)
    assert _archc_state(out) == NEW and _user_state(out) == USER


def test_every_point_of_the_commit_is_reported(tmp_path):
    pts = _points(tmp_path)
    assert pts[0] == "begin" and "linked" in pts and "swapped" in pts and pts[-1] == "cleaned"
    assert "moved:data" in pts                # the user's sub-folder, moved over after the swap


def test_killed_at_each_point_leaves_old_or_new(tmp_path):
    pts = _points(tmp_path)
    outcomes = set()
    for i, point in enumerate(pts):
        parent = tmp_path / f"k{i}"
        out = _setup(parent)
        _kill_at(out, point)
        state = _archc_state(out)
        assert state in (OLD, NEW), (point, state)
        outcomes.add("old" if state == OLD else "new")
        assert _user_state(out)["notes.txt"] == "mine"      # user files are linked in before the swap
        _assert_recovers(out, str(parent))
    assert outcomes == {"old", "new"}


def test_killed_at_random_points_many_times(tmp_path):
    pts = _points(tmp_path)
    rng = random.Random(12)
    parent = tmp_path / "r"
    out = _setup(parent)
    expect = OLD
    for _ in range(12):   # repeated kills into one folder, each followed by a build that recovers
        _kill_at(out, rng.choice(pts))
        state = _archc_state(out)
        assert state in (expect, NEW)
        _assert_recovers(out, str(parent))
        expect = NEW


def test_without_rename_exchange_a_kill_is_recovered_to_old_or_new(tmp_path):
    pts = _points(tmp_path, exchange=False)
    assert "moved-old" in pts
    for i, point in enumerate(pts):
        parent = tmp_path / f"x{i}"
        out = _setup(parent)
        _kill_at(out, point, exchange=False)
        state = _archc_state(out)
        if state is None:       # killed between the two renames: the old folder lies whole beside DIR
            assert point == "moved-old"
            (old,) = [e for e in os.listdir(parent) if atomic.OLD_TAG in e]
            assert _archc_state(str(parent / old)) == OLD
            with atomic.Staging(out, True):
                pass
            state = _archc_state(out)
        assert state in (OLD, NEW), (point, state)
        _assert_recovers(out, str(parent))


def test_in_place_commit_never_has_a_manifest_over_a_mixed_set(tmp_path, monkeypatch):
    """A mount point (or a parent that is not writable) cannot be swapped: file by file, the old
    manifest removed first and the new one written last."""
    real = os.access
    # the parent of DIR is not writable (as for a mount point): no swap
    monkeypatch.setattr(atomic.os, "access", lambda p, m, **k: real(p, m, **k) and not os.path.isdir(os.path.join(str(p), "out")))
    out = _setup(tmp_path)
    seen = []
    atomic.FAULT_HOOK = seen.append
    try:
        _commit(out, NEW)
    finally:
        atomic.FAULT_HOOK = None
    assert "manifest-removed" in seen and "swapped" not in seen
    assert _archc_state(out) == NEW and _user_state(out) == USER
    for i, point in enumerate(seen):
        out = _setup(tmp_path / f"p{i}")
        _kill_at(out, point)
        state = _archc_state(out)   # asserts the manifest, when present, lists exactly the files beside it
        assert state in (OLD, NEW) or atomic.MANIFEST not in state, (point, state)
        with atomic.Staging(out, True):
            pass
        assert [e for e in os.listdir(out) if atomic.is_temp(e)] == []


def test_a_real_build_killed_in_its_commit(tmp_path):
    """`archc build`, killed through ARCHC_COMMIT_FAULT before and after the swap."""
    out = tmp_path / "o"
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    cmd = [sys.executable, "-m", "archc", "build", "specs/mlp.yaml", "-o", str(out), "--emit", "state_dict"]
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    (out / "notes.txt").write_text("mine")
    old = {e: (out / e).read_bytes() for e in os.listdir(out)}
    for point, expect_new in (("linked", False), ("swapped", True)):
        r = subprocess.run(cmd + ["--force", "--emit", "source", "--set", "hidden=32"], capture_output=True,
                           env={**env, atomic.FAULT_ENV: point})
        assert r.returncode == atomic.FAULT_EXIT, r.stderr.decode()
        names = set(os.listdir(out))
        man = json.loads((out / "manifest.json").read_text())
        files = {f for a in man["artifacts"].values() for f in a["files"]}
        assert names == files | {"manifest.json", "notes.txt"}
        assert (out / "notes.txt").read_text() == "mine"
        if expect_new:
            assert man["overrides"] == {"hidden": 32} and "model.py" in names
        else:
            assert {e: (out / e).read_bytes() for e in os.listdir(out)} == old
    ok = subprocess.run(cmd + ["--force"], env=env, capture_output=True)
    assert ok.returncode == 0, ok.stderr.decode()
    assert [e for e in os.listdir(tmp_path) if e != "o"] == []
