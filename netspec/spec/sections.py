"""The non-layer sections of a spec: `input`, `data` and `train` (pydantic models).

`data` keeps source-specific options (path, target, noise, ...) as extra fields for the data
loaders to check; `train` is strict so a misspelt option is caught by `netspec validate`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from netspec.config import lists_as_tuples
from netspec.dims import Dim, Sym
from netspec.errors import did_you_mean

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
        extra="forbid",
        frozen=True,
        arbitrary_types_allowed=True,
        strict=True,
        allow_inf_nan=False,
        populate_by_name=True,
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
    # The token id that marks padding: attention and sequence pooling ignore those positions
    # (a padded batch gives each sequence the output it has alone).
    pad_id: int | None = Field(None, ge=0)
    # The input is the node features of graphs: the leading dim is the nodes, and the forward
    # also takes `edge_index` (and `batch`, each node's graph id) for the graph layers.
    graph: bool = False

    @model_validator(mode="after")
    def _pad_id_needs_tokens(self) -> InputSpec:
        if self.pad_id is not None and self.dtype != "int64":
            raise ValueError("pad_id marks padding in token ids: it needs `dtype: int64`")
        if self.graph and self.dtype != "float32":
            raise ValueError(
                "a graph input holds float node features: `graph: true` needs `dtype: float32`"
            )
        return self

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
    seed: int = Field(0, ge=0, le=2**32 - 1)  # numpy's default_rng refuses negative seeds

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
    checked against the source's options model by netspec.spec.data_check."""

    model_config = ConfigDict(extra="allow", frozen=True)

    source: str
    split: SplitSpec = SplitSpec()
    standardize: bool | None = Field(None, strict=True)  # None: the source's default
    # Regression targets scaled to mean 0, std 1 for training (train-split statistics, kept
    # with the run); metrics and predictions are reported in the original units.
    standardize_target: bool = Field(True, strict=True)
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
LossName = Literal[
    "cross_entropy", "bce_with_logits", "mse", "l1", "huber", "non_saturating", "hinge", "wgan_gp"
]
TaskName = Literal[
    "classification",
    "binary",
    "regression",
    "autoencoder",
    "gan",
    "node_classification",
    "graph_classification",
    "language_model",
]
Metric = Literal[
    "accuracy",
    "f1",
    "roc_auc",
    "mae",
    "mse",
    "rmse",
    "r2",
    "mmd",
    "perplexity",
    "exact_match",
]

NETWORK_TASKS: dict[str, tuple[str, str]] = {
    "gan": ("generator", "discriminator"),
    "autoencoder": ("encoder", "decoder"),
}
"""The tasks that train a spec of several networks (`networks:`), and the networks each needs.
An autoencoder is also a one-network task; a GAN is only this."""

TASK_LOSSES: dict[str, tuple[str, ...]] = {
    "classification": ("cross_entropy",),
    "binary": ("bce_with_logits",),
    "regression": ("mse", "l1", "huber"),
    # Not bce_with_logits: the targets are the (standardized) inputs, not probabilities.
    "autoencoder": ("mse", "l1", "huber"),
    # Goodfellow et al.'s non-saturating loss, the hinge loss of SAGAN / BigGAN, and
    # Wasserstein with gradient penalty (Gulrajani et al.).
    "gan": ("non_saturating", "hinge", "wgan_gp"),
    # A graph input's nodes, or its graphs, each labelled (netspec/training/graph_session.py).
    "node_classification": ("cross_entropy",),
    "graph_classification": ("cross_entropy",),
    # Next-token prediction: cross entropy per position, skipping the untrained positions.
    "language_model": ("cross_entropy",),
}
"""The losses each task trains with; the first is the default."""

