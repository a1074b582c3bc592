"""The names the spec language reserves or shares between stages: the top-level sections,
the fields every layer entry accepts, the name of the network's input, and the layer names a
built module cannot take. The expander enforces them; the plan, backend, renderers and
overrides read them here instead of reaching into the expander."""

from __future__ import annotations

import keyword
import re

COMMON_FIELDS = ("name", "from", "repeat", "trainable")
COMMON_FIELD_DOCS = {
    "name": "unique layer name; default `<type>_<k>`",
    "from": "input reference(s): a layer name, `input`, or a list of them; default: the "
    "previous layer",
    "repeat": "stack the entry this many times (int >= 1)",
    "trainable": "`false` freezes the layer's parameters",
}
"""What every layer entry accepts besides its own arguments (docs and JSON Schema)."""
TOP_LEVEL = (
    "name",
    "description",
    "vars",
    "input",
    "inputs",
    "outputs",
    "blocks",
    "layers",
    "data",
    "train",
    "tune",
)
INPUT_NAME = "input"

# Layer names become attributes of a torch.fx.GraphModule: they must not shadow its methods
# (a test keeps this list in step with torch) or the generated forward's `self`.
RESERVED_NAMES = frozenset(
    [
        "T_destination",
        "add_module",
        "add_submodule",
        "apply",
        "bfloat16",
        "buffers",
        "call_super_init",
        "children",
        "code",
        "compile",
        "cpu",
        "cuda",
        "delete_all_unused_submodules",
        "delete_submodule",
        "double",
        "dump_patches",
        "eval",
        "extra_repr",
        "float",
        "forward",
        "get_buffer",
        "get_extra_state",
        "get_parameter",
        "get_submodule",
        "graph",
        "half",
        "ipu",
        "load_state_dict",
        "meta_tensors",
        "modules",
        "mtia",
        "named_buffers",
        "named_children",
        "named_modules",
        "named_parameters",
        "parameters",
        "print_readable",
        "recompile",
        "register_backward_hook",
        "register_buffer",
        "register_forward_hook",
        "register_forward_pre_hook",
        "register_full_backward_hook",
        "register_full_backward_pre_hook",
        "register_load_state_dict_post_hook",
        "register_load_state_dict_pre_hook",
        "register_module",
        "register_parameter",
        "register_state_dict_post_hook",
        "register_state_dict_pre_hook",
        "requires_grad_",
        "set_extra_state",
        "set_submodule",
        "share_memory",
        "state_dict",
        "to",
        "to_empty",
        "to_folder",
        "train",
        "training",
        "type",
        "xpu",
        "zero_grad",
        "self",
        "",
    ]
)

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def usable_name(word: object) -> bool:
    """A name that can be an attribute of the built module or an argument of its forward:
    an identifier, no Python keyword, no leading '_', no attribute of every torch module."""
    return (
        isinstance(word, str)
        and _IDENT.match(word) is not None
        and not keyword.iskeyword(word)
        and not word.startswith("_")
        and word not in RESERVED_NAMES
    )
