"""last.ckpt: everything ``--resume`` needs, as a versioned, typed :class:`TrainState`.

On disk a checkpoint is ``torch.save`` of one flat dict: ``format`` (the version) and one key
per field of TrainState, checked against ``SCHEMA`` when read. It holds only tensors, dicts,
lists, strings and numbers, so it is read with ``torch.load(weights_only=True)``: nothing is
unpickled. A file of another format version, a foreign torch file (a model's state_dict), a
truncated or damaged one is a user-facing SpecError that names the file, never a traceback.

Change a field, its meaning or its key: bump ``CHECKPOINT_VERSION``. A resume that must end
with bit-identical weights needs every random stream, which is why each process's own
generator states are kept (``rank_rngs``) beside the shared permutation generator's.
"""

from __future__ import annotations

import io
import pickle
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netspec.errors import Diagnostic, Location, SpecError
from netspec.training.distributed import World, rank_seed
from netspec.training.plain import (
    is_bool,
    is_int,
    is_mapping,
    is_number,
    is_rows,
    is_tensor,
    is_tensors,
    or_none,
)

if TYPE_CHECKING:
    import torch

CHECKPOINT_VERSION = 2
"""Format 1 (netspec before the typed state) nested its values under twenty-odd string keys."""


@dataclass(frozen=True)
class RankRng:
    """One process's own random streams: the global torch generator (dropout), the
    augmentation generator, and the CUDA generator when training on a GPU."""

    torch_rng: torch.Tensor
    augment_rng: torch.Tensor
    cuda_rng: torch.Tensor | None = None

    @classmethod
    def here(cls, augment: torch.Generator, device: torch.device) -> RankRng:
        """This process's streams now."""
        import torch

        cuda = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
        return cls(torch.get_rng_state(), augment.get_state(), cuda)

    @classmethod
    def fresh(cls, seed: int, device: torch.device) -> RankRng:
        """Streams seeded from ``seed`` (a resume on a different number of processes)."""
        import torch

        cuda = None
        if device.type == "cuda":
            torch.cuda.manual_seed(seed)
            cuda = torch.cuda.get_rng_state(device)
        return cls(
            torch.Generator().manual_seed(seed).get_state(),
            torch.Generator().manual_seed(seed + 1).get_state(),
            cuda,
        )

    def apply(self, augment: torch.Generator, device: torch.device) -> None:
        """Make these the process's streams."""
        import torch

        torch.set_rng_state(self.torch_rng)
        if device.type == "cuda" and self.cuda_rng is not None:
            torch.cuda.set_rng_state(self.cuda_rng, device)
        augment.set_state(self.augment_rng)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class TrainState:
    """A run's whole state between two batches (``CHECKPOINT_VERSION``)."""

    model: Mapping[str, torch.Tensor]
    optimizer: dict[str, Any]
    schedule: dict[str, Any]
    scaler: dict[str, Any]  # empty unless precision 16-mixed
    grads: Mapping[str, torch.Tensor]  # mid-accumulation only
    epoch: int  # epochs completed
    batch: int  # batches done in the current epoch
    batches_seen: int  # batches since the run began
    best_value: float | None  # the best monitored value so far
    best_epoch: int  # 1-based; 0: none yet
    wait: int  # early stopping: epochs since the last improvement
    stopped_early: bool
    finished: bool
    train_seconds: float  # completed epochs
    train_samples: int
    epoch_loss: torch.Tensor | None  # the current epoch's summed loss: one part per process
    epoch_samples: int
    epoch_seconds: float
    perm_rng: torch.Tensor  # the batch-order generator: the same on every process
    epoch_start_rng: torch.Tensor | None  # its state when the current epoch began
    rank_rngs: tuple[RankRng, ...]  # every process's own streams, in rank order
    history: tuple[Mapping[str, float], ...]  # metrics.csv's rows
    monitor: str
    world_size: int

    def to_dict(self) -> dict[str, Any]:
        """The flat dict that is saved: plain data only (no dataclass is pickled)."""
        data: dict[str, Any] = {"format": CHECKPOINT_VERSION}
        for f in fields(self):
            data[f.name] = getattr(self, f.name)
        data["rank_rngs"] = [rng.to_dict() for rng in self.rank_rngs]
        data["history"] = [dict(row) for row in self.history]
        return data

    @classmethod
    def from_dict(cls, data: object, path: Path) -> TrainState:
        """A loaded checkpoint, checked against the format version and ``SCHEMA``."""
        if not isinstance(data, dict) or not is_int(data.get("format")):
            raise unreadable(
                path,
                "not a netspec training checkpoint: it has no format version "
                "(a model's weights or another program's file?)",
            )
        check_version(data["format"], CHECKPOINT_VERSION, path, "the checkpoint")
        check_fields(data, SCHEMA, path)
        values = {key: data[key] for key in SCHEMA}
        values["rank_rngs"] = tuple(RankRng(**rng) for rng in data["rank_rngs"])
        values["history"] = tuple(dict(row) for row in data["history"])
        return cls(**values)


def encode(state: TrainState) -> bytes:
    return save_plain(state.to_dict())


def decode(data: bytes, path: Path) -> TrainState:
    """A checkpoint's bytes (read here, or sent by rank 0), loaded onto the CPU."""
    return TrainState.from_dict(load_plain(data, path), path)


def save_plain(data: dict[str, Any]) -> bytes:
    """A checkpoint's plain data (tensors, numbers, strings, containers) as bytes."""
    import torch

    buffer = io.BytesIO()
    torch.save(data, buffer)
    return buffer.getvalue()