TASK_METRICS: dict[str, tuple[str, ...]] = {
    "classification": ("accuracy", "f1", "roc_auc"),
    "binary": ("accuracy", "f1", "roc_auc"),
    "regression": ("mae", "mse", "rmse", "r2"),
    "autoencoder": ("mae", "mse", "rmse", "r2"),
    "gan": ("mmd",),
    "node_classification": ("accuracy", "f1"),
    "graph_classification": ("accuracy", "f1"),
    # accuracy: of the next token; exact_match: of greedily generated answers (problem data).
    "language_model": ("perplexity", "accuracy", "exact_match"),
}
"""The metrics that make sense for each task."""

DEFAULT_METRICS: dict[str, tuple[str, ...]] = {
    "classification": ("accuracy",),
    "binary": ("accuracy",),
    "regression": ("mae",),
    "autoencoder": ("mse",),
    "gan": ("mmd",),
    "node_classification": ("accuracy",),
    "graph_classification": ("accuracy",),
    "language_model": ("perplexity",),
}
"""What is logged when `train.metrics` is not given."""

REFERENCE_BATCH_SIZE = 32
"""`scale_lr: true` multiplies the learning rate by (batch_size x accumulate_grad_batches) / 32."""

DEVICE_NAME = re.compile(r"(auto|cpu|mps|cuda(:[0-9]+)?)\Z")
"""The device names netspec takes (train.device, --device)."""

# The options each optimizer / scheduler takes besides the common ones.
_OPTIMIZER_OPTIONS: dict[str, set[str]] = {
    "sgd": {"momentum", "nesterov"},
    "adam": {"betas", "eps"},
    "adamw": {"betas", "eps"},
    "rmsprop": {"momentum", "eps", "alpha"},
}
_SCHEDULER_OPTIONS: dict[str, set[str]] = {
    "none": set(),
    "step": {"step_size", "gamma"},
    "cosine": {"min_lr"},
    "onecycle": {"max_lr"},
    "plateau": {"patience", "factor", "min_lr"},
}


def _not_for(kind: str, given: set[str], allowed: set[str], common: set[str]) -> None:
    extra = sorted(given - allowed - common)
    if extra:
        takes = ", ".join(sorted(allowed)) or "no options of its own"
        raise ValueError(f"{', '.join(extra)} does not apply to {kind} (it takes {takes})")


_Beta = Annotated[float, Field(ge=0, lt=1)]

NoDecayKind = Literal["bias", "norm", "embedding"]
"""Parameters weight decay can skip: biases, normalization layers' weights, and token
embeddings with learned positional tables."""


class OptimizerSpec(Strict):
    """`weight_decay` and the other options default to torch's defaults for the optimizer."""

    type: OptimizerName = "adam"
    lr: float = Field(1e-3, gt=0)
    weight_decay: float | None = Field(None, ge=0)
    momentum: float | None = Field(None, ge=0, lt=1)
    nesterov: bool = False
    betas: tuple[_Beta, _Beta] | None = None
    eps: float | None = Field(None, gt=0)
    alpha: float | None = Field(None, gt=0, lt=1)
    # The parameters weight decay skips (a second parameter group with weight_decay 0).
    # None: [bias, norm] for task language_model, none for the other tasks.
    no_decay: Annotated[
        tuple[NoDecayKind, ...] | None,
        BeforeValidator(
            lambda v: (v,) if isinstance(v, str) else v,
            json_schema_input_type=NoDecayKind | tuple[NoDecayKind, ...] | None,
        ),
    ] = None

    @model_validator(mode="after")
    def _options_fit_type(self) -> OptimizerSpec:
        given = set(self.model_fields_set) - ({"nesterov"} if not self.nesterov else set())
        common = {"type", "lr", "weight_decay", "no_decay"}
        _not_for(self.type, given, _OPTIMIZER_OPTIONS[self.type], common)
        if self.nesterov and not self.momentum:
            raise ValueError("nesterov needs momentum > 0, e.g. momentum: 0.9")
        return self


