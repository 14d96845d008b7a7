"""The front end is linear in the node count (issue 12, item 3), checked without a clock.

Each spec shape of benchmarks/front_end_scaling.py (a flat chain, the mlp at `depth: N`, a nested
repeat, a wide fan-in) goes through load, validate, elaborate, the IR check and every lint rule at
N and 2N nodes, counting the work archc's own code does: every line and call executed in archc/
(a trace function; libraries are not traced). Linear work doubles; a loop over scopes x nodes,
a re-walk of every predecessor or a scan of the graph per node makes the count grow ~4x. The count
is the same on a loaded machine as on an idle one, so the bound can be the issue's 2.2. (Wall
times are measured in benchmarks/front_end_scaling.py and recorded in benchmarks/RESULTS.md.)

The node limit counts nodes: a repeat whose copies hold several nodes is refused, at its
`repeat:`, as soon as its first copy shows the total would pass the limit, and copies that make no
node do not count against it.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

import archc.elaborate.walk as walk
from archc.diagnostics import DiagnosticError
from archc.pipeline import Options, run

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))
import front_end_scaling as bench  # noqa: E402

ARCHC = str(REPO / "archc")


def work(path: Path, sets: dict, until: str = "lint", everywhere: bool = False) -> tuple[int, int]:
    """(lines and calls executed in archc/ (or in all Python code), nodes) for one run of the
    front end and lint; a failing run counts too (nodes: -1)."""
    count = 0

    def local(frame, event, arg):
        nonlocal count
        count += 1
        return local

    def top(frame, event, arg):
        nonlocal count
        if everywhere or frame.f_code.co_filename.startswith(ARCHC):
            count += 1
            return local
        return None

    old = sys.gettrace()
    sys.settrace(top)
    try:
        u = run(path, Options(overrides=sets, param_limit=None, device="meta"), until=until)
        nodes = len(u.graph.nodes)
    except DiagnosticError:
        nodes = -1
    finally:
        sys.settrace(old)
    return count, nodes


def spec(kind: str, n: int, tmp_path: Path) -> tuple[Path, dict]:
    if kind == "nested":  # double the outer repeat: twice the scopes and twice the nodes
        p = tmp_path / f"nested_{n}.yaml"
        p.write_text(bench.nested_spec(n // 20, 20))
        return p, {}
    return bench.make(kind, n, tmp_path)


@pytest.mark.parametrize("kind", bench.KINDS)
def test_front_end_work_is_linear(kind: str, tmp_path: Path) -> None:
    n = 600
    p, sets = spec(kind, 60, tmp_path)
    run(p, Options(overrides=sets, param_limit=None), until="lint")  # warm the caches (op registry, rules)
    w1, n1 = work(*spec(kind, n, tmp_path))
    w2, n2 = work(*spec(kind, 2 * n, tmp_path))
    assert 1.9 <= n2 / n1 <= 2.1, (n1, n2)
    assert w2 / w1 <= 2.2, f"{kind}: {n1} nodes cost {w1:,} lines and calls, {n2} nodes {w2:,} ({w2 / w1:.2f}x)"


def test_many_wrong_references_cost_linear_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each undefined `from:` gets a "did you mean" search (difflib, traced too): among a bounded
    number of names (fewer here, so the sizes can be small), not among every name defined so far."""
    monkeypatch.setattr(walk, "SUGGEST_AMONG", 16)
    def bad(n: int) -> Path:
        p = tmp_path / f"bad_{n}.yaml"
        p.write_text(bench.HEADER.format(name="bad") + "layers:\n"
                     + "".join(f"  - r{i}: {{op: relu, from: q{i}x}}\n" for i in range(n)))
        return p

    w1, _ = work(bad(300), {}, "check", everywhere=True)
    w2, _ = work(bad(600), {}, "check", everywhere=True)
    assert w2 / w1 <= 2.2, f"{w1:,} -> {w2:,} ({w2 / w1:.2f}x)"


BLOCK3 = bench.HEADER.format(name="limit") + """blocks:
  three:
    layers:
      - a: {op: relu}
      - b: {op: relu}
      - c: {op: relu}
layers:
  - body: {block: three, repeat: %d}
"""


def _refused(path: Path) -> DiagnosticError:
    with pytest.raises(DiagnosticError) as ei:
        run(path, Options(), until="check")
    return ei.value


def test_the_node_limit_counts_the_nodes_of_each_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(walk, "MAX_NODES", 300)
    p = tmp_path / "at.yaml"
    p.write_text(BLOCK3 % 100)                      # 100 copies of 3 nodes: exactly the limit
    assert len(run(p, Options(), until="check").graph.nodes) == 300
    p.write_text(BLOCK3 % 101)                      # 101 copies (far below 300 copies): 303 nodes
    (d,) = _refused(p).diagnostics
    assert d.code == "ARC115"
    assert d.message == ("`body.repeat` is 101: its copies have 3 nodes each, so the graph would have 303 nodes, "
                         "over the limit of 300 nodes")
    assert (d.span.line, d.span.col) == (14, 34)    # the `repeat:` value


def test_copies_without_nodes_do_not_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(walk, "MAX_NODES", 300)
    # the IR verifier (off for users) refuses the empty block instances `when: false` leaves; that
    # is not what this test is about
    monkeypatch.setenv("ARCHC_CHECK_IR", "0")
    p = tmp_path / "sparse.yaml"
    # 400 copies, of which only every other one makes a node: 200 nodes, under the limit
    p.write_text(bench.HEADER.format(name="sparse") + """blocks:
  maybe:
    params: {k: int}
    layers:
      - r: {op: relu, when: "${k % 2 == 0}"}
layers:
  - body: {block: maybe, repeat: 400, args: {k: "${i}"}}
""")
    g = run(p, Options(), until="check").graph
    assert len(g.nodes) == 200


def test_a_deep_nest_is_refused_after_little_work(tmp_path: Path) -> None:
    # the 400 x 400 nested repeat, of a 3-node block: 160,000 copies (within the copy
    # limit) but 480,000 nodes; refused at the outer repeat after two copies
    p = tmp_path / "deep.yaml"
    p.write_text(bench.HEADER.format(name="deep") + """blocks:
  three:
    layers:
      - a: {op: relu}
      - b: {op: relu}
      - c: {op: relu}
  row:
    layers:
      - t: {block: three, repeat: 400}
layers:
  - outer: {block: row, repeat: 400}
""")
    count = 0

    def tracer(frame, event, arg):
        nonlocal count
        count += event == "call"
        return None

    sys.setprofile(tracer)
    try:
        err = _refused(p)
    finally:
        sys.setprofile(None)
    assert [d.code for d in err.diagnostics] == ["ARC115"]
    assert err.diagnostics[0].message.startswith("`outer.repeat` is 400: its copies have 1,200 nodes each, so the graph "
                                                 "would have 480,000 nodes")
    assert count < 2_000_000  # two copies were expanded, not 480,000 nodes
