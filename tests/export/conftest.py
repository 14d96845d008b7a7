"""Builds shared by the export tests: each spec is built once per session (small sizes)."""
from __future__ import annotations

import pytest

from archc.api import build
from archc.export import FORMATS

SMALL = {  # small but faithful configurations of the zoo, for the default suite
    "mlp": ({}, None),
    "resnet18": ({"H": 48, "W": 48}, None),
    "resnet50": ({"H": 48, "W": 48}, None),
    "resnet": ({"H": 48, "W": 48}, "resnet18"),
    "unet": ({"base": 4, "H": 32, "W": 32}, None),
    "gpt2": ({}, "small"),
    "bert_base": ({}, "small"),
    "vit_b_16": ({}, "small"),
}

_cache: dict = {}


def built(tmp_path_factory, name: str, spec: str, overrides=None, variant=None, emit=FORMATS, **kw):
    key = (name, spec, tuple(sorted((overrides or {}).items())), variant, tuple(emit), repr(sorted(kw.items())))
    if key not in _cache:
        out = tmp_path_factory.mktemp(name)
        res = build(spec, str(out), emit=list(emit), overrides=overrides, variant=variant, latency_runs=1, **kw)
        _cache[key] = (out, res)
    return _cache[key]


@pytest.fixture(scope="session")
def export_build(tmp_path_factory):
    """build(name, spec, overrides, variant, emit=..., **kw) -> (out dir, BuildResult), cached."""
    return lambda *a, **kw: built(tmp_path_factory, *a, **kw)


@pytest.fixture(scope="session")
def mlp_build(tmp_path_factory):
    return built(tmp_path_factory, "mlp", "specs/mlp.yaml")


@pytest.fixture(scope="session")
def unet_build(tmp_path_factory):
    return built(tmp_path_factory, "unet", "specs/unet.yaml", *SMALL["unet"])
