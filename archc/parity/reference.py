"""Reference implementations: `torchvision:NAME`, `timm:NAME`, `transformers:CLASS`, `diffusers:CLASS`.

`build_reference(ref, graph)` returns the reference module (random init, eval mode, fp32) and a
`call(inputs) -> {spec output: tensor}` that feeds the spec's inputs to it (positionally in order,
or as the keywords named by `reference.inputs`; one mapped to null is not passed) and picks its outputs (`reference.outputs`: an
attribute of a ModelOutput, a dict key or a tuple index; default: the single tensor, or item 0).
"""
from __future__ import annotations

import difflib
import importlib
from typing import Any, Callable

from archc.errors import pip_install
from archc.parity.weights import MissingPackage

KINDS = ("torchvision", "timm", "transformers", "diffusers")
INSTALL = {
    "torchvision": f"{pip_install('reference')} (or torchvision)",
    "timm": f"{pip_install('reference')} (or timm)",
    "transformers": f"{pip_install('reference')} (or transformers)",
    "diffusers": f"{pip_install('reference')} (or diffusers)",
}


class BadReference(ValueError):
    """REF is malformed or names no model of its library; or the spec's `reference:` section does not
    fit the reference (`path`: where in the spec, e.g. ("reference", "outputs", "logits"))."""

    def __init__(self, message: str, path: tuple | None = None):
        super().__init__(message)
        self.path = path


def _import(package: str, ref: str) -> Any:
    try:
        return importlib.import_module(package)
    except ImportError:
        raise MissingPackage(package, f"the reference `{ref}`", INSTALL.get(package)) from None


def _unknown(kind: str, name: str, known: list[str]) -> BadReference:
    close = difflib.get_close_matches(name, known, n=3)
    return BadReference(f"{kind} has no model `{name}`" + (f"; did you mean {', '.join(f'{kind}:{c}' for c in close)}?" if close else ""))


def _torchvision(name: str, config: dict, ref: str) -> Any:
    import torch

    tv = _import("torchvision", ref)
    models = tv.models
    try:
        fn = models.get_model_builder(name)
    except ValueError:
        fn = getattr(models, name, None)
        if not callable(fn):
            raise _unknown("torchvision", name, list(models.list_models())) from None
    try:
        return fn(**config)
    except TypeError as e:
        if "multiple values for keyword argument" not in str(e) or isinstance(fn, type):
            raise
        cause = e
    # a builder that fixes what the config sets (vit_b_16 fixes patch_size, num_layers, ...): build
    # its model class with the config instead; when that fails too, the builder's error is the cause
    with torch.device("meta"):
        cls = type(fn())
    try:
        return cls(**config)
    except TypeError as e:
        raise BadReference(
            f"cannot build {ref} with config {config}: {cause}; its model class {cls.__name__} built "
            f"with the config alone fails too ({e}): leave out what the builder sets, or give the class "
            f"every argument", ("reference", "config")) from None


def _timm(name: str, config: dict, ref: str) -> Any:
    timm = _import("timm", ref)
    if not timm.is_model(name):
        raise _unknown("timm", name, list(timm.list_models()))
    return timm.create_model(name, pretrained=False, **config)


def _class(package: str, name: str, ref: str) -> Any:
    mod = _import(package, ref)
    try:
        cls = getattr(mod, name)
    except (AttributeError, ImportError, RuntimeError):
        cls = None
    if not isinstance(cls, type):
        known = [n for n in dir(mod) if n[:1].isupper()]
        raise _unknown(package, name, known)
    return cls


def _transformers(name: str, config: dict, ref: str) -> Any:
    cls = _class("transformers", name, ref)
    config_class = getattr(cls, "config_class", None)
    if config_class is None:
        raise BadReference(f"transformers:{name} has no `config_class`; name a model class such as GPT2LMHeadModel")
    # transformers' default attention implementation (sdpa) is kept: eager and sdpa agree with the
    # specs to the same ~1e-6 (measured on gpt2 and bert_base); set `attn_implementation` in the
    # spec's reference.config to choose one
    return cls(config_class(**config))


def _diffusers(name: str, config: dict, ref: str) -> Any:
    """`CLASS(**config)`, the config being the model's constructor arguments (what its `config.json`
    holds: the `_class_name` / `_diffusers_version` entries of a saved one are left out). A config
    key the class does not take is a TypeError (reported at `reference.config`), not ignored as
    `from_config` would."""
    import torch

    cls = _class("diffusers", name, ref)
    if not issubclass(cls, torch.nn.Module):
        raise BadReference(f"diffusers:{name} is not a model (a torch.nn.Module): name a model class such as "
                           "AutoencoderKL or UNet2DModel, not a pipeline or scheduler", ("reference", "against"))
    return cls(**{k: v for k, v in config.items() if not k.startswith("_")})


BUILDERS: dict[str, Callable[[str, dict, str], Any]] = {
    "torchvision": _torchvision, "timm": _timm, "transformers": _transformers, "diffusers": _diffusers,
}


def parse_ref(ref: str) -> tuple[str, str]:
    kind, sep, name = ref.partition(":")
    if not sep or not name or kind not in BUILDERS:
        raise BadReference(f"reference {ref!r} is not one of " + ", ".join(f"{k}:NAME" for k in BUILDERS))
    return kind, name


