"""The run directory: what a training run writes, and reading it back to resume or predict.

::

    runs/<name>-<YYYYmmdd-HHMMSS>/     (or exactly --out DIR)
      spec.yaml                  the resolved spec (netspec.load_model reads it)
      model.safetensors          the best weights so far (by the monitored value)
      last.ckpt                  everything --resume needs (a versioned TrainState: checkpoint.py)
      metrics.csv                one row per epoch
      metrics.json               final: test metrics of the best weights, best_epoch, speed
      curves.png                 loss and metrics per epoch
      summary.txt                the model summary, the data and the training setup
      run.json                   task, classes, device, data description (for predict)
      standardizer.safetensors   the input scaling fitted on the training split, if any
      target_standardizer.safetensors   regression targets' mean and std (training split),
                                 if standardized: evaluate and predict report original units

Every file is written atomically (temp file, fsync, rename): a crash leaves the previous
version, never half a file. ``last.ckpt`` holds only tensors, dicts, lists, strings and
numbers, and is read with ``torch.load(weights_only=True)``: nothing is unpickled (see
``checkpoint``).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netspec.backend.artifacts import SPEC, WEIGHTS, write_atomic
from netspec.errors import SpecError
from netspec.sources import tokenizers
from netspec.sources.tokenizers import Tokenizer
from netspec.spec.load import Spec, load_spec
from netspec.spec.networks import Networks, load_any

if TYPE_CHECKING:
    import torch

    from netspec.training.checkpoint import TrainState

CHECKPOINT = "last.ckpt"
HISTORY = "metrics.csv"
FINAL = "metrics.json"
CURVES = "curves.png"
SAMPLES = "samples.png"  # a GAN's or a VAE's generated samples
SUMMARY = "summary.txt"
INFO = "run.json"
STANDARDIZER = "standardizer.safetensors"
TARGET_STANDARDIZER = "target_standardizer.safetensors"


def default_run_dir(name: str, root: Path = Path("runs")) -> Path:
    """``runs/<name>-<timestamp>``, with ``-2``, ``-3``... if that exists already."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = root / f"{name}-{stamp}"
    k = 2
    while path.exists():
        path = root / f"{name}-{stamp}-{k}"
        k += 1
    return path