class SchedulerSpec(Strict):
    """Learning-rate schedule; `warmup_epochs` (or `warmup_steps`, in optimizer steps) adds
    a linear warmup to any of them."""

    type: SchedulerName = "none"
    warmup_epochs: int = Field(0, ge=0)
    warmup_steps: int = Field(0, ge=0)
    step_size: int | None = Field(None, gt=0)
    gamma: float | None = Field(None, gt=0)
    patience: int | None = Field(None, ge=0)
    factor: float | None = Field(None, gt=0, lt=1)
    max_lr: float | None = Field(None, gt=0)
    min_lr: float | None = Field(None, ge=0)

    @field_validator("warmup_steps")
    @classmethod
    def _one_warmup(cls, steps: int, info: ValidationInfo) -> int:
        if steps and info.data.get("warmup_epochs"):
            raise ValueError(
                "give the warmup in epochs (warmup_epochs) or in optimizer steps "
                "(warmup_steps), not both"
            )
        return steps

    @model_validator(mode="after")
    def _options_fit_type(self) -> SchedulerSpec:
        common = {"type", "warmup_epochs", "warmup_steps"}
        _not_for(self.type, set(self.model_fields_set), _SCHEDULER_OPTIONS[self.type], common)
        return self


class LossSpec(Strict):
    type: LossName
    # cross_entropy; non_saturating: one-sided (the real targets become 1 - label_smoothing,
    # Salimans et al. 2016). Default 0.
    label_smoothing: float | None = Field(None, ge=0, lt=1)
    delta: float | None = Field(None, gt=0)  # huber; default 1
    gp_weight: float | None = Field(None, gt=0)  # wgan_gp: the penalty's lambda; default 10

    @model_validator(mode="after")
    def _options_fit_type(self) -> LossSpec:
        allowed = {
            "cross_entropy": {"label_smoothing"},
            "non_saturating": {"label_smoothing"},
            "huber": {"delta"},
            "wgan_gp": {"gp_weight"},
        }.get(self.type, set())
        _not_for(self.type, set(self.model_fields_set), allowed, {"type"})
        return self


class EarlyStoppingSpec(Strict):
    """Stop when `monitor` has not improved by more than `min_delta` for `patience` epochs.

    `mode: auto` minimises losses and errors (mae, mse, rmse) and maximises the rest.
    """

    monitor: str = "val_loss"
    patience: int = Field(5, ge=1)
    mode: Literal["min", "max", "auto"] = "auto"
    min_delta: float = Field(0.0, ge=0)


class GanSpec(Strict):
    """`train.gan`: how a GAN trains (task gan only)."""

    d_steps: int = Field(1, ge=1)  # discriminator steps per generator step
    ema: float | None = Field(None, gt=0, lt=1)  # decay of the generator's weight average
    samples_every: int = Field(5, ge=1)  # epochs between samples.png pictures
    collapse_steps: int = Field(200, ge=1)  # steps of a winning discriminator before stopping


class KLSpec(Strict):
    """`train.kl`: the KL term of a variational autoencoder (a model with `reparameterize`)."""

    beta: float = Field(1.0, ge=0)  # the KL's weight (beta-VAE); 1 gives the ELBO
    warmup_epochs: int = Field(0, ge=0)  # the weight rises linearly from 0 over these epochs


def _typed(value: Any) -> Any:
    return {"type": value} if isinstance(value, str) else value


def _optimizers(value: Any) -> Any:
    """A bare name is short for {type: name}, also per network."""
    if isinstance(value, dict) and value and not set(value) & set(OptimizerSpec.model_fields):
        return {k: _typed(v) for k, v in value.items()}
    return _typed(value)


def _optimizer_form(value: Any) -> str:
    if isinstance(value, dict) and value and not set(value) & set(OptimizerSpec.model_fields):
        return "per_network"
    return "one"


# One optimizer for every network, or a mapping per network (`{generator: {...},
# discriminator: {...}}`). The tags name the form only: the diagnostics keep the user's path.
OptimizerSetting = Annotated[
    Annotated[OptimizerSpec, Tag("one")] | Annotated[dict[str, OptimizerSpec], Tag("per_network")],
    Discriminator(_optimizer_form),
]


def _one_or_many(value: Any) -> Any:
    return (value,) if isinstance(value, str) else value


