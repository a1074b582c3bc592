"""The non-layer sections of a spec: `input`, `data` and `train` (pydantic models).

`data` keeps source-specific options (path, target, noise, ...) as extra fields for the data
loaders to check; `train` is strict so a misspelt option is caught by `netspec validate`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator

from netspec.dims import Dim, Sym
from netspec.layers.registry import lists_as_tuples

_SYMBOL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_DTYPES = {
    "float32": "float32",
    "float": "float32",
    "int64": "int64",
    "long": "int64",
    "int": "int64",
}


DIM_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "integer", "minimum": 1},
        {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$", "description": "a symbol"},
        {"type": "string", "pattern": r"\$\{[^{}]*\}", "description": "a ${...} value"},
    ]
}


def _dim(value: Any) -> Any:
    if isinstance(value, str):
        if not _SYMBOL.match(value):
            raise ValueError(f"a symbolic dimension must be a name like T, got {value!r}")
        if value == "N":
            raise ValueError(
                "N is the batch dimension, which `input` leaves out; use another "
                "name for a varying size, e.g. T"
            )
        return Sym.atom(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"a dimension is a positive int or a symbol name, got {value!r}")
    return value


def _dtype(value: Any) -> Any:
    if isinstance(value, str) and value in _DTYPES:
        return _DTYPES[value]
    return value


class Strict(BaseModel):
    """Strict about unknown keys and types (`epochs: "10"` is reported, not converted)."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, arbitrary_types_allowed=True, strict=True, allow_inf_nan=False
    )

    @model_validator(mode="before")
    @classmethod
    def _lists_as_tuples(cls, value: Any) -> Any:
        return lists_as_tuples(value)


class InputSpec(Strict):
    """Per-sample input: shape without the batch dim; int64 for token ids."""

    shape: tuple[Annotated[Dim, BeforeValidator(_dim), WithJsonSchema(DIM_SCHEMA)], ...]
    dtype: Annotated[
        Literal["float32", "int64"],
        BeforeValidator(_dtype),
        WithJsonSchema({"enum": sorted(_DTYPES), "default": "float32"}),
    ] = "float32"

    @model_validator(mode="before")
    @classmethod
    def _from_list(cls, value: Any) -> Any:
        empty = isinstance(value, dict) and value.get("shape") in ([], ())
        if empty or (isinstance(value, (list, tuple)) and not value):
            raise ValueError("input needs at least one dimension, e.g. [784]")
        if isinstance(value, (list, tuple)):
            return {"shape": value}
        if not isinstance(value, dict):
            raise ValueError(
                "input is a list of sizes like [1, 28, 28], or {shape: [32], dtype: int64}"
            )
        if isinstance(value, int) and not isinstance(value, bool):
            return {"shape": [value]}
        return value


class SplitSpec(Strict):
    val: float = Field(0.1, ge=0.0, lt=1.0)
    test: float = Field(0.1, ge=0.0, lt=1.0)
    seed: int = 0

    @model_validator(mode="after")
    def _leaves_training_data(self) -> SplitSpec:
        if self.val + self.test >= 1.0:
            raise ValueError(
                f"val + test = {self.val + self.test:g} leaves no training data; keep it below 1"
            )
        return self


class AugmentSpec(Strict):
    """Train-time augmentation of image inputs (C, H, W); netspec.data.augment applies it."""

    flip: bool = False  # random horizontal flip, probability 0.5 per sample
    crop_padding: int = Field(0, ge=0)  # random crop of the zero-padded image back to (H, W)
    noise: float = Field(0.0, ge=0.0)  # std of gaussian noise added to every value


class DataSpec(BaseModel):
    """`source` names the data; the keys other than these are the source's own options,
    checked by netspec.data when the data are loaded."""

    model_config = ConfigDict(extra="allow", frozen=True)

    source: str
    split: SplitSpec = SplitSpec()
    standardize: bool | None = Field(None, strict=True)  # None: the source's default
    augment: AugmentSpec | None = None

    @model_validator(mode="before")
    @classmethod
    def _short(cls, value: Any) -> Any:
        if isinstance(value, str):  # `data: digits` is short for `data: {source: digits}`
            return {"source": value}
        if not isinstance(value, dict):
            raise ValueError("data is a source name or a mapping, e.g. {source: digits}")
        return value


OptimizerName = Literal["sgd", "adam", "adamw", "rmsprop"]
SchedulerName = Literal["none", "step", "cosine", "onecycle", "plateau"]
LossName = Literal["cross_entropy", "bce_with_logits", "mse", "l1", "huber"]


class OptimizerSpec(Strict):
    type: OptimizerName = "adam"
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    momentum: float = Field(0.0, ge=0)
    nesterov: bool = False
    betas: tuple[float, float] | None = None
    eps: float | None = None


class SchedulerSpec(Strict):
    type: SchedulerName = "none"
    warmup_epochs: int = Field(0, ge=0)
    step_size: int | None = Field(None, gt=0)
    gamma: float | None = Field(None, gt=0)
    patience: int | None = Field(None, ge=0)
    factor: float | None = Field(None, gt=0)
    max_lr: float | None = Field(None, gt=0)
    min_lr: float | None = Field(None, ge=0)


class LossSpec(Strict):
    type: LossName
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    delta: float = Field(1.0, gt=0)


class EarlyStoppingSpec(Strict):
    monitor: str = "val_loss"
    patience: int = Field(5, ge=1)
    mode: Literal["min", "max", "auto"] = "auto"
    min_delta: float = Field(0.0, ge=0)


def _typed(value: Any) -> Any:
    return {"type": value} if isinstance(value, str) else value


Metric = Literal["accuracy", "f1", "roc_auc", "mae", "mse", "rmse", "r2"]


class TrainSpec(Strict):
    @model_validator(mode="before")
    @classmethod
    def _mapping(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            raise ValueError("train is a mapping of options, e.g. {epochs: 10, batch_size: 64}")
        return value

    task: Literal["classification", "binary", "regression", "autoencoder"] = "classification"
    # A bare name is short for {type: name}.
    loss: Annotated[
        LossSpec | None, BeforeValidator(_typed, json_schema_input_type=LossName | LossSpec)
    ] = None
    optimizer: Annotated[
        OptimizerSpec,
        BeforeValidator(_typed, json_schema_input_type=OptimizerName | OptimizerSpec),
    ] = OptimizerSpec()
    scheduler: Annotated[
        SchedulerSpec,
        BeforeValidator(_typed, json_schema_input_type=SchedulerName | SchedulerSpec),
    ] = SchedulerSpec()
    epochs: int = Field(10, ge=1)
    batch_size: int = Field(32, ge=1)
    metrics: tuple[Metric, ...] = ()
    early_stopping: EarlyStoppingSpec | None = None
    seed: int = 0
    device: str = "auto"
    precision: Annotated[
        Literal["32", "bf16-mixed", "16-mixed"],
        BeforeValidator(lambda v: str(v) if isinstance(v, int) else v),
        WithJsonSchema({"enum": [32, "32", "bf16-mixed", "16-mixed"]}),
    ] = "32"
    grad_clip: float | None = Field(None, gt=0)
    accumulate_grad_batches: int = Field(1, ge=1)
    scale_lr: bool = False
    checkpoint_every: int | None = Field(None, ge=1)