class RunDir:
    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, name: str, out: str | os.PathLike[str] | None) -> RunDir:
        """A new run directory; an existing ``out`` must not hold a run already."""
        path = Path(out) if out is not None else default_run_dir(name)
        if path.exists() and not path.is_dir():
            raise _cannot_write(path, "it is a file, not a directory")
        if (path / CHECKPOINT).exists() or (path / HISTORY).exists():
            raise SpecError.single(
                "cannot-write",
                f"{path} already holds a training run",
                hints=(
                    f"continue it with `netspec train --resume {path}`, or choose another --out",
                ),
            )
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _cannot_write(path, exc.strerror or str(exc)) from None
        return cls(path)

    @classmethod
    def trained(cls, path: str | os.PathLike[str]) -> RunDir:
        """A run directory to evaluate or predict with: it needs spec.yaml and the weights."""
        run = cls(Path(path))
        for needed in (SPEC, WEIGHTS, INFO):
            if not (run.path / needed).is_file():
                raise SpecError.single(
                    "file-not-found",
                    f"{needed} is missing: {run.path} is not a netspec run directory",
                    hints=("a run directory is what `netspec train` writes (runs/<name>-...)",),
                )
        return run

    @classmethod
    def existing(cls, path: str | os.PathLike[str]) -> RunDir:
        """A run directory to resume: it needs spec.yaml and last.ckpt."""
        run = cls(Path(path))
        for needed in (SPEC, CHECKPOINT):
            if not (run.path / needed).is_file():
                raise SpecError.single(
                    "file-not-found",
                    f"{needed} is missing: {run.path} is not a resumable netspec run directory",
                    hints=("a run directory is what `netspec train` writes (runs/<name>-...)",),
                )
        return run

    # -- text files ------------------------------------------------------------------------

    def write_spec(self, spec: Spec | Networks) -> None:
        from netspec.backend.resolve import resolved_yaml

        write_atomic(self.path / SPEC, resolved_yaml(spec))

    def read_spec(self) -> Spec:
        return load_spec(self.path / SPEC)

    def read_any_spec(self) -> Spec | Networks:
        """spec.yaml of one network or several (`networks:`)."""
        return load_any(self.path / SPEC)

    def read_spec_text(self) -> str:
        try:
            return (self.path / SPEC).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SpecError.single(
                "file-not-found", f"cannot read {self.path / SPEC}: {exc}"
            ) from None

    def write_text(self, name: str, text: str) -> None:
        write_atomic(self.path / name, text)

    # -- a language model's tokenizer ---------------------------------------------------------

    def write_tokenizer(self, tokenizer: Tokenizer) -> None:
        write_atomic(self.path / tokenizers.FILE, tokenizers.dumps(tokenizer))

    def read_tokenizer_text(self) -> str | None:
        """tokenizer.json's text; None for a run without one (not a language model)."""
        path = self.path / tokenizers.FILE
        if not path.is_file():
            return None
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SpecError.single("data", f"cannot read {path}: {exc}") from None

    def read_tokenizer(self) -> Tokenizer | None:
        """The run's tokenizer; None for a run without one; a SpecError when it is broken."""
        text = self.read_tokenizer_text()
        return None if text is None else parse_tokenizer(text, self.path)

    def write_json(self, name: str, data: Mapping[str, Any]) -> None:
        text = json.dumps(_finite(data), indent=2, allow_nan=False)
        write_atomic(self.path / name, text + "\n")

    def write_history(self, rows: Sequence[Mapping[str, float]]) -> None:
        """metrics.csv: one row per epoch; an absent value is an empty cell."""
        columns: dict[str, None] = {}
        for row in rows:
            columns.update(dict.fromkeys(row))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(k, v) for k, v in row.items()})
        write_atomic(self.path / HISTORY, buffer.getvalue())

    def write_curves(self, rows: Sequence[Mapping[str, float]], title: str) -> None:
        from netspec.training.plots import curves_png

        if rows:
            write_atomic(self.path / CURVES, curves_png(rows, title))

    # -- tensors ---------------------------------------------------------------------------

    def write_weights(
        self, state: Mapping[str, torch.Tensor], name: str, tied: Collection[str] = ()
    ) -> None:
        """The weights, each tied tensor once (``tied``: its other names, left out)."""
        from safetensors.torch import save

        tensors = {
            k: v.detach().to("cpu", copy=True).contiguous()
            for k, v in state.items()
            if k not in tied
        }
        write_atomic(self.path / WEIGHTS, save(tensors, metadata={"netspec_spec": name}))

    def read_weights(self) -> dict[str, torch.Tensor]:
        from safetensors.torch import load_file

        return load_file(str(self.path / WEIGHTS))

    def write_standardizer(
        self, tensors: Mapping[str, torch.Tensor], file: str = STANDARDIZER
    ) -> None:
        from safetensors.torch import save

        data = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
        write_atomic(self.path / file, save(data))

    def read_standardizer(self, file: str = STANDARDIZER) -> dict[str, torch.Tensor] | None:
        """The input scaling (or, with TARGET_STANDARDIZER, the regression targets'); None
        when the run has none (runs from before target statistics have none of those)."""
        from safetensors.torch import load_file

        path = self.path / file
        return load_file(str(path)) if path.is_file() else None

    def write_checkpoint(self, state: TrainState) -> None:
        from netspec.training.checkpoint import encode

        write_atomic(self.path / CHECKPOINT, encode(state))

    def read_checkpoint(self) -> TrainState:
        """last.ckpt, loaded with weights_only=True onto the CPU."""
        return self.parse_checkpoint(self.read_checkpoint_bytes())

    def read_checkpoint_bytes(self) -> bytes:
        path = self.path / CHECKPOINT
        try:
            return path.read_bytes()
        except OSError as exc:
            raise SpecError.single(
                "invalid-value", f"cannot read the checkpoint {path}: {exc.strerror or exc}"
            ) from None

    def parse_checkpoint(self, data: bytes) -> TrainState:
        """A checkpoint's bytes (read here, or sent by rank 0), checked and typed."""
        from netspec.training.checkpoint import decode

        return decode(data, self.path / CHECKPOINT)


class MutedRunDir(RunDir):
    """The run directory as seen by the processes other than rank 0 in a multi-process run:
    they read it (resuming) but never write, so no two processes write the same file."""

    def write_text(self, name: str, text: str) -> None:
        pass

    def write_json(self, name: str, data: Mapping[str, Any]) -> None:
        pass

    def write_spec(self, spec: Spec | Networks) -> None:
        pass

    def write_history(self, rows: Sequence[Mapping[str, float]]) -> None:
        pass

    def write_curves(self, rows: Sequence[Mapping[str, float]], title: str) -> None:
        pass

    def write_weights(
        self, state: Mapping[str, torch.Tensor], name: str, tied: Collection[str] = ()
    ) -> None:
        pass

    def write_standardizer(
        self, tensors: Mapping[str, torch.Tensor], file: str = STANDARDIZER
    ) -> None:
        pass

    def write_checkpoint(self, state: TrainState) -> None:
        pass


def _cannot_write(path: Path, why: str) -> SpecError:
    return SpecError.single("cannot-write", f"cannot create the run directory {path}: {why}")


def _cell(key: str, value: float) -> str | int:
    if key == "epoch":
        return int(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # nan, inf: readable by float()
    return repr(value) if isinstance(value, float) else value


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: they become null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def parse_tokenizer(text: str, folder: Path) -> Tokenizer:
    """A run's tokenizer from its tokenizer.json text (read there, or sent on by rank 0)."""
    try:
        return tokenizers.loads(text)
    except tokenizers.TokenizerError as exc:
        raise SpecError.single(
            "data", f"the run's tokenizer {folder / tokenizers.FILE} cannot be read: {exc}"
        ) from None
