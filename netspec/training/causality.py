"""The start-of-training check that a language model is causal: the logits at position t may
depend on tokens <= t only, or the model learns to copy the next token from its input and
is useless for generation.

``netspec validate`` refuses the layers it knows to look ahead (non-causal attention,
bidirectional recurrent layers); this catches the rest (``conv1d`` with same padding, a
plugin layer) with one pair of forward passes: change the last token of two samples and the
outputs at every earlier position must stay as they were.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from netspec.errors import Diagnostic, SpecError
from netspec.spec.load import Spec
from netspec.training.batches import as_inputs, as_tuple, first_output

if TYPE_CHECKING:
    import torch

    from netspec.training.protocols import DatasetLike

ROWS = 2
"""Samples in the check's batch: more than one, so batch-mixing layers show up too."""


def check_causal(
    spec: Spec, model: torch.nn.Module, data: DatasetLike, device: torch.device
) -> None:
    """SpecError (at train.task) when changing a sample's last token changes the model's
    outputs at earlier positions."""
    import torch

    tokens = as_tuple(as_inputs(data.train.x))
    if len(tokens) != 1 or tokens[0].dim() != 2 or tokens[0].shape[1] < 2:
        return
    x = tokens[0][:ROWS].to(device)
    low, high = int(tokens[0].min()), int(tokens[0].max())
    if low == high:  # one token id in all the data: nothing to change it to
        return
    changed = x.clone()
    changed[:, -1] = torch.where(x[:, -1] == low, high, low)
    forward = first_output(model)
    was_training = model.training
    model.train(False)
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            before, after = forward(x).float(), forward(changed).float()
    finally:
        model.train(was_training)
    earlier = (before[:, :-1] - after[:, :-1]).abs()
    scale = before[:, :-1].abs().amax().clamp_min(1.0)
    if bool(earlier.amax() <= 1e-4 * scale):
        return
    moved = earlier.flatten(2).amax(-1).amax(0)  # per position
    first = int(torch.nonzero(moved > 1e-4 * scale).flatten()[0])
    length = int(x.shape[1])
    diag = Diagnostic(
        "not-causal",
        "task language_model: the model lets a position see later tokens: changing the "
        f"last token (position {length - 1}) changed the output at position {first}, so "
        "training would teach it to read the next token instead of predicting it",
        path=("train", "task"),
        hints=(
            "mix positions only with causal layers (transformer_encoder with causal: true, "
            "recurrent layers without bidirectional); a convolution over time with same "
            "padding reads later tokens",
        ),
    )
    raise SpecError([spec.source.attach(diag)])