def build_module(ref: str, config: dict | None = None, seed: int = 0) -> Any:
    """The reference module: random init (seeded), eval mode, fp32, on cpu."""
    import torch

    kind, name = parse_ref(ref)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        try:
            module = BUILDERS[kind](name, dict(config or {}), ref)
        except (BadReference, MissingPackage):
            raise
        except TypeError as e:   # a config key the constructor does not take
            raise BadReference(f"cannot build {ref} with config {config or {}}: {e}", ("reference", "config")) from None
    return module.float().eval()


def _pick(result: Any, sel: Any, what: str, path: tuple | None = None) -> Any:
    if isinstance(sel, int):
        try:
            return result[sel]
        except (IndexError, KeyError, TypeError):
            raise BadReference(f"{what}: the reference's output has no item {sel}", path) from None
    if isinstance(result, dict) and sel in result:
        return result[sel]
    if hasattr(result, sel):
        return getattr(result, sel)
    keys = list(result.keys()) if hasattr(result, "keys") else []
    raise BadReference(f"{what}: the reference's output has no field `{sel}`"
                       + (f" (it has {', '.join(map(str, keys))})" if keys else ""), path)


def _first(result: Any) -> Any:
    import torch

    if isinstance(result, torch.Tensor):
        return result
    if isinstance(result, dict):          # ModelOutput is a dict too
        return next(iter(result.values()))
    return result[0]


def _forward_signature(module: Any) -> Any:
    import inspect

    try:
        return inspect.signature(module.forward if hasattr(module, "forward") else module)
    except (TypeError, ValueError):   # a builtin or C forward: nothing to check before the call
        return None


def _check_inputs(module: Any, spec_inputs: list[str], kw_names: dict[str, str | None]) -> None:
    """BadReference (located) when the spec's inputs, as `reference.inputs` passes them, do not fit
    the reference's forward signature: an unknown keyword, too many positionals, one given twice,
    a required argument left out."""
    for k in kw_names:
        if k not in spec_inputs:
            raise BadReference(f"reference.inputs names `{k}`, which is not an input of the spec (it has "
                               f"{', '.join(spec_inputs) or 'none'})", ("reference", "inputs", k))
    sig = _forward_signature(module)
    if sig is None:
        return
    positional = [k for k in spec_inputs if k not in kw_names]
    keywords = {kw_names[k]: k for k in spec_inputs if kw_names.get(k) is not None}
    try:
        sig.bind(*positional, **{kw: k for kw, k in keywords.items()})
    except TypeError as e:
        params = [p for p in sig.parameters.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        takes = ", ".join(p.name for p in params) or "no arguments"
        # where: the keyword the forward does not take, else the first positional it has no room for
        path: tuple = ("reference", "inputs")
        for kw, k in keywords.items():
            if kw not in sig.parameters and not any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values()):
                path = ("reference", "inputs", k)
                break
        else:
            if positional and not kw_names:
                path = ("inputs", positional[-1])
        how = (", ".join([*(f"`{k}` positionally" for k in positional),
                          *(f"`{k}` as `{kw}=`" for kw, k in keywords.items())]) or "no inputs")
        raise BadReference(f"the reference's forward({takes}) cannot take the spec's inputs as given "
                           f"({how}): {e}; map each spec input to a keyword of forward, or to null "
                           f"to leave it out, in reference.inputs", path) from None


def make_call(module: Any, graph: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """`call(inputs)`: the spec's inputs fed to MODULE (positionally in order; `reference.inputs` maps
    one to a keyword, or to null: not passed). Checks the mapping against MODULE's forward signature
    first (BadReference, located in the spec); a TypeError from forward is a BadReference too."""
    ref = getattr(graph, "reference", None)
    kw_names: dict[str, str | None] = dict(ref.inputs) if ref is not None else {}
    selectors: dict[str, Any] = dict(ref.outputs) if ref is not None else {}
    out_names = list(graph.outputs)
    _check_inputs(module, list(getattr(graph, "inputs", {}) or {}), kw_names)

    def call(inputs: dict[str, Any]) -> dict[str, Any]:
        args = [v for k, v in inputs.items() if k not in kw_names]
        kwargs = {kw_names[k]: v for k, v in inputs.items() if kw_names.get(k) is not None}
        try:
            result = module(*args, **kwargs)
        except TypeError as e:
            raise BadReference(f"the reference's forward rejected the spec's inputs: {e}",
                               ("reference", "inputs")) from None
        outs: dict[str, Any] = {}
        for i, name in enumerate(out_names):
            if name in selectors:
                outs[name] = _pick(result, selectors[name], f"output `{name}`", ("reference", "outputs", name))
            elif len(out_names) == 1:
                outs[name] = _first(result)
            elif isinstance(result, dict):
                outs[name] = list(result.values())[i]
            else:
                outs[name] = result[i]
        return outs

    return call


def build_reference(ref: str, graph: Any, seed: int = 0) -> tuple[Any, Callable[[dict[str, Any]], dict[str, Any]]]:
    """(module, call) for REF, configured by the spec's evaluated `reference.config`."""
    spec_ref = getattr(graph, "reference", None)
    config = dict(spec_ref.config) if spec_ref is not None else {}
    module = build_module(ref, config, seed)
    return module, make_call(module, graph)