def load_plain(data: bytes, path: Path) -> object:
    """Checkpoint bytes loaded onto the CPU as plain data: ``weights_only=True``, so nothing
    is unpickled; a foreign or damaged file is a SpecError naming ``path``."""
    import torch

    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # torch's own text is a page on trusting the file's source
        raise unreadable(
            path,
            "not a netspec training checkpoint: torch cannot load it as plain data "
            "(weights_only=True)",
        ) from None
    except (OSError, RuntimeError, EOFError, ValueError) as exc:
        raise unreadable(
            path, f"cannot read the checkpoint: the file is truncated or damaged ({_reason(exc)})"
        ) from None


def check_version(version: int, current: int, path: Path, what: str) -> None:
    """``what`` (e.g. "the checkpoint") of format ``version`` is readable only as ``current``."""
    if version != current:
        which = "an older" if version < current else "a newer"
        raise unreadable(
            path,
            f"{what} has format {version}, written by {which} netspec; this netspec reads "
            f"format {current}",
            hint="resume it with the netspec version that wrote it, or train again",
        )


def check_fields(
    data: dict[str, Any], schema: dict[str, tuple[str, Callable[[object], bool]]], path: Path
) -> None:
    """Every field of ``schema`` present in ``data`` and of its kind."""
    for key, (expected, valid) in schema.items():
        if key not in data:
            raise unreadable(path, f"the checkpoint is damaged: `{key}` is missing")
        if not valid(data[key]):
            raise unreadable(path, f"the checkpoint is damaged: `{key}` is not {expected}")


def _reason(exc: Exception) -> str:
    """torch's complaint, short: its first line without terminal colours."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    return first if len(first) <= 80 else first[:77] + "..."


def unreadable(path: Path, message: str, *, hint: str | None = None) -> SpecError:
    hints = (hint,) if hint else ("`netspec train` writes last.ckpt; train again to get one",)
    diag = Diagnostic("invalid-value", message, location=Location(file=str(path)), hints=hints)
    return SpecError([diag])


# -- the schema --------------------------------------------------------------------------


def _is_rank_rngs(value: object) -> bool:
    return (
        isinstance(value, list)
        and len(value) > 0
        and all(
            isinstance(rng, dict)
            and set(rng) == {"torch_rng", "augment_rng", "cuda_rng"}
            and is_tensor(rng["torch_rng"])
            and is_tensor(rng["augment_rng"])
            and (rng["cuda_rng"] is None or is_tensor(rng["cuda_rng"]))
            for rng in value
        )
    )


SCHEMA: dict[str, tuple[str, Callable[[object], bool]]] = {
    "model": ("a dict of tensors", is_tensors),
    "optimizer": ("a dict", is_mapping),
    "schedule": ("a dict", is_mapping),
    "scaler": ("a dict", is_mapping),
    "grads": ("a dict of tensors", is_tensors),
    "epoch": ("an integer", is_int),
    "batch": ("an integer", is_int),
    "batches_seen": ("an integer", is_int),
    "best_value": ("a number or None", or_none(is_number)),
    "best_epoch": ("an integer", is_int),
    "wait": ("an integer", is_int),
    "stopped_early": ("true or false", is_bool),
    "finished": ("true or false", is_bool),
    "train_seconds": ("a number", is_number),
    "train_samples": ("an integer", is_int),
    "epoch_loss": ("a tensor or None", or_none(is_tensor)),
    "epoch_samples": ("an integer", is_int),
    "epoch_seconds": ("a number", is_number),
    "perm_rng": ("a tensor", is_tensor),
    "epoch_start_rng": ("a tensor or None", or_none(is_tensor)),
    "rank_rngs": ("a list of generator states per process", _is_rank_rngs),
    "history": ("a list of rows of numbers", is_rows),
    "monitor": ("a string", lambda v: isinstance(v, str)),
    "world_size": ("an integer", is_int),
}
"""Every key of a saved TrainState: what it must be, and the check. One key per field."""


# -- what each process keeps of a multi-process state --------------------------------------


def gather_rngs(own: RankRng, world: World) -> tuple[RankRng, ...]:
    """Every process's streams, in rank order (one process: its own)."""
    if not world.distributed:
        return (own,)
    torches = world.gather_tensors(own.torch_rng)
    augments = world.gather_tensors(own.augment_rng)
    cudas: Sequence[torch.Tensor | None] = (
        world.gather_tensors(own.cuda_rng) if own.cuda_rng is not None else [None] * world.size
    )
    return tuple(RankRng(t, a, c) for t, a, c in zip(torches, augments, cudas, strict=True))


def own_rng(state: TrainState, world: World, seed: int, device: torch.device) -> RankRng:
    """This process's streams from a checkpoint. Saved by as many processes as now run:
    exactly theirs (a bit-exact resume). Saved by a different number: fresh streams seeded
    from the seed, the rank and the position (repeatable, not the same as an uninterrupted
    run)."""
    if len(state.rank_rngs) == world.size:
        return state.rank_rngs[world.rank]
    return RankRng.fresh(rank_seed(seed + state.batches_seen, world.rank), device)


def loss_parts(loss_sum: torch.Tensor | None, world: World) -> torch.Tensor | None:
    """The current epoch's summed training loss: each process holds its own part, so the
    checkpoint keeps every part (shape (processes,)); one process: a scalar."""
    import torch

    if loss_sum is None or not world.distributed:
        return loss_sum
    return torch.stack(world.gather_tensors(loss_sum.detach().to("cpu")))


def own_loss_part(saved: torch.Tensor | None, world: World) -> torch.Tensor | None:
    """This process's part of a checkpoint's epoch loss: its own when as many processes
    saved it as now run; else the whole sum on rank 0 and zero elsewhere."""
    import torch

    if saved is None:
        return None
    parts = saved.reshape(-1)
    if parts.numel() == world.size:
        return parts[world.rank].clone()
    return parts.sum() if world.main else torch.zeros((), dtype=parts.dtype)
