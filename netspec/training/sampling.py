"""The generation loop: choose a next token from the logits, feed it back, slide the window.

Greedy at temperature 0; otherwise a draw from softmax(logits / temperature), over the
``top_k`` most likely tokens when given, with a seeded ``torch.Generator``: the same seed
gives the same tokens. Generation stops after ``max_new_tokens`` or when every sequence has
produced ``eos_id``.

Beyond the model's context length C the window slides: the next token is predicted from the
last C tokens. With a cache that means a new window each step (absolute positions shift, so
the cached keys and values are stale): the cache is rebuilt from the window.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from netspec.training.decoding import Decoder

MIN_TEMPERATURE = 1e-30
MAX_TEMPERATURE = 1e30
"""The temperatures a draw uses at most and at least: within float32's normal range."""


def choose(
    logits: torch.Tensor,
    temperature: float,
    top_k: int | None,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """The next token of each row of ``logits`` (N, V): (N, 1) int64."""
    if temperature == 0:
        return logits.argmax(dim=-1, keepdim=True)
    # In float32 a temperature of 1e-300 is 0 and one of 1e300 is inf, and logits / T
    # overflow long before: softmax would see inf - inf (NaN). Relative to the row's largest
    # logit the scaled values are <= 0, and a temperature within float32's range keeps them
    # well defined at both extremes (greedy-like and uniform-like).
    temperature = min(max(temperature, MIN_TEMPERATURE), MAX_TEMPERATURE)
    logits = logits.float()
    scaled = (logits - logits.amax(dim=-1, keepdim=True)) / temperature
    if top_k is not None and top_k < scaled.shape[-1]:
        best, ids = scaled.topk(top_k, dim=-1)
        pick = torch.multinomial(best.softmax(dim=-1), 1, generator=generator)
        return ids.gather(-1, pick)
    return torch.multinomial(scaled.softmax(dim=-1), 1, generator=generator)


def suppressed(
    logits: torch.Tensor, vocab_size: int | None, banned: tuple[int, ...]
) -> torch.Tensor:
    """``logits`` (N, V) with the ids no token may take set to -inf: those at and above the
    tokenizer's ``vocab_size`` (a head may be wider than the vocabulary: those rows never
    trained and decode to nothing) and ``banned`` (``<pad>``, which only fills samples)."""
    if (vocab_size is None or vocab_size >= logits.shape[-1]) and not banned:
        return logits
    logits = logits.clone()
    if vocab_size is not None:
        logits[:, vocab_size:] = float("-inf")
    for token in banned:
        logits[:, token] = float("-inf")
    return logits


def generate_ids(
    decoder: Decoder,
    prompt: torch.Tensor,
    *,
    max_new_tokens: int,
    context: int | None,
    temperature: float = 0.0,
    top_k: int | None = None,
    seed: int | None = None,
    eos_id: int | None = None,
    vocab_size: int | None = None,
    banned: tuple[int, ...] = (),
) -> Iterator[torch.Tensor]:
    """The new tokens (N,) one step at a time, after the prompt (N, P) (P >= 1). Ids from
    ``vocab_size`` on and those in ``banned`` are never chosen (see :func:`suppressed`)."""
    if max_new_tokens < 1:
        return
    generator = None
    if temperature != 0:
        generator = torch.Generator(device=prompt.device)
        if seed is None:
            generator.seed()
        else:
            generator.manual_seed(seed)
    window = prompt if context is None else prompt[:, -context:]
    capacity = window.shape[1] + max_new_tokens if context is None else context
    logits = decoder.start(window, capacity)
    produced: list[torch.Tensor] = []  # for the window, once it slides
    done = torch.zeros(prompt.shape[0], dtype=torch.bool, device=prompt.device)
    for step in range(max_new_tokens):
        allowed = suppressed(logits[:, -1], vocab_size, banned)
        new = choose(allowed, temperature, top_k, generator)
        yield new[:, 0]
        if eos_id is not None:
            done |= new[:, 0] == eos_id
            if bool(done.all()):
                return
        if step == max_new_tokens - 1:
            return
        produced.append(new)
        if context is None or decoder.length < context:
            logits = decoder.feed(new)
        else:
            recent = torch.cat((window, *produced[-context:]), dim=1)[:, -context:]
            logits = decoder.start(recent, context)
