"""A GAN run's last.ckpt: everything ``--resume`` needs, as a versioned, typed ``GanState``.

Laid out like ``checkpoint.TrainState`` (one flat dict of plain data, ``torch.save``d, read
with ``torch.load(weights_only=True)``, every key checked against ``SCHEMA``), with the
fields of two networks: both optimizers, the generator's weight average and the noise
stream. ``kind: "gan"`` tells it from a one-network checkpoint, so resuming one with the
other is a located error rather than a KeyError.

Change a field, its meaning or its key: bump ``GAN_CHECKPOINT_VERSION``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import torch

from netspec.errors import SpecError
from netspec.training.checkpoint import (
    check_fields,
    check_version,
    load_plain,
    save_plain,
    unreadable,
)
from netspec.training.plain import (
    is_bool,
    is_int,
    is_mapping,
    is_number,
    is_rows,
    is_str,
    is_tensor,
    is_tensors,
    or_none,
)

GAN_CHECKPOINT_VERSION = 1
KIND = "gan"


@dataclass(frozen=True)
class GanState:
    """A GAN run's whole state between two batches."""

    model: Mapping[str, torch.Tensor]  # the ModuleDict: generator.*, discriminator.*
    g_optimizer: dict[str, Any]
    d_optimizer: dict[str, Any]
    ema: Mapping[str, torch.Tensor]  # the generator's average; empty when train.gan.ema is off
    epoch: int  # epochs completed
    batch: int  # batches (discriminator steps) done in the current epoch
    d_steps: int  # discriminator steps since the run began
    g_steps: int  # generator steps since the run began
    best_value: float | None
    best_epoch: int  # 1-based; 0: none yet
    wait: int  # early stopping: epochs since the last improvement
    stopped_early: bool
    finished: bool
    train_seconds: float
    train_samples: int
    epoch_sums: torch.Tensor | None  # the current epoch's sums: d_loss, g_loss, d_real, d_fake
    epoch_counts: tuple[int, int]  # the current epoch's discriminator and generator steps
    epoch_samples: int
    epoch_seconds: float
    streaks: torch.Tensor  # consecutive steps of a winning discriminator, of collapse
    perm_rng: torch.Tensor  # the batch-order generator
    epoch_start_rng: torch.Tensor | None  # its state when the current epoch began
    noise_rng: torch.Tensor  # z and the gradient penalty's ε
    torch_rng: torch.Tensor  # the global generator (dropout)
    cuda_rng: torch.Tensor | None
    untrained_mmd: float | None  # the test MMD of the untrained generator
    history: tuple[Mapping[str, float], ...]
    monitor: str

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"format": GAN_CHECKPOINT_VERSION, "kind": KIND}
        for f in fields(self):
            data[f.name] = getattr(self, f.name)
        data["epoch_counts"] = list(self.epoch_counts)
        data["history"] = [dict(row) for row in self.history]
        return data

    @classmethod
    def from_dict(cls, data: object, path: Path) -> GanState:
        if not isinstance(data, dict) or not is_int(data.get("format")):
            raise unreadable(
                path,
                "not a netspec training checkpoint: it has no format version "
                "(a model's weights or another program's file?)",
            )
        if data.get("kind") != KIND:
            raise unreadable(
                path,
                "this checkpoint is of a one-network run, but the run's spec.yaml trains a GAN",
                hint="resume a run with the spec.yaml it was started with",
            )
        check_version(data["format"], GAN_CHECKPOINT_VERSION, path, "the GAN checkpoint")
        check_fields(data, SCHEMA, path)
        values = {key: data[key] for key in SCHEMA}
        values["epoch_counts"] = tuple(data["epoch_counts"])
        values["history"] = tuple(dict(row) for row in data["history"])
        return cls(**values)


def encode(state: GanState) -> bytes:
    return save_plain(state.to_dict())


def decode(data: bytes, path: Path) -> GanState:
    """A GAN checkpoint's bytes, loaded onto the CPU as plain data (weights_only=True)."""
    return GanState.from_dict(load_plain(data, path), path)


def read(path: Path) -> GanState:
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise SpecError.single(
            "invalid-value", f"cannot read the checkpoint {path}: {exc.strerror or exc}"
        ) from None
    return decode(blob, path)


# -- the schema --------------------------------------------------------------------------


def _is_pair(value: object) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(is_int(v) for v in value)


SCHEMA: dict[str, tuple[str, Callable[[object], bool]]] = {
    "model": ("a dict of tensors", is_tensors),
    "g_optimizer": ("a dict", is_mapping),
    "d_optimizer": ("a dict", is_mapping),
    "ema": ("a dict of tensors", is_tensors),
    "epoch": ("an integer", is_int),
    "batch": ("an integer", is_int),
    "d_steps": ("an integer", is_int),
    "g_steps": ("an integer", is_int),
    "best_value": ("a number or None", or_none(is_number)),
    "best_epoch": ("an integer", is_int),
    "wait": ("an integer", is_int),
    "stopped_early": ("true or false", is_bool),
    "finished": ("true or false", is_bool),
    "train_seconds": ("a number", is_number),
    "train_samples": ("an integer", is_int),
    "epoch_sums": ("a tensor or None", or_none(is_tensor)),
    "epoch_counts": ("two integers", _is_pair),
    "epoch_samples": ("an integer", is_int),
    "epoch_seconds": ("a number", is_number),
    "streaks": ("a tensor", is_tensor),
    "perm_rng": ("a tensor", is_tensor),
    "epoch_start_rng": ("a tensor or None", or_none(is_tensor)),
    "noise_rng": ("a tensor", is_tensor),
    "torch_rng": ("a tensor", is_tensor),
    "cuda_rng": ("a tensor or None", or_none(is_tensor)),
    "untrained_mmd": ("a number or None", or_none(is_number)),
    "history": ("a list of rows of numbers", is_rows),
    "monitor": ("a string", is_str),
}
"""Every key of a saved GanState, what it must be, and the check. One key per field."""
