"""Node and graph classification (issue 12): the trainer of a spec whose input is
`graph: true` and whose data is a graph source (netspec/sources/graphs.py).

Full batch: each epoch is one optimizer step on all the training data, the loss (cross
entropy) on the train mask's nodes (node classification: one graph, the masks are the data's
own, or ``data.split``'s fractions drawn with ``data.split.seed``, ``split_nodes``) or on the
training graphs, batched into one (graph classification: ``split_graphs``); val and test
loss and metrics on theirs.
Node features are standardized with the train nodes' statistics only with
``data.standardize: true`` (default off). The best weights are those of the best monitored
value (val_loss by default); early stopping works as for other tasks. The run directory
holds spec.yaml, model.safetensors, metrics.csv, metrics.json (the test metrics),
summary.txt and run.json. Not yet: checkpoints and --resume, several processes.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netspec.backend.artifacts import tied_keys
from netspec.errors import Diagnostic, SpecError
from netspec.spec.sections import TASK_LOSSES, TrainSpec, monitored
from netspec.training.device import pick_device
from netspec.training.metrics import compute, make_metrics, metric_names
from netspec.training.optim import Schedule, effective_lr, make_optimizer, parameter_groups
from netspec.training.outcome import RunResult, StartInfo, TrainingDiverged
from netspec.training.protocols import NullReporter, Reporter
from netspec.training.rundir import FINAL, INFO, SUMMARY, RunDir

if TYPE_CHECKING:
    import torch

    from netspec.sources.graphs import GraphData
    from netspec.spec.load import Spec


def is_graph_spec(spec: Any) -> bool:
    """Whether ``spec`` (a loaded one-network Spec) has a `graph: true` input."""
    inputs = getattr(spec, "inputs", None)
    if not isinstance(inputs, dict) or not inputs:
        return False
    return any(getattr(s, "graph", False) for s in inputs.values())


def refuse_resume(run_dir: str | os.PathLike[str]) -> SpecError:
    return SpecError.single(
        "invalid-value",
        f"{run_dir} is a graph run, which cannot be resumed yet: graph runs keep no checkpoint",
        hints=("train it again from its spec: netspec train SPEC",),
    )


def load_graph_data(spec: Spec) -> GraphData:
    """The spec's graph; node-level data with train/val/test node masks (graph-level data
    are split by graph in :func:`graph_parts`)."""
    from netspec.sources.graphs import load_graph, split_nodes
    from netspec.spec.data_check import graph_source_name

    data = spec.data
    if data is None:
        raise SpecError.single(
            "missing-field",
            "the spec has no `data:` section, so there is nothing to train on",
            hints=("add one, e.g. `data: {source: karate_club}`",),
        )
    base = Path(spec.source.file).resolve().parent if spec.source.file else None
    g = load_graph(graph_source_name(data.source), dict(data.model_extra or {}), base_dir=base)
    split = data.split
    if g.level == "node":
        g = split_nodes(g, val=split.val, test=split.test, seed=split.seed)
    features = next(iter(spec.inputs.values())).shape
    if len(features) != 1 or features[0] != g.num_features:
        diag = Diagnostic(
            "invalid-value",
            f"the input has shape {list(features)}, but the data are {g.describe()}: "
            f"the input is [{g.num_features}], one value per node feature",
            path=("input", "shape"),
        )
        raise SpecError([spec.source.attach(diag)])
    return g


TASK_LEVELS = {"node_classification": "node", "graph_classification": "graph"}
"""What each graph task labels."""


@dataclass(frozen=True)
class Part:
    """One split as tensors: node-level data share the whole graph and pick their nodes by
    ``mask``; graph-level data hold the split's graphs batched (``batch``)."""

    x: torch.Tensor
    edge_index: torch.Tensor
    y: torch.Tensor
    batch: torch.Tensor | None
    mask: torch.Tensor | None
    size: int  # nodes (node level) or graphs (graph level)

    def scored(self, model: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
        """The model's class scores of this split's nodes or graphs, and their labels."""
        if self.batch is None:
            out = model(self.x, self.edge_index)
        else:
            out = model(self.x, self.edge_index, self.batch)
        if self.mask is not None:
            return out[self.mask], self.y[self.mask]
        return out, self.y


def graph_parts(spec: Spec, g: GraphData, target: torch.device) -> dict[str, Part]:
    """The non-empty splits (train, val, test) on ``target``; x standardized with the train
    nodes' statistics when ``data.standardize`` is true."""
    import torch

    from netspec.sources.graphs import split_graphs

    def tensors(h: GraphData) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return (
            torch.as_tensor(h.x, dtype=torch.float32),
            torch.as_tensor(h.edge_index, dtype=torch.int64).to(target),
            torch.as_tensor(h.y, dtype=torch.int64).to(target),
        )

    standardize = spec.data is not None and spec.data.standardize is True
    parts: dict[str, Part] = {}
    if g.level == "node":
        x, edge_index, y = tensors(g)
        masks = {k.removesuffix("_mask"): torch.as_tensor(v) for k, v in g.masks().items()}
        if standardize:
            x = _standardized(x, x[masks["train"]])
        x = x.to(target)
        for name, mask in masks.items():
            if int(mask.sum()):
                parts[name] = Part(x, edge_index, y, None, mask.to(target), int(mask.sum()))
        return parts
    split = spec.data.split if spec.data is not None else None
    pieces = split_graphs(
        g,
        val=split.val if split else 0.1,
        test=split.test if split else 0.1,
        seed=split.seed if split else 0,
    )
    train_x = torch.as_tensor(pieces[0].x, dtype=torch.float32)
    for name, piece in zip(("train", "val", "test"), pieces, strict=True):
        if piece.num_graphs:
            x, edge_index, y = tensors(piece)
            if standardize:
                x = _standardized(x, train_x)
            batch = torch.as_tensor(piece.batch, dtype=torch.int64).to(target)
            parts[name] = Part(x.to(target), edge_index, y, batch, None, piece.num_graphs)
    return parts


def _standardized(x: torch.Tensor, train_x: torch.Tensor) -> torch.Tensor:
    import torch

    mean, std = train_x.mean(0), train_x.std(0, unbiased=False)
    return (x - mean) / torch.where(std > 0, std, torch.ones_like(std))


def _task(spec: Spec, g: GraphData) -> str:
    settings = spec.train
    task = settings.task if settings is not None else f"{g.level}_classification"
    if TASK_LEVELS.get(task) != g.level:
        want = f"{g.level}_classification"
        raise SpecError(
            [
                spec.source.attach(
                    Diagnostic(
                        "invalid-value",
                        f"{g.describe()}: {g.level}-level labels train with task {want}, "
                        f"not {task}",
                        path=("train", "task"),
                        received=task,
                        expected=want,
                    )
                )
            ]
        )
    return task


def evaluate_graph(
    run: RunDir, spec: Spec, split: str = "test", device: str | None = None
) -> dict[str, float]:
    """Loss and metrics of a graph run's best weights on one split's nodes or graphs (the
    data reloaded from the spec, the split drawn again with the same seed)."""
    import torch

    from netspec.backend.artifacts import load_model

    g = load_graph_data(spec)
    task = _task(spec, g)
    settings = spec.train or TrainSpec(task=task)  # type: ignore[arg-type]
    target = pick_device(device or "auto")
    part = graph_parts(spec, g, target).get(split)
    if part is None:
        raise SpecError.single(
            "invalid-value",
            f"the graph data have no {split} split",
            hints=("set data.split.val / data.split.test above 0",),
        )
    model = load_model(run.path).to(target)
    model.eval()
    metrics = make_metrics("classification", metric_names(settings), g.num_classes, target)
    with torch.no_grad():
        logits, labels = part.scored(model)
        loss = float(torch.nn.functional.cross_entropy(logits, labels))
        metrics.update(logits, labels)
    return {"loss": loss, **compute(metrics)}


def train_graph(
    spec: Spec,
    *,
    out: str | os.PathLike[str] | None = None,
    device: str | None = None,
    reporter: Reporter | None = None,
    max_params: int | str | None = "default",
) -> RunResult:
    """Train node or graph classification on the spec's graph data; write the run
    directory."""
    import torch

    from netspec.backend.build import build_model
    from netspec.version import __version__

    reporter = reporter or NullReporter()
    g = load_graph_data(spec)
    task = _task(spec, g)
    settings = spec.train or TrainSpec(task=task)  # type: ignore[arg-type]
    unit = "node" if g.level == "node" else "graph"
    target = pick_device(device or settings.device, spec)
    budget: dict[str, Any] = {} if max_params == "default" else {"max_params": max_params}
    model = build_model(spec, seed=settings.seed, **budget).to(target)
    torch.manual_seed(settings.seed)  # dropout draws

    parts = graph_parts(spec, g, target)
    standardize = spec.data is not None and spec.data.standardize is True
    counts = {k: part.size for k, part in parts.items()}
    model.eval()
    with torch.no_grad():
        scores, _ = parts["train"].scored(model)
    out_shape = tuple(scores.shape[1:])
    if out_shape != (g.num_classes,):
        hint = (
            "a graph_pool layer turns node features into one row per graph"
            if g.level == "graph"
            else "the last layer gives one score per class"
        )
        raise SpecError.single(
            "invalid-value",
            f"the model's output per {unit} is {list(out_shape)}, but {g.origin} has "
            f"{g.num_classes} classes: the last layer needs {g.num_classes} units",
            path=("layers",),
            hints=(hint,),
        )
    if g.level == "graph" and scores.shape[0] != counts["train"]:
        raise SpecError.single(
            "invalid-value",
            f"the model gives {scores.shape[0]} rows for {counts['train']} graphs: graph "
            "classification needs a graph_pool layer (one row per graph)",
            path=("layers",),
        )
    loss_name = settings.loss.type if settings.loss else TASK_LOSSES[task][0]
    names = metric_names(settings)
    has_val = counts.get("val", 0) > 0
    monitor, mode = monitored(settings, has_val=has_val)
    run = RunDir.create(spec.name, out)
    run.write_spec(spec)
    description = g.describe() + (", standardized" if standardize else "")
    params = sum(p.numel() for p in model.parameters())
    opt = settings.optimizer_for()
    run.write_text(
        SUMMARY,
        "\n".join(
            [
                f"Data:       {description}",
                f"Task:       {task}, loss {loss_name}, full batch "
                "(one step per epoch on all the training data)",
                f"Optimizer:  {opt.type}, lr {effective_lr(settings):g}",
                f"Epochs:     {settings.epochs}",
                f"Metrics:    {', '.join(names)}",
                f"Monitor:    {monitor} ({mode})",
                f"Device:     {target}, seed {settings.seed}",
                f"Parameters: {params:,}",
            ]
        )
        + "\n",
    )
    info = {
        "netspec_version": __version__,
        "name": spec.name,
        "task": task,
        "num_classes": g.num_classes,
        "class_names": g.class_names,
        "output_shape": list(out_shape),
        "device": str(target),
        "processes": 1,
        "data": description,
    }
    run.write_text(INFO, json.dumps(info, indent=2) + "\n")
    tied = tied_keys(model)
    run.write_weights(model.state_dict(), spec.name, tied)

    optimizer = make_optimizer(settings, parameter_groups(settings, model))
    schedule = Schedule(optimizer, settings, 1, mode)
    metrics = make_metrics("classification", names, g.num_classes, target)
    loss_fn = torch.nn.CrossEntropyLoss()

    def evaluate(part: str) -> dict[str, float]:
        chosen = parts.get(part)
        if chosen is None:
            return {}
        model.eval()
        with torch.no_grad():
            logits, labels = chosen.scored(model)
            loss = float(loss_fn(logits, labels))
            metrics.update(logits, labels)
        return {"loss": loss, **compute(metrics)}

    reporter.on_start(
        StartInfo(
            run_dir=run.path,
            device=str(target),
            task=task,
            epochs=settings.epochs,
            start_epoch=0,
            batches_per_epoch=1,
            start_batch=0,
            train_samples=counts.get("train", 0),
            val_samples=counts.get("val", 0),
            test_samples=counts.get("test", 0),
            params=params,
            monitor=monitor,
            data=description,
            resumed=False,
        )
    )
    history: list[dict[str, float]] = []
    best: float | None = None
    best_epoch, best_state = 0, None
    waited, stopped = 0, False
    stopping = settings.early_stopping
    started = time.perf_counter()
    for epoch in range(1, settings.epochs + 1):
        tick = time.perf_counter()
        model.train()
        schedule.apply()
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(*parts["train"].scored(model))
        loss.backward()
        if settings.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
        optimizer.step()
        schedule.advance()
        train_loss = float(loss.detach())
        if not math.isfinite(train_loss):
            raise TrainingDiverged(
                f"the training loss became {train_loss} in epoch {epoch}; "
                f"the best weights so far are in {run.path}",
                run.path,
                epoch - 1,
            )
        reporter.on_batch(epoch, train_loss)
        val = evaluate("val")
        row: dict[str, float] = {"epoch": epoch, "train_loss": train_loss}
        row.update({f"val_{k}": v for k, v in val.items()})
        row["lr"] = optimizer.param_groups[0]["lr"]
        row["seconds"] = time.perf_counter() - tick
        history.append(row)
        reporter.on_epoch(epoch, row)
        value = row.get(monitor)
        schedule.end_epoch(epoch, value)
        delta = stopping.min_delta if stopping else 0.0
        if value is not None and (
            best is None or (best - value if mode == "min" else value - best) > delta
        ):
            best, best_epoch, waited = value, epoch, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            waited += 1
            if stopping is not None and waited >= stopping.patience:
                stopped = True
                break
    seconds = time.perf_counter() - started
    if best_state is not None:
        model.load_state_dict(best_state)
    else:
        best_epoch = len(history)
    run.write_weights(model.state_dict(), spec.name, tied)
    run.write_history(history)
    test = evaluate("test")
    final = {
        "task": task,
        "best_epoch": best_epoch,
        "monitor": monitor,
        "best_value": best,
        "epochs_run": len(history),
        "stopped_early": stopped,
        "test": test,
        f"test_{unit}s": counts.get("test", 0),
        "train_seconds": seconds,
    }
    run.write_json(FINAL, final)
    result = RunResult(
        run_dir=run.path,
        best_epoch=best_epoch,
        monitor=monitor,
        best_value=best,
        epochs_run=len(history),
        stopped_early=stopped,
        test=test,
        history=history,
        samples_per_second=counts.get("train", 0) * len(history) / max(seconds, 1e-9),
        train_seconds=seconds,
        device=str(target),
        metrics=final,
    )
    reporter.on_end(result)
    return result


__all__ = [
    "Part",
    "evaluate_graph",
    "graph_parts",
    "is_graph_spec",
    "load_graph_data",
    "refuse_resume",
    "train_graph",
]


def predict_graph(
    run: RunDir, spec: Spec, arrays: Any, device: str | None = None
) -> tuple[torch.Tensor, str]:
    """A graph run's class scores for a new graph (or graphs): ``arrays`` maps ``x``
    (nodes, F) and ``edge_index`` (2, E), and ``batch`` (a graph id per node) for several
    graphs, as an .npz holds them. Returns the scores per node or per graph (as the run's
    task labels), on the CPU, and that level."""
    import numpy as np
    import torch

    from netspec.backend.artifacts import load_model
    from netspec.sources.graphs import GraphData, check_graph, split_graphs
    from netspec.sources.registry import DataProblem

    if not isinstance(arrays, Mapping) or "x" not in arrays or "edge_index" not in arrays:
        raise SpecError.single(
            "invalid-value",
            "a graph run predicts from an .npz with `x` (nodes, features) and `edge_index` "
            "(2, edges), and `batch` (a graph id per node) for several graphs",
            hints=("numpy.savez('graph.npz', x=x, edge_index=edge_index)",),
        )
    task = spec.train.task if spec.train is not None else "node_classification"
    level = TASK_LEVELS.get(task, "node")
    x = np.asarray(arrays["x"])
    nodes = int(x.shape[0]) if x.ndim else 0
    batch = np.asarray(arrays["batch"]) if "batch" in arrays else np.zeros(nodes, np.int64)
    graphs = int(batch.max()) + 1 if batch.size and batch.dtype.kind in "iu" else 1
    labels = np.zeros(nodes if level == "node" else graphs, np.int64)  # checked, not used
    given = GraphData(x, np.asarray(arrays["edge_index"]), labels, batch, 1, level)  # type: ignore[arg-type]
    try:
        check_graph(given, "the input graph")
    except DataProblem as problem:
        raise SpecError.single(problem.code, problem.message, hints=problem.hints) from None
    features = next(iter(spec.inputs.values())).shape
    if list(features) != [int(x.shape[1])]:
        raise SpecError.single(
            "shape",
            f"the input graph's nodes have {x.shape[1]} features; the run's model takes "
            f"{list(features)}",
        )
    features_x = torch.as_tensor(x, dtype=torch.float32)
    if spec.data is not None and spec.data.standardize is True:
        # the scaling training used: the training nodes' (or graphs') statistics, drawn again
        g = load_graph_data(spec)
        if g.level == "node":
            train_x = torch.as_tensor(g.x[g.masks()["train_mask"]], dtype=torch.float32)
        else:
            split = spec.data.split
            pieces = split_graphs(g, val=split.val, test=split.test, seed=split.seed)
            train_x = torch.as_tensor(pieces[0].x, dtype=torch.float32)
        features_x = _standardized(features_x, train_x)
    target = pick_device(device or "auto")
    model = load_model(run.path).to(target)
    edge_index = torch.as_tensor(given.edge_index, dtype=torch.int64).to(target)
    with torch.no_grad():
        if level == "graph":
            ids = torch.as_tensor(batch, dtype=torch.int64).to(target)
            out = model(features_x.to(target), edge_index, ids)
        else:
            out = model(features_x.to(target), edge_index)
    return out.float().cpu(), level
