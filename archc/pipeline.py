"""The compiler, as one list of stages:

    load -> validate -> elaborate -> check -> lint -> lower -> verify -> emit -> measure

- load:      read the spec file's YAML, with a span for every value (archc.spec.yaml)
- validate:  the schema (pydantic), `extends:` and imports; nodes become typed objects (archc.spec)
- elaborate: params, variants, blocks, repeats and shapes in one walk (archc.elaborate)
- check:     the IR verifier, `Graph.check()` (when `ARCHC_CHECK_IR=1`, as in the test suite)
- lint:      design, performance and export rules (archc.lint; only when asked for)
- lower:     the `torch.fx.GraphModule` (archc.codegen)
- verify:    run it (on meta by default) at the example and at a second size per dynamic symbol, and
             compare every node's shape with the static one
- emit:      write verified artifacts into a folder, atomically (archc.export.build.emit; what to
             write is the unit's `BuildRequest`, `run(..., emit=request)`)
- measure:   the static profile and, on a measuring device, latency and memory (archc.profile.run.measure;
             what to measure is the unit's profile `Request`, `run(..., measure=request)`)

`run(spec, options, until=STAGE)` runs the stages in order up to STAGE and returns the `Unit`
holding what each produced. Every command is `run` up to the stage it needs: lint stops at
`lint`, check at `verify`, build goes on to `emit` (without `measure`), profile skips `lower` and
`verify` and ends at `measure` (`archc.api.build` and `archc.api.profile`). Problems are reported
into the unit's `Session`; a stage that cannot go on raises its `DiagnosticError` (which holds
every diagnostic so far and their sources). Everything up to `lint` is torch-free.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from archc.diagnostics import Diagnostic
from archc.session import CMDLINE, DEFAULT_PARAM_LIMIT, Options, Session  # noqa: F401  (re-exported)

STAGES = ("load", "validate", "elaborate", "check", "lint", "lower", "verify", "emit", "measure")
# stages that run only when a run ends at them (`until="lint"`) or names them in `also`
OPTIONAL = frozenset({"lint"})
# what each final stage leaves out of the stages before it: emit and measure are two ends; profiling
# measures the elaborated graph on its own (it lowers it on the device it measures on)
SKIPS = {"emit": frozenset(), "measure": frozenset({"lower", "verify", "emit"})}


@dataclass
class Unit:
    """One spec going through the stages: the session and what each stage produced."""

    session: Session
    path: Path | None = None
    text: str | None = None            # the spec's text when it was given as text (an editor buffer)
    yaml: Any = None                   # load: the YAML document with spans (archc.spec.yaml_loader.Loaded)
    spec: Any = None                   # validate: the LoadedSpec (typed nodes, blocks, imports)
    graph: Any = None                  # elaborate: the typed graph IR
    lint: list[Diagnostic] = field(default_factory=list)   # lint: the rules' findings
    module: Any = None                 # lower: the GraphModule
    verified: list[Diagnostic] | None = None               # verify: mismatches (empty: it agrees; None: skipped)
    build: Any = None                  # emit's request (archc.export.build.BuildRequest)
    built: Any = None                  # emit: the BuildResult (manifest, diagnostics)
    profile: Any = None                # measure's request (archc.profile.run.Request)
    measured: Any = None               # measure: the Profile (static analysis and measurements)
    done: list[str] = field(default_factory=list)          # the stages run, in order

    @property
    def options(self) -> Options:
        return self.session.options


def _load(u: Unit) -> None:
    from archc.ir.gc_pause import paused
    from archc.spec.load import read_spec

    with paused():  # like elaborate, check and lint: no collection while the structure grows
        u.yaml = read_spec(u.path, u.text, u.session)


def _validate(u: Unit) -> None:
    from archc.ir.gc_pause import paused
    from archc.spec.load import validate_spec

    with paused():
        u.spec = validate_spec(u.yaml, u.path, u.session)


def _elaborate(u: Unit) -> None:
    from archc.elaborate import elaborate

    u.graph = elaborate(u.spec, u.session)


def _check(u: Unit) -> None:
    if os.environ.get("ARCHC_CHECK_IR") == "1":
        u.graph.check()


def _lint(u: Unit) -> None:
    from archc.lint.stage import lint_stage

    u.lint = lint_stage(u)


def _too_big(u: Unit) -> bool:
    o = u.options
    return o.verify and o.verify_max_nodes is not None and len(u.graph.nodes) > o.verify_max_nodes


def _lower(u: Unit) -> None:
    from archc.codegen.fx import lower

    o = u.options
    if _too_big(u):                    # nothing executes it: `_verify` says why
        return
    u.module = lower(u.graph, device=o.device, dtype=o.dtype, inplace=o.inplace)


def _verify(u: Unit) -> None:
    from archc.codegen.verify import verify_all_sizes, verification_envs

    o, n = u.options, len(u.graph.nodes)
    if _too_big(u):
        sizes = len(verification_envs(u.graph))
        u.session.report([Diagnostic(
            "ARC607", f"shapes not verified by execution: the spec has {n:,} nodes, more than {o.verify_max_nodes:,} "
            f"(running each on fake tensors at {sizes} size{'s' if sizes != 1 else ''} takes about {n * sizes / 1000:,.0f} s); "
            f"the static shapes are inferred and checked as for every spec", None, severity="warning",
            hint="`archc check --verify-all` lowers and verifies it anyway")])
        u.verified = None               # skipped, not agreed (and nothing was lowered)
        return
    u.verified = verify_all_sizes(u.module, u.graph) if o.verify else []
    if u.verified:
        u.session.fail(_user_mistake_at_size(u) or u.verified)


def _user_mistake_at_size(u: Unit) -> list[Diagnostic] | None:
    """When verification fails at the second size (not the example), the spec elaborated at that
    size: if its shape rules refuse it there (a `select` index past a smaller T), those are the
    user's diagnostics, named with the size; otherwise (None) the failure is archc's (ARC602)."""
    from archc.codegen.verify import verification_envs
    from archc.errors import DiagnosticError

    example = u.graph.example_env
    envs = [e for e in verification_envs(u.graph) if e != example]
    if u.spec is None or not envs or not all(d.message.startswith("at ") for d in u.verified):
        return None
    o = u.options
    for env in envs:                    # the failing size is one of them: the first the rules refuse
        at = ", ".join(f"{k}={v}" for k, v in sorted(env.items()) if v != example.get(k))
        if not u.verified[0].message.startswith(f"at {at}:"):
            continue
        opts = Options({**o.overrides, **env}, o.variant, o.param_limit, o.override_spans)
        try:
            run(u.spec, opts, until="elaborate")
        except DiagnosticError as e:
            errs = [d for d in e.diagnostics if d.severity == "error"]
            if errs:
                return [Diagnostic(d.code, f"at {at} (a size the spec's symbols allow; verification runs a second size "
                                   f"per dynamic symbol): {d.message}", d.span, severity=d.severity,
                                   hint=(d.hint + "; or " if d.hint else "") + "narrow the symbol's range (`min`, "
                                   "`max`, `multiple_of`) to the sizes the spec works at", related=d.related)
                        for d in errs]
    return None


def _emit(u: Unit) -> None:
    from archc.export.build import emit

    if u.build is None:
        raise ValueError("the emit stage needs a BuildRequest: run(..., until='emit', emit=BuildRequest(...))")
    u.built = emit(u)


def _measure(u: Unit) -> None:
    from archc.profile.run import Request, measure

    u.measured = measure(u.graph, u.profile or Request())


RUNNERS: dict[str, Callable[[Unit], None]] = {
    "load": _load, "validate": _validate, "elaborate": _elaborate, "check": _check, "lint": _lint,
    "lower": _lower, "verify": _verify, "emit": _emit, "measure": _measure,
}


def run(spec: str | os.PathLike | Unit | Any, options: Options | None = None, *, until: str = "elaborate",
        text: str | None = None, session: Session | None = None, also: tuple[str, ...] = (),
        emit: Any = None, measure: Any = None) -> Unit:
    """Run the stages in order up to `until` (inclusive) and return the unit.

    `spec` is a path, a `Unit` that already ran some stages (they are not run again), or a
    `LoadedSpec` (load and validate are then done). `emit` and `measure` are the requests of those
    stages. Raises `DiagnosticError` when a stage fails."""
    if until not in STAGES:
        raise ValueError(f"unknown stage {until!r}; the stages are {', '.join(STAGES)}")
    if isinstance(spec, Unit):
        u = spec
        if options is not None:
            u.session.options = options
    else:
        s = session or Session(options or Options())
        if options is not None:
            s.options = options
        u = Unit(s)
        if hasattr(spec, "main") and hasattr(spec, "blocks"):   # a LoadedSpec
            u.spec, u.path, u.done = spec, spec.main.path, ["load", "validate"]
            for k, v in spec.sources.items():
                s.add_source(k, v)
            s.report(d for d in spec.deferred if d not in s.diagnostics)
            spec.sources = s.sources
        else:
            u.path, u.text = Path(spec), text
    if emit is not None:
        u.build = emit
    if measure is not None:
        u.profile = measure
    skip = SKIPS.get(until, frozenset())
    for name in STAGES[: STAGES.index(until) + 1]:
        if name in u.done or (name in skip and name != until) or (name in OPTIONAL and name != until and name not in also):
            continue
        u.session.step(name)
        RUNNERS[name](u)
        u.done.append(name)
    return u


def from_graph(graph: Any, options: Options | None = None, session: Session | None = None) -> Unit:
    """A unit that starts from an elaborated graph (to lower, verify and emit it)."""
    s = session or Session(options or Options())
    if options is not None:
        s.options = options
    return Unit(s, graph=graph, done=["load", "validate", "elaborate", "check"])


def elaborate(spec: str | os.PathLike | Any, options: Options | None = None) -> Any:
    """The typed graph IR of a spec (load, validate, elaborate, check). Raises DiagnosticError."""
    return run(spec, options, until="check").graph
