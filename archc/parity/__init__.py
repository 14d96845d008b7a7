"""Parity with reference implementations: build the reference (`reference`), map state_dicts between
it (or a weights file) and a spec's module (`weights`), and compare outputs and gradients (`compare`).

Everything here imports torch lazily; the reference libraries (torchvision, timm, transformers,
diffusers) only when a reference of that kind is built.
"""
