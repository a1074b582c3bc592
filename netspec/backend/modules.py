"""The torch modules netspec adds to torch.nn, each a plain self-contained class.

Imported only when a model is built (never by validate/summary). Each class uses nothing but
``math``, ``torch``, ``nn`` and ``F``, so ``netspec build`` copies its source verbatim into
the standalone model.py; and as module-level classes they pickle and script normally.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class SamePadConv1d(nn.Conv1d):
    """Conv1d with TF/Keras ``padding='same'`` at any stride: ceil(in / stride) outputs."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(same_pad(x, self.kernel_size, self.stride, self.dilation))


class SamePadConv2d(nn.Conv2d):
    """Conv2d with TF/Keras ``padding='same'`` at any stride: ceil(in / stride) outputs."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(same_pad(x, self.kernel_size, self.stride, self.dilation))


class SamePadConv3d(nn.Conv3d):
    """Conv3d with TF/Keras ``padding='same'`` at any stride: ceil(in / stride) outputs."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(same_pad(x, self.kernel_size, self.stride, self.dilation))


def same_pad(
    x: torch.Tensor, kernel: tuple[int, ...], stride: tuple[int, ...], dilation: tuple[int, ...]
) -> torch.Tensor:
    """Zero-pad the spatial dims like TF: total max((out-1)s + d(k-1) + 1 - in, 0), extra right."""
    pads: list[int] = []
    for i in reversed(range(len(kernel))):  # F.pad lists the last dim first
        size = x.shape[2 + i]
        out = -(-size // stride[i])
        total = max((out - 1) * stride[i] + dilation[i] * (kernel[i] - 1) + 1 - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads)


class LastStateLSTM(nn.LSTM):
    """Batch-first LSTM returning one tensor: every step, or the last layer's final state."""

    def __init__(self, *args: object, return_sequences: bool = False, **kwargs: object) -> None:
        super().__init__(*args, batch_first=True, **kwargs)
        self.return_sequences = return_sequences

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        output, (h_n, _) = super().forward(x)  # (N, T, D*H); h_n (layers*D, N, H)
        return output if self.return_sequences else last_state(h_n, self.bidirectional)


class LastStateGRU(nn.GRU):
    """Batch-first GRU returning one tensor: every step, or the last layer's final state."""

    def __init__(self, *args: object, return_sequences: bool = False, **kwargs: object) -> None:
        super().__init__(*args, batch_first=True, **kwargs)
        self.return_sequences = return_sequences

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        output, h_n = super().forward(x)  # (N, T, D*H); h_n (layers*D, N, H)
        return output if self.return_sequences else last_state(h_n, self.bidirectional)


class LastStateRNN(nn.RNN):
    """Batch-first Elman RNN returning one tensor: every step, or the last layer's final state."""

    def __init__(self, *args: object, return_sequences: bool = False, **kwargs: object) -> None:
        super().__init__(*args, batch_first=True, **kwargs)
        self.return_sequences = return_sequences

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        output, h_n = super().forward(x)  # (N, T, D*H); h_n (layers*D, N, H)
        return output if self.return_sequences else last_state(h_n, self.bidirectional)


def last_state(h_n: torch.Tensor, bidirectional: bool) -> torch.Tensor:
    """Keras-style last state: the last layer's final hidden state, both directions joined."""
    if bidirectional:
        return torch.cat((h_n[-2], h_n[-1]), dim=-1)  # (N, 2*H)
    return h_n[-1]  # (N, H)


def causal_mask(x: torch.Tensor) -> torch.Tensor:
    """(T, T) bool mask, True above the diagonal (not allowed), from (N, T, E) ``x``'s shape.

    Built from the shape only, on x's device: no data-dependent op, so it runs on meta.
    """
    steps = x.shape[1]
    return torch.ones(steps, steps, dtype=torch.bool, device=x.device).triu(1)


class SelfAttention(nn.MultiheadAttention):
    """Batch-first multi-head self-attention: ``forward(x, x_mask=None)`` -> (N, T, E).

    ``x_mask`` (N, T) bool, True at padded positions, hides those keys; optionally causal.
    """

    def __init__(
        self, embed_dim: int, num_heads: int, *, causal: bool = False, **kwargs: object
    ) -> None:
        super().__init__(embed_dim, num_heads, batch_first=True, **kwargs)
        self.causal = causal

    def forward(  # type: ignore[override]
        self, x: torch.Tensor, x_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        # torch ignores attn_mask when is_causal is set but still requires one.
        mask = causal_mask(x) if self.causal else None
        out, _ = super().forward(
            x,
            x,
            x,
            key_padding_mask=x_mask,
            need_weights=False,
            attn_mask=mask,
            is_causal=self.causal,
        )
        return out  # (N, T, E)

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, causal={self.causal}"


class TransformerEncoder(nn.TransformerEncoder):
    """Batch-first stack of ``num_layers`` encoder layers, each initialised independently.

    ``forward(x, x_mask=None)``: ``x_mask`` (N, T) bool, True at padded positions.
    (torch's TransformerEncoder deep-copies one layer, so all layers would start equal.)
    Nested tensors are off: they have no meta kernel, and they would zero the outputs at padded
    positions in eval mode only, so train and eval would differ there.
    ``activation="gelu_tanh"`` is GELU's tanh approximation (a module-level function, so the
    model pickles).
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        *,
        num_layers: int,
        causal: bool = False,
        activation: str = "relu",
        **kwargs: object,
    ) -> None:
        act = gelu_tanh if activation == "gelu_tanh" else activation

        def make() -> nn.TransformerEncoderLayer:
            return nn.TransformerEncoderLayer(
                d_model,
                nhead,
                activation=act,
                batch_first=True,
                **kwargs,  # type: ignore[arg-type]
            )

        super().__init__(make(), 1, enable_nested_tensor=False)
        self.layers = nn.ModuleList([self.layers[0], *(make() for _ in range(num_layers - 1))])
        self.num_layers = num_layers
        self.causal = causal

    def forward(  # type: ignore[override]
        self, x: torch.Tensor, x_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        if not self.causal:
            return super().forward(x, src_key_padding_mask=x_mask)
        return super().forward(x, mask=causal_mask(x), src_key_padding_mask=x_mask, is_causal=True)

    def extra_repr(self) -> str:
        return f"num_layers={self.num_layers}, causal={self.causal}"


class NormalEmbedding(nn.Embedding):
    """nn.Embedding whose weight starts N(0, init_std^2) instead of N(0, 1): GPT-2 and BERT
    use 0.02, which keeps a tied head's first logits small (with N(0, 1) they have a std of
    about sqrt(embedding_dim), and the first steps only undo that)."""

    def __init__(self, num_embeddings: int, embedding_dim: int, *, init_std: float) -> None:
        self.init_std = init_std  # read by reset_parameters, which nn.Embedding calls
        super().__init__(num_embeddings, embedding_dim)

    def reset_parameters(self) -> None:
        nn.init.normal_(self.weight, std=self.init_std)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, init_std={self.init_std}"


class LearnedPositionalEncoding(nn.Module):
    """``x + weight[:T]`` for (N, T, E) ``x``; ``weight`` (max_len, E) is learned."""

    def __init__(self, max_len: int, dim: int) -> None:
        super().__init__()
        self.max_len, self.dim = max_len, dim
        self.weight = nn.Parameter(torch.empty(max_len, dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.normal_(self.weight, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + table_rows(self.weight, x, "learned")  # (N, T, E) + (T, E)

    def extra_repr(self) -> str:
        return f"max_len={self.max_len}, dim={self.dim}"


def table_rows(table: torch.Tensor, x: torch.Tensor, kind: str) -> torch.Tensor:
    """The first T rows of a (max_len, E) position table, for (N, T, E) ``x``.

    A symbolic sequence length is only known here, when the model runs, so a too-long
    sequence gets this message instead of torch's size mismatch in the addition.
    """
    steps, max_len = x.shape[1], table.shape[0]
    if steps > max_len:
        raise ValueError(
            f"positional_encoding (kind: {kind}): the sequence length {steps} exceeds "
            f"max_len {max_len}; raise max_len to {steps} or more"
        )
    return table[:steps].to(x.dtype)  # (T, E)


class SinusoidalPositionalEncoding(nn.Module):
    """``x + pe[:T]`` with the fixed sine/cosine table of "Attention is all you need"."""

    pe: torch.Tensor

    def __init__(self, max_len: int, dim: int) -> None:
        super().__init__()
        self.max_len, self.dim = max_len, dim
        # Not in the state_dict: recomputed, so a module moved with to_empty() must call
        # reset_parameters() again to refill it.
        self.register_buffer("pe", torch.empty(max_len, dim), persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        position = torch.arange(self.max_len, dtype=torch.float32).unsqueeze(1)  # (L, 1)
        rate = torch.exp(
            torch.arange(0, self.dim, 2, dtype=torch.float32) * (-math.log(10000.0) / self.dim)
        )  # (ceil(E/2),)
        with torch.no_grad():
            self.pe[:, 0::2] = torch.sin(position * rate)
            self.pe[:, 1::2] = torch.cos(position * rate[: self.dim // 2])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + table_rows(self.pe, x, "sinusoidal")  # (N, T, E) + (T, E)

    def extra_repr(self) -> str:
        return f"max_len={self.max_len}, dim={self.dim}"


class Reshape(nn.Module):
    """Reshapes each sample to ``shape``; the batch dim stays first."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.shape)  # (N, *in) -> (N, *shape)

    def extra_repr(self) -> str:
        return f"shape={self.shape}"


class Permute(nn.Module):
    """Reorders the per-sample dims; the batch dim stays first."""

    def __init__(self, dims: tuple[int, ...]) -> None:
        super().__init__()
        self.dims = tuple(dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, *self.dims)

    def extra_repr(self) -> str:
        return f"dims={self.dims}"


HELPERS = {
    "SamePadConv1d": ("same_pad",),
    "SamePadConv2d": ("same_pad",),
    "SamePadConv3d": ("same_pad",),
    "LastStateLSTM": ("last_state",),
    "LastStateGRU": ("last_state",),
    "LastStateRNN": ("last_state",),
    "SelfAttention": ("causal_mask",),
    "TransformerEncoder": ("causal_mask", "gelu_tanh"),
    "LearnedPositionalEncoding": ("table_rows",),
    "SinusoidalPositionalEncoding": ("table_rows",),
}
"""Module-level functions each class calls (copied into model.py along with the class)."""


# --- normalization and activation layers (netspec/layers/normalization.py) -----------------


class RMSNorm(nn.Module):
    """Root-mean-square norm over the last dim: ``x / sqrt(mean(x^2) + eps) * weight``.

    Equal to torch.nn.RMSNorm (same arguments, same parameter name ``weight``), which only
    exists from torch 2.4 on; netspec supports 2.3. Like torch, it computes in float32 at
    least (half-precision inputs are upcast) and takes the machine epsilon of that dtype when
    ``eps`` is None.
    """

    weight: nn.Parameter | None

    def __init__(
        self, normalized_shape: int, eps: float | None = None, elementwise_affine: bool = True
    ) -> None:
        super().__init__()
        self.normalized_shape = (normalized_shape,)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = nn.Parameter(torch.empty(normalized_shape))
        else:
            self.register_parameter("weight", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.weight is not None:
            nn.init.ones_(self.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        wide = x.to(torch.promote_types(x.dtype, torch.float32))
        eps = torch.finfo(wide.dtype).eps if self.eps is None else self.eps
        y = wide * torch.rsqrt(wide.pow(2).mean(-1, keepdim=True) + eps)  # (N, ..., E)
        if self.weight is not None:
            y = y * self.weight
        return y.type_as(x)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
        )


# ---- attention: cross-attention, transformer decoder, padding-aware sequence pooling ----------


def gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    """GELU with the tanh approximation (GPT-2): a transformer layer's feed-forward activation.

    A module-level function rather than a lambda, so models using it pickle and eject.
    """
    return F.gelu(x, approximate="tanh")


class CrossAttention(nn.MultiheadAttention):
    """Batch-first multi-head cross-attention: ``forward(q, kv, q_mask=None, kv_mask=None)``.

    Queries (N, Tq, E) attend to a memory (N, Tk, kdim) -> (N, Tq, E); keys and values both
    come from the memory. ``kv_mask`` (N, Tk) bool, True at padded memory positions, hides
    those keys; ``q_mask`` is accepted for the one-mask-per-input protocol and changes nothing
    (a padded query's output row is ignored downstream, not masked here).
    """

    def __init__(self, embed_dim: int, num_heads: int, **kwargs: object) -> None:
        super().__init__(embed_dim, num_heads, batch_first=True, **kwargs)

    def forward(  # type: ignore[override]
        self,
        q: torch.Tensor,
        kv: torch.Tensor,
        q_mask: torch.Tensor | None = None,
        kv_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        out, _ = super().forward(q, kv, kv, key_padding_mask=kv_mask, need_weights=False)
        return out  # (N, Tq, E)

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, kdim={self.kdim}"


class TransformerDecoder(nn.TransformerDecoder):
    """Batch-first stack of ``num_layers`` decoder layers, each initialised independently.

    ``forward(tgt, memory, tgt_mask=None, memory_mask=None)``: target (N, T, E), memory
    (N, S, E) -> (N, T, E); the masks are (N, T) and (N, S) bool key-padding masks, True at
    padded positions. With ``causal`` (the default) target position t sees targets <= t; the
    cross-attention always sees the whole (unpadded) memory. No final norm, as in the encoder.
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        *,
        num_layers: int,
        causal: bool = True,
        activation: str = "relu",
        **kwargs: object,
    ) -> None:
        act = gelu_tanh if activation == "gelu_tanh" else activation

        def make() -> nn.TransformerDecoderLayer:
            return nn.TransformerDecoderLayer(
                d_model,
                nhead,
                activation=act,
                batch_first=True,
                **kwargs,  # type: ignore[arg-type]
            )

        # torch deep-copies one layer num_layers times: build each on its own instead.
        super().__init__(make(), 1)
        self.layers = nn.ModuleList([self.layers[0], *(make() for _ in range(num_layers - 1))])
        self.num_layers = num_layers
        self.causal = causal

    def forward(  # type: ignore[override]
        self,
        tgt: torch.Tensor,
        memory: torch.Tensor,
        tgt_mask: torch.Tensor | None = None,
        memory_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        # nn.TransformerDecoder's own tgt_mask/memory_mask are attention masks; ours are the
        # key-padding masks of the one-mask-per-input protocol.
        return super().forward(
            tgt,
            memory,
            tgt_mask=causal_mask(tgt) if self.causal else None,
            tgt_key_padding_mask=tgt_mask,
            memory_key_padding_mask=memory_mask,
            tgt_is_causal=self.causal,
        )

    def extra_repr(self) -> str:
        return f"num_layers={self.num_layers}, causal={self.causal}"


class SequencePool(nn.Module):
    """(N, T, E) -> (N, E): mean or max over the positions where ``x_mask`` (N, T) is False.

    Without a mask every position counts. A sequence that is all padding pools to zeros.
    """

    def __init__(self, mode: str = "mean") -> None:
        super().__init__()
        if mode not in ("mean", "max"):
            raise ValueError(f"SequencePool mode must be 'mean' or 'max', not {mode!r}")
        self.mode = mode

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor | None = None) -> torch.Tensor:
        if x_mask is None:
            return x.mean(dim=1) if self.mode == "mean" else x.amax(dim=1)  # (N, E)
        padded = x_mask.unsqueeze(-1)  # (N, T, 1)
        if self.mode == "mean":
            # masked_fill, not a multiply by 0: a NaN at a padded position must not leak in
            kept = (~padded).sum(dim=1).clamp_min(1).to(x.dtype)  # (N, 1)
            return x.masked_fill(padded, 0.0).sum(dim=1) / kept  # (N, E)
        lowest = torch.finfo(x.dtype).min
        # torch.where, not a Python branch on values: the same graph on meta and in fx.
        out = x.masked_fill(padded, lowest).amax(dim=1)  # (N, E)
        return torch.where(padded.all(dim=1), torch.zeros_like(out), out)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"


HELPERS.update(
    {
        "CrossAttention": (),
        "TransformerDecoder": ("causal_mask", "gelu_tanh"),
    }
)


# --- selecting, cropping, learned tokens, stochastic depth (layers/select.py, tokens.py,
# merge.py) ----------------------------------------------------------------------------------


class Slice(nn.Module):
    """``x[..., start:stop:step]`` along ``dim`` (Python slice semantics).

    ``min_size`` is the least size of that dim the plan's output size holds for (0 when the
    plan saw a fixed size); a symbolic size below it raises here instead of letting Python's
    clamping hand later layers a shorter tensor than planned.
    """

    def __init__(
        self, dim: int, start: int = 0, stop: int | None = None, step: int = 1, min_size: int = 0
    ) -> None:
        super().__init__()
        self.dim, self.start, self.stop, self.step = dim, start, stop, step
        self.min_size = min_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        axis = self.dim % x.dim()
        if x.shape[axis] < self.min_size:
            raise ValueError(
                f"slice along dim {self.dim} needs a size of at least {self.min_size} "
                f"but receives {x.shape[axis]}"
            )
        return x[(slice(None),) * axis + (slice(self.start, self.stop, self.step),)]

    def extra_repr(self) -> str:
        return f"dim={self.dim}, start={self.start}, stop={self.stop}, step={self.step}"


class CenterCrop(nn.Module):
    """Crops (N, C, *spatial) ``x`` to the spatial size of ``like``, keeping the middle.

    The offset of each spatial dim is ``(size - target) // 2`` (U-Net's crop; torchvision's
    center_crop rounds half to even instead, one more when size - target is 3 mod 4). Sizes
    are read when the model runs, so symbolic sizes work; a larger reference raises.
    """

    def forward(self, x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        for d in range(2, x.dim()):
            size, target = x.shape[d], like.shape[d]
            if target > size:
                raise ValueError(
                    f"center_crop: the reference's size {target} in dim {d} is larger than "
                    f"the input's {size}"
                )
            x = x.narrow(d, (size - target) // 2, target)
        return x


class ClassToken(nn.Module):
    """Prepends ``count`` learned vectors to (N, T, E) ``x``: (N, count + T, E).

    ``token`` (1, count, E) starts at zeros, as torchvision's ViT class token does.
    """

    def __init__(self, count: int, dim: int) -> None:
        super().__init__()
        self.count, self.dim = count, dim
        self.token = nn.Parameter(torch.empty(1, count, dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.zeros_(self.token)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        token = self.token.expand(x.shape[0], -1, -1).to(x.dtype)  # (N, count, E)
        return torch.cat([token, x], dim=1)  # (N, count + T, E)

    def extra_repr(self) -> str:
        return f"count={self.count}, dim={self.dim}"


class DropPath(nn.Module):
    """Stochastic depth (timm's DropPath): while training, each sample's ``x`` is zeroed with
    probability ``p`` and the survivors scaled by 1 / (1 - p); the identity in eval."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)  # (N, 1, ...)
        return x * mask.div_(keep)

    def extra_repr(self) -> str:
        return f"p={self.p}"


# --- the VAE's sampling step (layers/latent.py) ----------------------------------------------


class Reparameterize(nn.Module):
    """VAE sampling: (N, ..., Z) ``mean`` and ``log_var`` -> (N, ..., Z).

    While training ``mean + exp(0.5 * log_var) * eps`` with ``eps ~ N(0, 1)`` (the
    reparameterization trick: gradients reach both inputs); ``mean`` in eval.

    Every forward (train and eval) also keeps ``self.kl``: the batch's KL divergence from
    N(mean, exp(log_var)) to the prior N(0, I), summed over a sample's latent elements and
    averaged over the batch. A VAE's training loss reads it after the forward; elsewhere
    (model.py, inference) it is an unused attribute.
    """

    kl: torch.Tensor | None

    def __init__(self) -> None:
        super().__init__()
        self.kl = None

    def forward(self, mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
        per_element = -0.5 * (1 + log_var - mean.pow(2) - log_var.exp())  # (N, ..., Z)
        self.kl = per_element.flatten(1).sum(1).mean()
        if not self.training:
            return mean
        eps = torch.randn_like(mean)  # (N, ..., Z)
        return mean + torch.exp(0.5 * log_var) * eps


# --- graphs (layers/graph.py) ---------------------------------------------------------------


class GraphPool(nn.Module):
    """(nodes, F) -> (graphs, F): mean, max or sum of each graph's node features.

    ``batch`` (nodes,) holds each node's graph id (0 .. graphs-1, PyG's convention); None
    means one graph. Plain torch, equal to torch_geometric's global_mean/max/add_pool; a
    graph id with no node pools to zeros.
    """

    def __init__(self, mode: str = "mean") -> None:
        super().__init__()
        if mode not in ("mean", "max", "sum"):
            raise ValueError(f"GraphPool mode must be 'mean', 'max' or 'sum', not {mode!r}")
        self.mode = mode

    def forward(self, x: torch.Tensor, batch: torch.Tensor | None = None) -> torch.Tensor:
        if batch is None:
            if self.mode == "mean":
                return x.mean(dim=0, keepdim=True)  # (1, F)
            return x.amax(dim=0, keepdim=True) if self.mode == "max" else x.sum(0, keepdim=True)
        graphs = int(batch.max()) + 1 if batch.numel() else 0
        index = batch.unsqueeze(-1).expand_as(x)
        reduce = {"mean": "mean", "max": "amax", "sum": "sum"}[self.mode]
        out = x.new_zeros((graphs, *x.shape[1:]))
        return out.scatter_reduce(0, index, x, reduce=reduce, include_self=False)  # (graphs, F)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"
