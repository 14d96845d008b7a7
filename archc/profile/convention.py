"""The counting convention of `archc profile`, written once.

The per-op cost rules (each op's `cost=` in its registration under `archc/ops/`) follow it;
`SUMMARY` is its short form in `archc profile --help`, `CONVENTION` the `convention` object of
`archc profile --json` (its `activations_per_element` is filled in from the activation ops by
`archc.profile.costs`). This module imports nothing: the CLI reads `SUMMARY` at start-up.

Convention (the `convention` of `archc profile --json`, inference / eval mode, per forward pass)
--------------------------------------------------------------------------------------------------

MACs count multiply-accumulates of the contractions only:

* convolution: out_elems * (C_in / groups) * prod(kernel) (stride and dilation enter through
  out_elems); transposed convolution: in_elems * (C_out / groups) * prod(kernel);
  patch_embedding is a convolution with kernel = stride = patch.
* linear: out_elems * in_features; matmul: out_elems * k (k the contracted dim); batched and
  broadcast operands follow the output's shape.
* attention: its projections (q, k, v or the packed qkv; out) plus Q K^T and A V:
  2 * B * T * S * D for the two products (D = heads * head_dim); sdpa the same over its
  own q [.., T, E], k [.., S, E], v [.., S, Ev]: batch * T * S * (E + Ev).
* rnn / lstm / gru: per layer, direction, step and sample G * H * (F_in + H) with G = 1, 4, 3 gates.

FLOPs = 2 * MACs + the other arithmetic, per element of the tensor named:

* bias of conv / linear / projections: 1 per output element.
* activations (per element): relu 1, leaky_relu 2, sigmoid 4 (neg, exp, add, reciprocal),
  tanh 4, silu 5, gelu 8 (either approximation), hardswish 5, mish 8; softmax 5 (max, subtract,
  exp, sum, divide).
* attention scores: scale 1, softmax 5, an explicit mask 1, per (query, key) pair and head;
  bias adds of the projections. Recurrent cells, per hidden unit and step: the two matrix
  products' sum G, biases 2G (when present); rnn tanh 4 (relu 1); lstm 3 sigmoids + 2 tanh + 4 = 24;
  gru 2 sigmoids + 1 tanh + 5 = 17.
* norms (per element of the input): batch_norm 2 (eval: folded scale and shift); layer_norm,
  group_norm, instance_norm 5 (mean, subtract, square, sum, normalise) + 1 per affine weight and
  bias; rms_norm 3 + 1 for the weight.
* pooling: max_pool prod(kernel) - 1 comparisons and avg_pool prod(kernel) (adds and a divide) per
  output element; adaptive avg: in_elems + out_elems, adaptive max: in_elems - out_elems (exact
  when the windows do not overlap).
* elementwise add / mul: (inputs - 1) per output element, a number operand counted as an input;
  sub, div, pow, minimum, maximum, the comparisons and where: 1 per output element; neg, abs, exp,
  log, sqrt, sin, cos 1 and rsqrt 2 per element; clamp 1 per element and bound; cast 0. The newer
  activations per element: relu6 2, hardtanh 2, hardsigmoid 4, elu 4, selu 5, celu 7, softplus 6,
  softsign 3, quick_gelu 6, log_softmax 5, prelu 2; glu 5 per output element; mean: 1 per input element;
  pos_embedding_param: 1 per element (its add); sinusoidal positional_embedding: 2 per element.
* interpolation, per output element: nearest 0, linear 3, bilinear 7, trilinear 15, bicubic 31.
* data movement costs 0: reshape, permute, transpose, flatten, unflatten, split, concat, select,
  slice, identity, embedding lookups, class_token, and dropout / drop_path (identity in eval).

Dense counts are the headline. Causal attention (and sdpa) also has the exact count over the
allowed (query, key) pairs only, sum over t of min(t + 1, S) (top-left aligned): `macs_causal`,
`flops_causal`; for every other op these equal the dense counts.

Ops with the `aliases` trait return (a view of) their input's storage; the static memory walk does not allocate for
them. `workspace` is the elements an op holds transiently besides its output (attention's q, k, v
and merged heads; a recurrent layer's gates); attention scores are not counted, since the fused
SDPA kernels do not materialise them.
"""
from __future__ import annotations

SUMMARY = """Counting
convention (inference, one forward pass, at the symbols' sizes; `--json` carries it as
`convention`): MACs are the multiply-accumulates of convolutions (out_elems * C_in/groups *
prod(kernel)), linear, matmul, attention (projections + QK^T + AV) and recurrent cells. FLOPs =
2 x MACs + other arithmetic per element: bias 1; relu 1, leaky_relu 2, sigmoid 4, tanh 4, silu 5,
gelu 8, hardswish 5, mish 8, softmax 5; batch_norm 2 (eval), layer/group/instance norm 5 (+1 per
affine param), rms_norm 3 (+1); max pool prod(kernel)-1, avg pool prod(kernel) per output;
add/mul (inputs-1); attention scores 1 (scale) + 5 (softmax) (+1 mask) per pair and head; data
movement 0. FLOPs are dense; causal attention is also counted exactly over the allowed pairs
(flops_causal). Ops without a cost rule are listed as uncounted, with their share of the nodes."""

CONVENTION: dict = {
    "version": 1,
    "mode": "inference (eval mode), one forward pass, at the symbols' sizes",
    "macs": "multiply-accumulates of convolutions, linear, matmul, attention (projections, QK^T, AV), "
    "sdpa and recurrent cells",
    "flops": "2 * MACs + other arithmetic by documented per-op rules (biases, activations, softmax, norms, "
    "pooling, elementwise ops, interpolation); data movement is 0",
    "flops_causal": "as flops, with causal attention counted over the allowed (query, key) pairs only",
    "activations_per_element": None,  # filled in by archc.profile.costs
    "memory": "static peak = weights + buffers + the peak of live activations over a liveness walk of the "
    "IR's topological order (inputs live throughout, views share their input's storage, op workspaces "
    "counted while the op runs)",
    "docs": "archc.profile.convention module docstring; `archc profile --help`",
}
