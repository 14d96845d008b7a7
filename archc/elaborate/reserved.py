"""Names a node, block use or repetition cannot have: the attributes of `torch.nn.Module` and
`torch.fx.GraphModule` (and the two archc sets on every module it builds).

A node's path is its module path (`layer1.0.conv1`), so that `state_dict()` keys read like the
spec and match the reference implementation's. torch refuses a submodule named like an attribute
of its parent (`forward`, `training`, `to`, `state_dict`), and a GraphModule's `code` and `graph`
are properties its generated `forward` would call instead of the submodule. Escaping such a name in
lowering would change the state_dict key, so a spec that uses one gets a located ARC102 instead
(in `check` and `lint` alike). Torch-free: `tests/elaborate/test_hostile_input.py` checks that
this list covers every attribute of the installed torch's modules.
"""
from __future__ import annotations

RESERVED_NAMES = frozenset("""
T_destination _apply _backward_hooks _backward_pre_hooks _boxed_call _buffers _call_impl _code
_compiled_call_impl _create_node_hooks _deepcopy_hooks _deepcopy_init _erase_node_hooks _forward_hooks
_forward_hooks_always_called _forward_hooks_with_kwargs _forward_pre_hooks _forward_pre_hooks_with_kwargs
_get_backward_hooks _get_backward_pre_hooks _get_name _graph _is_full_backward_hook _lineno_map
_load_from_state_dict _load_state_dict_post_hooks _load_state_dict_pre_hooks
_maybe_warn_non_full_backward_hook _modules _named_members _non_persistent_buffers_set _parameters
_prologue_start _recompile_submodules _register_create_node_hook _register_deepcopy_hook
_register_erase_node_hook _register_load_state_dict_pre_hook _register_replace_node_hook
_register_state_dict_hook _replace_hooks _replicate_for_data_parallel _save_to_state_dict
_set_replace_hook _slow_forward _state_dict_hooks _state_dict_pre_hooks _tracer_cls _tracer_extras
_unregister_create_node_hook _unregister_deepcopy_hook _unregister_erase_node_hook
_unregister_replace_node_hook _version _wrapped_call _wrapped_call_impl add_module add_submodule apply
archc_graph archc_node_map bfloat16 buffers call_super_init children code compile cpu cuda
delete_all_unused_submodules delete_submodule double dump_patches eval extra_repr float forward get_buffer
get_extra_state get_parameter get_submodule graph half ipu load_state_dict meta modules mtia
named_buffers named_children named_modules named_parameters parameters print_readable recompile
register_backward_hook register_buffer register_forward_hook register_forward_pre_hook
register_full_backward_hook register_full_backward_pre_hook register_load_state_dict_post_hook
register_load_state_dict_pre_hook register_module register_parameter register_state_dict_post_hook
register_state_dict_pre_hook requires_grad_ set_extra_state set_submodule shape_env share_memory
state_dict to to_empty to_folder train training type xpu zero_grad
""".split())


def is_reserved(name: str) -> bool:
    """True for a module attribute's name, and for every `__dunder__` name."""
    return name in RESERVED_NAMES or (name.startswith("__") and name.endswith("__"))


def reserved_prefix(path: str) -> str | None:
    """The shortest prefix of a module path (`blocks.forward` of `blocks.forward.fc`) whose last
    name is reserved, or None."""
    parts = path.split(".")
    for k, p in enumerate(parts):
        if is_reserved(p):
            return ".".join(parts[: k + 1])
    return None