KL_MONITORS = ("val_recon", "val_kl", "train_recon", "train_kl")
"""The parts of a variational autoencoder's loss, logged beside val_loss and train_loss."""


def monitor_names(task: str, metrics: tuple[str, ...]) -> tuple[str, ...]:
    """The logged values early stopping can watch (metrics.csv's columns). An autoencoder's
    KL_MONITORS are logged when it is variational, which training checks."""
    shown = metrics or DEFAULT_METRICS[task]
    if task == "gan":  # no loss to validate: the samples' distance to held-out data
        return (*(f"val_{m}" for m in shown), "d_loss", "g_loss")
    parts = KL_MONITORS if task == "autoencoder" else ()
    return ("val_loss", "train_loss", *parts, *(f"val_{m}" for m in shown))


MAXIMIZED = ("accuracy", "f1", "roc_auc", "r2", "exact_match")
"""The metrics where higher is better (early stopping's `mode: auto`)."""


def monitored(train: TrainSpec, *, has_val: bool) -> tuple[str, Literal["min", "max"]]:
    """The value that picks the best weights (and that early stopping watches), and whether
    lower or higher is better. Without early stopping: val_loss, or train_loss when there is
    no validation split. Mode `auto`: losses and errors are minimised; accuracy, f1, roc_auc
    and r2 maximised."""
    stopping = train.early_stopping
    default = "val_mmd" if train.task == "gan" else "val_loss"
    monitor = stopping.monitor if stopping else (default if has_val else "train_loss")
    if stopping is not None and stopping.mode != "auto":
        return monitor, stopping.mode
    name = monitor.removeprefix("val_").removeprefix("train_")
    return monitor, "max" if name in MAXIMIZED else "min"


LoggerName = Literal["csv", "tensorboard", "mlflow"]
"""Experiment trackers: csv is metrics.csv (always written); tensorboard and mlflow are
optional extras (netspec.training.loggers, docs/tracking.md)."""


class MlflowSpec(Strict):
    """Where an MLflow logger writes. `tracking_uri` (default: MLflow's own default, i.e.
    the MLFLOW_TRACKING_URI environment variable or a local store in the current directory);
    `experiment` (default: the spec's name)."""

    tracking_uri: str | None = Field(None, min_length=1)
    experiment: str | None = Field(None, min_length=1)


