"""The metrics of a task, computed with torchmetrics once per epoch on a whole split.

- classification: accuracy (fraction correct), f1 (macro), roc_auc (macro one-vs-rest on
  softmax probabilities), all multiclass with the data's number of classes;
- binary: accuracy and f1 at threshold 0.5 on the sigmoid, roc_auc on the sigmoid;
- regression / autoencoder: mae, mse, rmse, r2 (averaged over outputs);
- language_model: perplexity (exp of the mean cross entropy over the split's trained tokens)
  and accuracy (of the next token, over the trained positions), both skipping targets
  IGNORE; exact_match is no torchmetrics metric: ``evaluate_split`` decodes each problem's
  answer (``exact_match``).

Without ``train.metrics`` a task logs its defaults (sections.DEFAULT_METRICS).
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from netspec.sources.tokenizers import IGNORE
from netspec.spec.sections import DEFAULT_METRICS, TrainSpec

if TYPE_CHECKING:
    import torch
    from torchmetrics import MetricCollection


def metric_names(train: TrainSpec) -> tuple[str, ...]:
    return train.metrics or DEFAULT_METRICS[train.task]


GENERATED = ("exact_match",)
"""Metrics of generated text, which need the model rather than its outputs."""


def make_metrics(
    task: str, names: tuple[str, ...], num_classes: int | None, device: torch.device
) -> MetricCollection:
    from torchmetrics import MetricCollection

    made = {
        name: _metric(task, name, num_classes)
        for name in names
        if name not in GENERATED  # computed by evaluate_split itself
    }
    return MetricCollection(made, compute_groups=False).to(device)


def _metric(task: str, name: str, num_classes: int | None) -> Any:
    from torchmetrics import classification as c
    from torchmetrics import regression as r

    quick: dict[str, Any] = {"validate_args": False}
    if task == "language_model":
        if name == "perplexity":
            from torchmetrics.text import Perplexity

            return Perplexity(ignore_index=IGNORE)
        if name == "accuracy":
            if num_classes is None:
                raise ValueError("netspec bug: next-token accuracy needs the vocabulary size")
            return _token_accuracy(num_classes)
    elif task == "classification":
        if num_classes is None:
            raise ValueError("netspec bug: classification metrics need the number of classes")
        if name == "accuracy":
            return c.MulticlassAccuracy(num_classes, average="micro", **quick)
        if name == "f1":
            return c.MulticlassF1Score(num_classes, average="macro", **quick)
        if name == "roc_auc":
            return c.MulticlassAUROC(num_classes, average="macro", **quick)
    elif task == "binary":
        if name == "accuracy":
            return c.BinaryAccuracy(threshold=0.5, **quick)
        if name == "f1":
            return c.BinaryF1Score(threshold=0.5, **quick)
        if name == "roc_auc":
            return c.BinaryAUROC(**quick)
    elif name == "mae":
        return r.MeanAbsoluteError()
    elif name == "mse":
        return r.MeanSquaredError()
    elif name == "rmse":
        return r.MeanSquaredError(squared=False)
    elif name == "r2":
        return r.R2Score()
    raise ValueError(f"netspec bug: metric {name!r} does not fit task {task!r}")


def _token_accuracy(vocab: int) -> Any:
    """Next-token accuracy over the positions whose target is not IGNORE; takes the logits
    (N, T, V) and targets (N, T) that perplexity takes."""
    from torchmetrics.classification import MulticlassAccuracy

    class TokenAccuracy(MulticlassAccuracy):
        def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
            super().update(preds.flatten(0, -2), target.flatten())

    return TokenAccuracy(vocab, average="micro", ignore_index=IGNORE, validate_args=False)


def compute(metrics: MetricCollection) -> dict[str, float]:
    """The collection's values as floats (NaN where undefined, e.g. roc_auc of one class)."""
    with warnings.catch_warnings():  # torchmetrics warns on degenerate splits; NaN says it
        warnings.simplefilter("ignore")
        values = metrics.compute()
    out = {name: float(value) for name, value in values.items()}
    metrics.reset()
    return out
