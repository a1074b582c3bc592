"""The state_dict key mapping between netspec's specs/zoo/gpt2.yaml and Hugging Face's
GPT2LMHeadModel, for the tests and benchmarks that compare the two on the same weights.

HF's GPT-2 computes its linear layers with ``Conv1D``, whose weights are stored (in, out):
those keys are transposed. The head is tied to ``wte`` in both models.
"""

from __future__ import annotations

LAYER_KEYS = {  # netspec's TransformerEncoderLayer -> (HF's GPT2Block, Conv1D: transposed)
    "self_attn.in_proj_weight": ("attn.c_attn.weight", True),
    "self_attn.in_proj_bias": ("attn.c_attn.bias", False),
    "self_attn.out_proj.weight": ("attn.c_proj.weight", True),
    "self_attn.out_proj.bias": ("attn.c_proj.bias", False),
    "linear1.weight": ("mlp.c_fc.weight", True),
    "linear1.bias": ("mlp.c_fc.bias", False),
    "linear2.weight": ("mlp.c_proj.weight", True),
    "linear2.bias": ("mlp.c_proj.bias", False),
    "norm1.weight": ("ln_1.weight", False),
    "norm1.bias": ("ln_1.bias", False),
    "norm2.weight": ("ln_2.weight", False),
    "norm2.bias": ("ln_2.bias", False),
}
TOP = ("wte.weight", "wpe.weight", "ln_f.weight", "ln_f.bias")


def hf_key(key: str) -> tuple[str, bool]:
    """netspec's gpt2.yaml state_dict key -> (HF GPT2LMHeadModel's key, transposed)."""
    if key == "lm_head.weight":
        return key, False
    if key.startswith("h.layers."):
        _, _, i, rest = key.split(".", 3)
        old, transpose = LAYER_KEYS[rest]
        return f"transformer.h.{i}.{old}", transpose
    if key in TOP:
        return f"transformer.{key}", False
    raise KeyError(f"unmapped netspec key {key}")