class TrainSpec(Strict):
    @model_validator(mode="before")
    @classmethod
    def _mapping(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            raise ValueError("train is a mapping of options, e.g. {epochs: 10, batch_size: 64}")
        return value

    task: TaskName = "classification"
    # A bare name is short for {type: name}.
    loss: Annotated[
        LossSpec | None, BeforeValidator(_typed, json_schema_input_type=LossName | LossSpec)
    ] = None
    optimizer: Annotated[
        OptimizerSetting,
        BeforeValidator(
            _optimizers,
            json_schema_input_type=OptimizerName
            | OptimizerSpec
            | dict[str, OptimizerName | OptimizerSpec],
        ),
    ] = OptimizerSpec()
    scheduler: Annotated[
        SchedulerSpec,
        BeforeValidator(_typed, json_schema_input_type=SchedulerName | SchedulerSpec),
    ] = SchedulerSpec()
    # Aliases in the spellings of Lightning (max_epochs, gradient_clip_val) and Hugging Face.
    epochs: int = Field(
        10, ge=1, validate_default=True, validation_alias=AliasChoices("epochs", "max_epochs")
    )
    batch_size: int = Field(32, ge=1)
    metrics: Annotated[
        tuple[Metric, ...],
        BeforeValidator(_one_or_many, json_schema_input_type=Metric | tuple[Metric, ...]),
    ] = ()
    early_stopping: EarlyStoppingSpec | None = None
    seed: int = 0
    device: str = "auto"
    precision: Annotated[
        Literal["32", "bf16-mixed", "16-mixed"],
        BeforeValidator(lambda v: str(v) if isinstance(v, int) else v),
        WithJsonSchema({"enum": [32, "32", "bf16-mixed", "16-mixed"]}),
    ] = "32"
    grad_clip: float | None = Field(
        None,
        gt=0,
        validation_alias=AliasChoices("grad_clip", "gradient_clip_val", "clip_grad_norm"),
    )
    accumulate_grad_batches: int = Field(
        1,
        ge=1,
        validation_alias=AliasChoices("accumulate_grad_batches", "gradient_accumulation_steps"),
    )
    scale_lr: bool = False
    checkpoint_every: int | None = Field(None, ge=1)
    checkpoint_every_steps: int | None = Field(None, ge=1)
    gan: GanSpec | None = None
    kl: KLSpec | None = None
    loggers: Annotated[
        tuple[LoggerName, ...],
        BeforeValidator(_one_or_many, json_schema_input_type=LoggerName | tuple[LoggerName, ...]),
    ] = ("csv",)
    mlflow: MlflowSpec | None = None

    def optimizer_for(self, network: str | None = None) -> OptimizerSpec:
        """The optimizer settings of one network (None: the spec's only network). A
        per-network mapping without an entry for it gives the defaults."""
        if isinstance(self.optimizer, OptimizerSpec):
            return self.optimizer
        return self.optimizer.get(network or "", OptimizerSpec())

    @model_validator(mode="after")
    def _task_options(self) -> TrainSpec:
        if self.gan is not None and self.task != "gan":
            raise ValueError(f"train.gan applies to task gan, not {self.task}")
        if self.kl is not None and self.task != "autoencoder":
            raise ValueError(
                f"train.kl applies to task autoencoder (a variational one), not {self.task}"
            )
        return self

    @field_validator("mlflow")
    @classmethod
    def _mlflow_listed(cls, mlflow: MlflowSpec | None, info: ValidationInfo) -> MlflowSpec | None:
        if mlflow is not None and "mlflow" not in info.data.get("loggers", ("mlflow",)):
            raise ValueError("train.mlflow sets up the mlflow logger: add mlflow to train.loggers")
        return mlflow

    @field_validator("loss")
    @classmethod
    def _loss_fits_task(cls, loss: LossSpec | None, info: ValidationInfo) -> LossSpec | None:
        task = info.data.get("task")
        if loss is not None and task is not None and loss.type not in TASK_LOSSES[task]:
            fits = " or ".join(TASK_LOSSES[task])
            raise ValueError(f"{loss.type} does not fit task {task}, which trains with {fits}")
        return loss

    @field_validator("metrics")
    @classmethod
    def _metrics_fit_task(cls, metrics: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        task = info.data.get("task")
        if task is not None:
            wrong = [m for m in metrics if m not in TASK_METRICS[task]]
            if wrong:
                fits = ", ".join(TASK_METRICS[task])
                raise ValueError(f"{', '.join(wrong)} does not fit task {task} (use {fits})")
        return tuple(dict.fromkeys(metrics))

    @field_validator("early_stopping")
    @classmethod
    def _known_monitor(
        cls, stopping: EarlyStoppingSpec | None, info: ValidationInfo
    ) -> EarlyStoppingSpec | None:
        task, metrics = info.data.get("task"), info.data.get("metrics")
        if stopping is None or task is None or metrics is None:
            return stopping
        if task == "gan" and "monitor" not in stopping.model_fields_set:
            # the default, val_loss, is a loss a GAN does not have: its validation value
            stopping = stopping.model_copy(update={"monitor": "val_mmd"})
        names = monitor_names(task, metrics)
        if stopping.monitor not in names:
            guess = did_you_mean(stopping.monitor, names)
            near = f"; did you mean {guess!r}?" if guess else ""
            raise ValueError(
                f"monitor {stopping.monitor!r} is not logged{near} (logged: {', '.join(names)})"
            )
        return stopping

    @field_validator("device")
    @classmethod
    def _device(cls, device: str) -> str:
        if not DEVICE_NAME.match(device):
            raise ValueError(f"device is auto, cpu, cuda, cuda:N or mps, not {device!r}")
        return device
