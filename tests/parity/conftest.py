"""A tiny reference implementation registered as `test:NAME`, and a spec that reproduces it through
every kind of weight mapping (rename, ignore, join, split, transpose) and a keyword output."""
from __future__ import annotations

import textwrap

import pytest

TINY_SPEC = textwrap.dedent("""\
    archc: 1
    name: tiny
    params: {hidden: 4, out: 5}
    symbols:
      B: {example: 2, min: 1}
    inputs:
      x: {shape: [B, 8], dtype: float32}
    layers:
      - q: {op: linear, out: "${hidden}", from: x}
      - k: {op: linear, out: "${hidden}", from: x}
      - v: {op: linear, out: "${hidden}", from: x}
      - cat: {op: concat, from: [q, k, v], dim: -1}
      - act: {op: relu}
      - proj: {op: linear, out: 6}
      - head: {op: linear, out: "${out}"}
    outputs:
      y: head
    reference:
      against: "test:tiny"
      config: {hidden: "${hidden}"}
      inputs: {x: features}
      outputs: {y: out}
      weights:
        rename:
          - {pattern: '^net\\.', to: ''}
          - {pattern: '^proj_(a|b)\\.', to: 'proj.\\1.'}
          - {pattern: '^head_w$', to: 'head.weight'}
          - {pattern: '^head_b$', to: 'head.bias'}
        ignore: ['*mask']
        split:
          - {from: 'qkv.*', into: ['q.*', 'k.*', 'v.*']}
        join:
          - {from: ['proj.a.*', 'proj.b.*'], into: 'proj.*'}
        transpose: ['head.weight']
    """)


def make_tiny_reference(hidden: int = 4, perturb: float = 0.0, train_shift: float = 0.0):
    import torch
    import torch.nn as nn

    class Inner(nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv = nn.Linear(8, 3 * hidden)
            self.register_buffer("causal_mask", torch.ones(3))

    class TinyRef(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = Inner()
            self.proj_a = nn.Linear(3 * hidden, 3)
            self.proj_b = nn.Linear(3 * hidden, 3)
            self.head_w = nn.Parameter(torch.randn(6, 5) * 0.3)   # stored [in, out]
            self.head_b = nn.Parameter(torch.randn(5) * 0.1)

        def forward(self, features):
            h = torch.relu(self.net.qkv(features))
            h = torch.cat([self.proj_a(h), self.proj_b(h)], dim=-1)
            out = h @ self.head_w + self.head_b + perturb
            return {"other": h, "out": out + train_shift if self.training else out}

    return TinyRef()


@pytest.fixture
def tiny_reference():
    """The builder of the tiny reference module (hidden=4, perturb=0.0)."""
    return make_tiny_reference


@pytest.fixture
def tiny_spec(tmp_path, monkeypatch):
    from archc.parity import reference

    state = {"perturb": 0.0, "train_shift": 0.0}

    def build(name, config, ref):
        assert name == "tiny"
        return make_tiny_reference(config.get("hidden", 4), state["perturb"], state["train_shift"])

    monkeypatch.setitem(reference.BUILDERS, "test", build)
    p = tmp_path / "tiny.yaml"
    p.write_text(TINY_SPEC)
    return Tiny(p, state)


class Tiny:
    def __init__(self, path, state):
        self.path, self.state = path, state

    def __str__(self) -> str:
        return str(self.path)

    def __fspath__(self) -> str:
        return str(self.path)
