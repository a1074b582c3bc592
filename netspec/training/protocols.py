"""What training needs from its collaborators, as structural types.

``DatasetLike`` is the part of :class:`netspec.data.Dataset` the loop reads, so tests (and
Python users) can hand in any object with these attributes, e.g. a few tensors. ``Reporter``
is how the CLI shows progress; netspec.training itself never prints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import torch

    from netspec.training.outcome import RunResult, StartInfo


class SplitLike(Protocol):
    """One split as whole tensors: ``x`` (n, *input), or for a model with several inputs a
    tuple of such tensors, one per input in the spec's declared order; ``y`` (n, ...)
    targets."""

    @property
    def x(self) -> torch.Tensor | tuple[torch.Tensor, ...]: ...

    @property
    def y(self) -> torch.Tensor: ...


class StandardizerLike(Protocol):
    """The input scaling saved with the run (netspec.data's Standardizer, or Standardizers
    for several inputs: each input's tensors under ``<input>.mean`` and so on)."""

    def to_tensors(self) -> dict[str, torch.Tensor]: ...


class DatasetLike(Protocol):
    """Training data. ``y`` holds int class indices (classification), 0/1 (binary), values
    (regression); an autoencoder ignores it. ``val``/``test`` may be None or empty."""

    @property
    def train(self) -> SplitLike: ...

    @property
    def val(self) -> SplitLike | None: ...

    @property
    def test(self) -> SplitLike | None: ...

    @property
    def num_classes(self) -> int | None: ...

    @property
    def class_names(self) -> Sequence[str] | None: ...

    @property
    def standardizer(self) -> StandardizerLike | None: ...

    def describe(self) -> str: ...


class Reporter(Protocol):
    """Progress callbacks. ``on_batch`` comes every few batches (``step`` counts batches
    since the run began, ``loss`` is the epoch's mean training loss so far); ``on_epoch``
    gets metrics.csv's row. A callback may raise KeyboardInterrupt to stop the run cleanly."""

    def on_start(self, info: StartInfo) -> None: ...

    def on_batch(self, step: int, loss: float) -> None: ...

    def on_epoch(self, epoch: int, row: Mapping[str, float]) -> None: ...

    def on_end(self, result: RunResult) -> None: ...


class NullReporter:
    """Reports nothing (the default)."""

    def on_start(self, info: StartInfo) -> None:
        pass

    def on_batch(self, step: int, loss: float) -> None:
        pass

    def on_epoch(self, epoch: int, row: Mapping[str, float]) -> None:
        pass

    def on_end(self, result: RunResult) -> None:
        pass
