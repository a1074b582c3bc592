"""exact_match: the fraction of problems (prompt -> answer) a language model answers right
when it decodes greedily from the prompt.

A problem sample is s = prompt + answer + [eos] padded to T + 1 tokens, x = s[:-1] and
y = s[1:] with y = IGNORE except at the answer and its eos (the agreed data format of
language-model data). So the prompt is x[:p] with p = 1 + the index of the first trained
target, and the expected continuation is y's trained run, ending in eos.

Decoding runs the model on whole (n, T) rows, each step writing the chosen token after the
prompt: a causal model's logits at a position do not depend on the later ones (checked at the
start of training, ``causality``), so the rest of the row does not matter and any model
input shape works, a fixed T included. Rows are batched by prompt length, so one step
decodes the same position in every row of a batch. A row is correct iff its first L
generated tokens are the L expected ones (the answer then eos); decoding stops early once
every row of the batch has produced its eos.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from netspec.sources.tokenizers import IGNORE
from netspec.training.batches import as_tuple, first_output

if TYPE_CHECKING:
    import torch


def problem_layout(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row of targets (n, T): the prompt length and the expected continuation's length
    (the answer tokens and the eos)."""
    trained = t != IGNORE
    length = trained.sum(1)
    first = trained.to(dtype=length.dtype).argmax(1)
    return first + 1, length


def count_correct(
    model: torch.nn.Module,
    x: Any,
    t: torch.Tensor,
    *,
    batch_size: int,
    device: torch.device,
    autocast: Callable[[], contextlib.AbstractContextManager[Any]] | None = None,
    vocab_size: int | None = None,
    banned: tuple[int, ...] = (),
) -> int:
    """How many of the problems (token rows ``x`` (n, T), targets ``t`` (n, T)) the model
    answers exactly by greedy decoding. The model must be in eval mode. Ids from
    ``vocab_size`` on and ``banned`` ones are never chosen, as in `netspec generate`."""
    import torch

    tokens = as_tuple(x)[0]
    prompt, length = problem_layout(t)
    forward = first_output(model)
    correct = 0
    with torch.no_grad():
        for p in torch.unique(prompt).tolist():
            group = torch.nonzero((prompt == p) & (length > 0)).flatten()
            for i in range(0, int(group.shape[0]), batch_size):
                rows = group[i : i + batch_size]
                correct += _decode(
                    forward,
                    tokens[rows],
                    t[rows],
                    int(p),
                    length[rows],
                    device,
                    autocast,
                    (vocab_size, banned),
                )
    return correct


def _decode(
    forward: Callable[..., torch.Tensor],
    tokens: torch.Tensor,
    targets: torch.Tensor,
    p: int,
    length: torch.Tensor,
    device: torch.device,
    autocast: Callable[[], contextlib.AbstractContextManager[Any]] | None,
    never: tuple[int | None, tuple[int, ...]],
) -> int:
    """Greedy decoding of one batch of problems whose prompts are all ``p`` tokens long;
    ``never``: (vocab_size, banned) for :func:`~netspec.training.sampling.suppressed`."""
    import torch

    from netspec.training.sampling import suppressed

    seq = tokens.to(device).clone()
    seq[:, p:] = 0  # nothing of the answer stays in the row
    n, width = seq.shape
    steps = int(length.max())
    expected = targets.to(device)[:, p - 1 : p - 1 + steps]  # (n, steps), IGNORE past the end
    length = length.to(device)
    eos = expected.gather(1, (length - 1).unsqueeze(1)).squeeze(1)
    generated = torch.full((n, steps), IGNORE, dtype=seq.dtype, device=device)
    finished = torch.zeros(n, dtype=torch.bool, device=device)
    for k in range(steps):
        with autocast() if autocast is not None else contextlib.nullcontext():
            logits = forward(seq)
        chosen = suppressed(logits[:, p - 1 + k], *never).argmax(-1).to(seq.dtype)
        generated[:, k] = chosen
        finished |= chosen == eos
        if p + k < width:
            seq[:, p + k] = chosen
        if bool(finished.all()):
            break
    within = torch.arange(steps, device=device).unsqueeze(0) < length.unsqueeze(1)
    right = ((generated == expected) | ~within).all(1)
    return int(right.sum())
