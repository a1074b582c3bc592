"""Incremental decoding of a built language model: logits of new tokens given those before.

A decoder holds the tokens of one window (N sequences) and answers ``feed(ids)`` with the
logits of the new positions (N, t, V). Two kinds:

- ``CachedDecoder`` walks the model's fx graph once and runs it on the new tokens only:
  position-wise modules and functions (embedding, dense, layernorm, rmsnorm, dropout in eval,
  activations, add/mul/eq of per-position values, a tied head) as they are, positional
  encodings with the rows at the current offset, and causal ``transformer_encoder`` and
  ``multihead_attention`` layers with key/value caches (``kv_cache``).
- ``WindowDecoder`` runs the model's own forward on the whole window for every new token:
  the fallback for a graph the cache does not understand (a decoder with a memory, recurrent
  layers, convolutions, a sequence pool, ...). Correct, slower.

``decoder(model)`` picks the cached one when it can and otherwise says why in ``reason``.
Both compute what the model's full forward computes, in eval mode (tests/test_decoding.py).
``context_length`` is the longest window a model takes: its fixed input length or its
positional tables' ``max_len``; the caller slides the window beyond it (``sampling``).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from torch import fx, nn

from netspec.backend import modules as netspec_modules
from netspec.training.kv_cache import (
    CachedAttention,
    CachedEncoder,
    CacheState,
    supported_attention,
    supported_encoder,
)


class Decoder(Protocol):
    @property
    def cached(self) -> bool:
        """Whether new tokens run alone, against cached keys and values."""

    @property
    def reason(self) -> str | None:
        """Why the window is recomputed for every token (None when cached)."""

    @property
    def length(self) -> int:
        """The number of tokens the decoder holds."""

    def start(self, ids: torch.Tensor, capacity: int) -> torch.Tensor:
        """Forget everything, take ``ids`` (N, t), hold up to ``capacity`` tokens from now
        on; the logits (N, t, V) of those positions."""

    def feed(self, ids: torch.Tensor) -> torch.Tensor:
        """Append ``ids`` (N, t): the logits (N, t, V) of the new positions."""


class Uncacheable(Exception):
    """A node the cache does not understand; the message says which."""


POSITION_WISE_MODULES: tuple[type[nn.Module], ...] = (
    nn.Embedding,
    nn.Linear,
    nn.Dropout,
    nn.Identity,
    nn.ReLU,
    nn.GELU,
    nn.SiLU,
    nn.Tanh,
    nn.Sigmoid,
    nn.LeakyReLU,
    nn.ELU,
    nn.Softplus,
    netspec_modules.DropPath,
)
"""Modules whose output at a position depends on that position's input only (in eval mode:
dropout and drop-path are the identity there)."""

POSITION_WISE_FUNCTIONS: tuple[Callable[..., Any], ...] = (
    operator.add,
    operator.mul,
    operator.eq,
    torch.relu,
    torch.sigmoid,
    torch.tanh,
    F.leaky_relu,
    F.gelu,
    F.silu,
    F.elu,
    F.selu,
    F.relu6,
    F.hardswish,
    F.hardsigmoid,
    F.mish,
    F.softplus,
)
LAST_DIM_FUNCTIONS: tuple[Callable[..., Any], ...] = (torch.softmax, torch.log_softmax)
"""Position-wise when taken over the last dim (``dim=-1``, as netspec's activations are)."""

IN_EVAL = (nn.Dropout, netspec_modules.DropPath)
NO_CACHE = "the cache turned off"
"""The window decoder's reason when the caller asked for no cache."""


@dataclass(frozen=True)
class Op:
    """One graph node: ``run`` on the values of ``args`` (node indices, or constants)."""

    run: Callable[..., Any]
    args: tuple[tuple[bool, Any], ...]  # (is a node's value, index or constant)


def context_length(model: nn.Module, input_length: int | None = None) -> int | None:
    """The longest window ``model`` takes: the fixed input length and every positional
    table's max_len, the smallest of them; None when nothing bounds it."""
    bounds = [input_length] if input_length is not None else []
    for module in model.modules():
        if isinstance(
            module,
            (
                netspec_modules.LearnedPositionalEncoding,
                netspec_modules.SinusoidalPositionalEncoding,
            ),
        ):
            bounds.append(module.max_len)
    return min(bounds) if bounds else None


def decoder(model: fx.GraphModule, *, cache: bool = True) -> CachedDecoder | WindowDecoder:
    """The cached decoder of ``model`` when its graph allows one (and ``cache``), else the
    window decoder, whose ``reason`` says why. Puts the model in eval mode."""
    model.eval()
    if not cache:
        return WindowDecoder(model, NO_CACHE)
    try:
        return CachedDecoder(model)
    except Uncacheable as exc:
        return WindowDecoder(model, str(exc))


class WindowDecoder:
    """The model's own forward over the whole window, for every new token."""

    cached = False

    def __init__(self, model: nn.Module, reason: str) -> None:
        self.model = model
        self.reason: str | None = reason
        self.tokens = torch.empty(0)

    @property
    def length(self) -> int:
        return int(self.tokens.shape[1]) if self.tokens.dim() == 2 else 0

    @torch.inference_mode()
    def start(self, ids: torch.Tensor, capacity: int) -> torch.Tensor:
        self.tokens = ids
        return self._logits(ids.shape[1])

    @torch.inference_mode()
    def feed(self, ids: torch.Tensor) -> torch.Tensor:
        self.tokens = torch.cat((self.tokens, ids), dim=1)
        return self._logits(ids.shape[1])

    def _logits(self, t: int) -> torch.Tensor:
        result = self.model(self.tokens)
        out = result[0] if isinstance(result, tuple) else result
        if not isinstance(out, torch.Tensor) or out.dim() != 3:
            raise ValueError(
                "a language model gives logits (N, T, vocabulary), not "
                f"{type(out).__name__} {getattr(out, 'shape', '')}"
            )
        return out[:, -t:]


class CachedDecoder:
    """The model's graph run on the new tokens only, attention with key/value caches."""

    cached = True
    reason: str | None = None

    def __init__(self, model: fx.GraphModule) -> None:
        self.state = CacheState()
        self.caches: list[CachedEncoder | CachedAttention] = []
        self.ops: list[Op] = []
        self.output = -1
        self._compile(model)

    @property
    def length(self) -> int:
        return self.state.offset

    @torch.inference_mode()
    def start(self, ids: torch.Tensor, capacity: int) -> torch.Tensor:
        self.state.offset, self.state.capacity = 0, capacity
        for cache in self.caches:
            cache.reset(ids.shape[0])
        return self._run(ids)

    @torch.inference_mode()
    def feed(self, ids: torch.Tensor) -> torch.Tensor:
        if self.state.offset + ids.shape[1] > self.state.capacity:
            raise ValueError(f"the cache holds {self.state.capacity} tokens: start a new window")
        return self._run(ids)

    def _run(self, ids: torch.Tensor) -> torch.Tensor:
        values: list[Any] = [ids]
        for op in self.ops:
            values.append(op.run(*[values[a] if node else a for node, a in op.args]))
        self.state.offset += ids.shape[1]
        out = values[self.output]
        if not isinstance(out, torch.Tensor):
            raise ValueError("a language model gives one tensor of logits")
        return out

    # -- the graph, read once --------------------------------------------------------------

    def _compile(self, model: fx.GraphModule) -> None:
        index: dict[fx.Node, int] = {}
        placeholders = [n for n in model.graph.nodes if n.op == "placeholder"]
        if len(placeholders) != 1:
            raise Uncacheable(f"a model of {len(placeholders)} inputs")
        output = next(n for n in model.graph.nodes if n.op == "output").args[0]
        logits = output[0] if isinstance(output, tuple) else output
        needed = _ancestors(logits)  # the other outputs (extra heads) are not generated from
        for node in model.graph.nodes:
            if node.op == "placeholder":
                index[node] = 0
            elif node in needed:
                self.ops.append(self._op(model, node, index))
                index[node] = len(self.ops)
        self.output = index[logits]

    def _op(self, model: fx.GraphModule, node: fx.Node, index: dict[fx.Node, int]) -> Op:
        def arg(value: Any) -> tuple[bool, Any]:
            if isinstance(value, fx.Node):
                return (True, index[value])
            if isinstance(value, (list, tuple, dict)):
                raise Uncacheable(f"layer {node.name} (several inputs in a list)")
            return (False, value)

        if any(isinstance(v, fx.Node) for v in node.kwargs.values()):
            raise Uncacheable(f"layer {node.name} (tensor keyword arguments)")
        args = tuple(arg(a) for a in node.args)
        return Op(self._runner(model, node), args)

    def _runner(self, model: fx.GraphModule, node: fx.Node) -> Callable[..., Any]:
        kwargs = dict(node.kwargs)
        if node.op == "call_function":
            fn = node.target
            if fn in POSITION_WISE_FUNCTIONS or (
                fn in LAST_DIM_FUNCTIONS and kwargs.get("dim") == -1
            ):
                if not callable(fn):
                    raise Uncacheable(f"layer {node.name} ({fn!r} is not callable)")
                return (lambda *a: fn(*a, **kwargs)) if kwargs else fn
            raise Uncacheable(f"layer {node.name} (function {getattr(fn, '__name__', fn)})")
        if node.op != "call_module" or not isinstance(node.target, str):
            raise Uncacheable(f"layer {node.name} (a {node.op} node)")
        module = model.get_submodule(node.target)
        what = f"layer {node.name} ({type(module).__name__})"
        if isinstance(module, IN_EVAL):
            return _identity
        direct = _functional(module)
        if direct is not None:
            return direct
        if isinstance(module, POSITION_WISE_MODULES):
            return module
        if isinstance(module, (nn.Softmax, nn.LogSoftmax)) and module.dim == -1:
            return module
        if isinstance(module, nn.PReLU) and module.num_parameters == 1:  # else per dim 1: T
            return module
        if isinstance(module, (nn.LayerNorm, netspec_modules.RMSNorm)):
            if len(module.normalized_shape) != 1:
                raise Uncacheable(f"{what}: a norm over more than the last dim")
            return module
        if isinstance(module, netspec_modules.LearnedPositionalEncoding):
            return self._positions(module.weight)
        if isinstance(module, netspec_modules.SinusoidalPositionalEncoding):
            return self._positions(module.pe)
        if isinstance(module, netspec_modules.TransformerEncoder):
            reason = supported_encoder(module)
            if reason is not None:
                raise Uncacheable(f"{what}: {reason}")
            encoder = CachedEncoder(module, self.state)
            self.caches.append(encoder)
            return encoder
        if isinstance(module, netspec_modules.SelfAttention):
            reason = "not causal" if not module.causal else supported_attention(module)
            if reason is not None:
                raise Uncacheable(f"{what}: {reason}")
            attention = CachedAttention(module, self.state)
            self.caches.append(attention)
            return attention
        raise Uncacheable(what)

    def _positions(self, table: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
        state = self.state

        def add_rows(x: torch.Tensor) -> torch.Tensor:
            start = state.offset
            return x + table[start : start + x.shape[1]].to(x.dtype)

        return add_rows


def _ancestors(node: Any) -> set[fx.Node]:
    """``node`` and every node it is computed from."""
    seen: set[fx.Node] = set()
    todo = [node] if isinstance(node, fx.Node) else []
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(current.all_input_nodes)
    return seen


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def _functional(module: nn.Module) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """The most common modules as plain functions of their (shared, tied) parameters: a
    module call's hooks machinery costs more per token than a small layer computes."""
    if type(module) is nn.Linear:
        weight, bias = module.weight, module.bias
        return lambda x: F.linear(x, weight, bias)
    if type(module) is nn.Embedding and module.max_norm is None:
        table = module.weight
        return lambda x: F.embedding(x, table)
    if type(module) is nn.LayerNorm and len(module.normalized_shape) == 1:
        shape, w, b, eps = module.normalized_shape, module.weight, module.bias, module.eps
        return lambda x: F.layer_norm(x, shape, w, b, eps)
    return None
