"""Key-value caches for causal self-attention: one new token costs one row of attention.

A causal layer's output at position t depends on the keys and values of positions <= t only,
and those never change once computed. So each cached attention keeps K and V of every
position seen, in tensors (N, heads, rows, head_dim) that grow by doubling up to the
window's capacity (``FIRST_ROWS``), writes the new positions' rows, and lets the new
queries attend to rows 0..end with ``F.scaled_dot_product_attention``. The layers' own
weights are used as they are (``in_proj_weight``, ``out_proj``, ``norm1``/``norm2``,
``linear1``/``linear2``, the activation), in eval mode (dropout off).

``CacheState.offset`` is the number of positions already cached: the decoder (see
``decoding``) advances it after each forward over new tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from torch import nn


FIRST_ROWS = 256
"""Positions a cache holds at first; it doubles (up to ``CacheState.capacity``) as the text
grows, so that a generous capacity (prompt + max_new_tokens, up to a million positions
when nothing bounds the context) costs memory only for the positions actually reached."""


@dataclass
class CacheState:
    """What every cached layer of one model shares: where the new tokens start."""

    offset: int = 0
    capacity: int = 0


def supported_attention(mha: nn.MultiheadAttention) -> str | None:
    """Why ``mha`` cannot be cached (None when it can): the cache handles one packed
    input projection, batch-first, without extra key/value biases or zero attention."""
    if not mha._qkv_same_embed_dim or mha.in_proj_weight is None:
        return "an attention layer with separate key/value sizes"
    if mha.bias_k is not None or mha.add_zero_attn:
        return "an attention layer with add_bias_kv or add_zero_attn"
    if not mha.batch_first:
        return "an attention layer that is not batch-first"
    return None


class CachedAttention:
    """Causal multi-head self-attention over (N, t, E) new positions, with K/V cached."""

    def __init__(self, mha: nn.MultiheadAttention, state: CacheState) -> None:
        self.state = state
        self.heads, self.head_dim = mha.num_heads, mha.head_dim
        self.w_in, self.b_in = mha.in_proj_weight, mha.in_proj_bias
        self.w_out, self.b_out = mha.out_proj.weight, mha.out_proj.bias
        self.keys = self.values = torch.empty(0)
        self.padding: torch.Tensor | None = None

    def reset(self, batch: int) -> None:
        """Fresh (empty) caches for ``batch`` sequences of up to ``state.capacity`` tokens
        (allocated as they are reached: ``FIRST_ROWS``, then doubling)."""
        rows = min(self.state.capacity, FIRST_ROWS)
        self.keys, self.values = self._empty(batch, rows), self._empty(batch, rows)
        self.padding = None

    def _empty(self, batch: int, rows: int) -> torch.Tensor:
        w = self.w_in
        return torch.empty((batch, self.heads, rows, self.head_dim), dtype=w.dtype, device=w.device)

    def _make_room(self, end: int) -> None:
        """Rows for positions up to ``end``: the cached ones copied into larger tensors."""
        held = self.keys.shape[2]
        if end <= held:
            return
        rows = min(max(end, 2 * held), max(end, self.state.capacity))
        start = self.state.offset
        keys, values = self._empty(self.keys.shape[0], rows), self._empty(self.keys.shape[0], rows)
        keys[:, :, :start] = self.keys[:, :, :start]
        values[:, :, :start] = self.values[:, :, :start]
        self.keys, self.values = keys, values

    def __call__(self, x: torch.Tensor, pad: torch.Tensor | None = None) -> torch.Tensor:
        n, t, e = x.shape
        start = self.state.offset
        end = start + t
        qkv = F.linear(x, self.w_in, self.b_in).view(n, t, 3, self.heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (N, H, t, d)
        self._make_room(end)
        self.keys[:, :, start:end] = k
        self.values[:, :, start:end] = v
        mask = None if t == 1 else causal_rows(start, t, x.device)
        if pad is not None:  # True at padded keys, as nn.MultiheadAttention's mask
            if self.padding is None:
                self.padding = torch.zeros(
                    n, self.state.capacity, dtype=torch.bool, device=x.device
                )
            self.padding[:, start:end] = pad
            keep = ~self.padding[:, None, None, :end]  # (N, 1, 1, end)
            mask = keep if mask is None else keep & mask
        # One new query sees every cached key: no mask at all, the fastest kernel.
        context = F.scaled_dot_product_attention(
            q, self.keys[:, :, :end], self.values[:, :, :end], attn_mask=mask
        )
        return F.linear(context.transpose(1, 2).reshape(n, t, e), self.w_out, self.b_out)


def causal_rows(start: int, t: int, device: torch.device) -> torch.Tensor:
    """(t, start + t) bool, True where query start+i may see key j (j <= start + i)."""
    return torch.ones(t, start + t, dtype=torch.bool, device=device).tril(start)


class CachedEncoderLayer:
    """One ``nn.TransformerEncoderLayer`` (pre-norm or post-norm, any activation), causal,
    with its attention cached; the computation of torch's layer in eval mode."""

    def __init__(self, layer: nn.TransformerEncoderLayer, state: CacheState) -> None:
        self.attention = CachedAttention(layer.self_attn, state)
        self.norm_first = layer.norm_first
        self.norm1, self.norm2 = _layer_norm(layer.norm1), _layer_norm(layer.norm2)
        self.w1, self.b1 = layer.linear1.weight, layer.linear1.bias
        self.w2, self.b2 = layer.linear2.weight, layer.linear2.bias
        self.activation: Callable[[torch.Tensor], torch.Tensor] = layer.activation

    def reset(self, batch: int) -> None:
        self.attention.reset(batch)

    def feed_forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(self.activation(F.linear(x, self.w1, self.b1)), self.w2, self.b2)

    def __call__(self, x: torch.Tensor, pad: torch.Tensor | None = None) -> torch.Tensor:
        if self.norm_first:
            x = x + self.attention(self.norm1(x), pad)
            return x + self.feed_forward(self.norm2(x))
        x = self.norm1(x + self.attention(x, pad))
        return self.norm2(x + self.feed_forward(x))


def _layer_norm(norm: nn.LayerNorm) -> Callable[[torch.Tensor], torch.Tensor]:
    """``norm`` as a plain function of its tensors (no module call per token)."""
    shape, weight, bias, eps = norm.normalized_shape, norm.weight, norm.bias, norm.eps

    def apply(x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, shape, weight, bias, eps)

    return apply


class CachedEncoder:
    """netspec's causal ``TransformerEncoder``: its layers in turn, each with its cache."""

    def __init__(self, encoder: Any, state: CacheState) -> None:
        self.layers = [CachedEncoderLayer(layer, state) for layer in encoder.layers]
        self.norm = encoder.norm

    def reset(self, batch: int) -> None:
        for layer in self.layers:
            layer.reset(batch)

    def __call__(self, x: torch.Tensor, pad: torch.Tensor | None = None) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x, pad)
        return x if self.norm is None else self.norm(x)


def supported_encoder(encoder: Any) -> str | None:
    """Why netspec's TransformerEncoder cannot be cached (None when it can)."""
    import torch.nn as nn

    if not getattr(encoder, "causal", False):
        return "a transformer_encoder that is not causal"
    for layer in encoder.layers:
        if not isinstance(layer, nn.TransformerEncoderLayer):
            return "a transformer_encoder of unknown layers"
        if not isinstance(layer.norm1, nn.LayerNorm) or not isinstance(layer.norm2, nn.LayerNorm):
            return "a transformer_encoder with unknown norms"
        reason = supported_attention(layer.self_attn)
        if reason is not None:
            return reason
    return None
