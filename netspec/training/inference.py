"""Using a finished run: ``evaluate`` a split with the best weights, ``predict`` new inputs.

Both read only spec.yaml, model.safetensors, run.json and standardizer.safetensors: no
pickles. ``predict`` applies the training scaling and the spec's input shape first.

A run of `networks: {encoder, decoder}` (an autoencoder in two networks) is evaluated and
predicts (its reconstructions) as the composed model; ``encode`` gives its encoder's codes.

A model with several inputs takes them by name (a mapping, e.g. an .npz); a model with
several outputs is evaluated on the first (what it trained on), and ``predict`` interprets
the first for the task and returns the others as they are (``Prediction.others``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from netspec.backend.artifacts import load_model
from netspec.errors import SpecError
from netspec.spec.load import Spec
from netspec.spec.networks import Networks
from netspec.spec.sections import TrainSpec
from netspec.training.autoencoders import check_autoencoder_fit, data_spec, load_autoencoder
from netspec.training.batches import as_inputs, as_tuple, rows
from netspec.training.device import pick_device
from netspec.training.graph_session import evaluate_graph, is_graph_spec, predict_graph
from netspec.training.losses import TargetScale
from netspec.training.protocols import DatasetLike
from netspec.training.rundir import INFO, TARGET_STANDARDIZER, RunDir
from netspec.training.variational import with_kl

if TYPE_CHECKING:
    import torch

    from netspec.sources.tokenizers import Tokenizer

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Prediction:
    """``outputs``: the model's raw outputs (logits for classification and binary;
    standardized values for regression trained with standardized targets).

    classification: ``labels`` (N,) class indices, ``probabilities`` (N, C) softmax;
    binary: ``labels`` (N,) 0/1 at threshold 0.5, ``probabilities`` (N,) of class 1;
    regression / autoencoder: ``values`` (N,) for one target, else the outputs' shape, in
    the targets' original units.

    A model with several outputs: all of the above is about the first (the one the loss
    trained); ``others`` holds the other outputs by layer name, raw, in the spec's order.
    """

    task: str
    outputs: torch.Tensor
    labels: torch.Tensor | None = None
    probabilities: torch.Tensor | None = None
    values: torch.Tensor | None = None
    class_names: list[str] | None = None
    others: dict[str, torch.Tensor] = field(default_factory=dict)
    output_name: str | None = None  # the first output's layer name

    def label_names(self) -> list[Any] | None:
        """The labels as class names (nested for per-position labels), when known."""
        if self.labels is None or self.class_names is None:
            return None
        names = self.class_names

        def name(value: Any) -> Any:
            return [name(v) for v in value] if isinstance(value, list) else names[value]

        return [name(v) for v in self.labels.tolist()]


def evaluate(
    run_dir: str | os.PathLike[str],
    split: str = "test",
    *,
    data: DatasetLike | None = None,
    device: str | None = None,
) -> dict[str, float]:
    """Loss and metrics of the run's best weights on a split of its data (reloaded from the
    spec's ``data:`` section with the same split seed, unless ``data`` is given)."""
    from netspec.training.loop import evaluate_split
    from netspec.training.metrics import make_metrics, metric_names
    from netspec.training.preflight import check_fit
    from netspec.training.session import load_dataset

    if split not in SPLITS:
        raise ValueError(f"split is one of {', '.join(SPLITS)}, not {split!r}")
    run = RunDir.trained(run_dir)
    loaded = run.read_any_spec()
    if data is None and is_graph_spec(loaded):
        return evaluate_graph(run, loaded, split, device)  # type: ignore[arg-type]
    spec = data_spec(_autoencoder(loaded, "evaluate")) if isinstance(loaded, Networks) else loaded
    settings = spec.train or TrainSpec()
    dataset = data if data is not None else load_dataset(spec, settings.task, _tokenizer(run))
    chosen = getattr(dataset, split)
    if chosen is None or rows(as_inputs(chosen.x)) == 0:
        raise SpecError.single(
            "invalid-value",
            f"the data have no {split} split",
            hints=("set data.split.val / data.split.test above 0",),
        )
    target = pick_device(device or "auto")
    model: torch.nn.Module
    if isinstance(loaded, Networks):
        _, objective = check_autoencoder_fit(loaded, settings, dataset)
        model = load_autoencoder(run.path).to(target)
    else:
        _, objective = check_fit(spec, settings, dataset)
        model = load_model(run.path).to(target)
    # The run's own target statistics, not the reloaded data's: the model learnt those.
    objective = with_kl(objective.scaled(_target_standardizer(run)), model, settings)
    metrics = make_metrics(settings.task, metric_names(settings), objective.num_classes, target)
    t = None if settings.task == "autoencoder" else objective.targets(chosen.y)
    return evaluate_split(
        model, objective, metrics, chosen.x, t, batch_size=settings.batch_size, device=target
    )


def predict(
    run_dir: str | os.PathLike[str],
    x: Any,
    *,
    device: str | None = None,
    batch_size: int = 256,
) -> Prediction:
    """Outputs of the run's best weights for new inputs ``x`` (array, tensor or nested
    lists; one sample or many), scaled and shaped as in training. For a model with several
    inputs, ``x`` maps each input's name to its samples (a dict, or an .npz as numpy.load
    gives it)."""
    import torch

    from netspec.plan import plan

    run = RunDir.trained(run_dir)
    loaded = run.read_any_spec()
    if isinstance(loaded, Networks):
        return _reconstruct(run, _autoencoder(loaded, "predict"), x, device, batch_size)
    spec = loaded
    if is_graph_spec(spec):  # a new graph: one prediction per node, or per graph
        outputs, _ = predict_graph(run, spec, x, device)
        probabilities = outputs.softmax(-1)
        names = _info(run).get("class_names")
        return Prediction(
            "classification", outputs, probabilities.argmax(-1), probabilities, None, names
        )
    settings = spec.train or TrainSpec()
    if settings.task == "language_model":
        raise SpecError.single(
            "unsupported",
            f"{run.path} is a language model: it continues text rather than predicting a "
            "label per sample",
            hints=(f"generate text with: netspec generate {run.path} --prompt '...'",),
        )
    info = _info(run)
    inputs = _prepare(run, spec, x)
    from netspec.training.preflight import check_token_ids

    check_token_ids(spec, [inputs], ("inputs",) if spec.named_inputs else ("input",))
    target = pick_device(device or "auto")
    model = load_model(run.path).to(target)
    labels = plan(spec).output_names
    chunks: list[list[torch.Tensor]] = [[] for _ in labels]
    with torch.no_grad():
        for i in range(0, int(inputs[0].shape[0]), batch_size):
            out = model(*(t[i : i + batch_size].to(target) for t in inputs))
            for k, tensor in enumerate(as_tuple(out)):
                chunks[k].append(tensor.float().cpu())
    found = [torch.cat(c) if c else torch.empty(0) for c in chunks]
    outputs = found[0]
    others = dict(zip(labels[1:], found[1:], strict=True))
    first = labels[0]
    names = info.get("class_names")
    task = settings.task
    if task == "classification":
        probabilities = outputs.softmax(-1)
        return Prediction(
            task, outputs, probabilities.argmax(-1), probabilities, None, names, others, first
        )
    if task == "binary":
        probabilities = outputs.sigmoid()
        if probabilities.shape[1:] == (1,):
            probabilities = probabilities.reshape(-1)
        return Prediction(
            task,
            outputs,
            (probabilities >= 0.5).long(),
            probabilities,
            None,
            names,
            others,
            first,
        )
    scaler = _target_standardizer(run) if task == "regression" else None
    values = outputs
    if scaler is not None:  # the model outputs standardized targets
        values = TargetScale.of(scaler).restore(outputs.reshape(len(outputs), -1))
        values = values.reshape(outputs.shape)
    values = values.reshape(-1) if values.shape[1:] == (1,) else values
    return Prediction(task, outputs, values=values, others=others, output_name=first)


def encode(
    run_dir: str | os.PathLike[str],
    x: Any,
    *,
    device: str | None = None,
    batch_size: int = 256,
) -> torch.Tensor:
    """The latent codes (N, *code) of new inputs ``x``: the encoder's (first) output in eval
    mode, for a run of `networks: {encoder, decoder}`; a VAE's code is the mean (its
    reparameterize layers return it in eval). ``x`` is read and scaled as ``predict`` does."""
    run = RunDir.trained(run_dir)
    loaded = run.read_any_spec()
    if not isinstance(loaded, Networks) or "encoder" not in loaded.networks:
        raise SpecError.single(
            "unsupported",
            f"{run.path} has no encoder network to encode with",
            hints=(
                ("it is a GAN run: `netspec sample RUN_DIR` draws from its generator",)
                if isinstance(loaded, Networks) and "generator" in loaded.networks
                else (
                    "write the autoencoder as `networks: {encoder, decoder}` (task "
                    "autoencoder) and train it: its encoder gives the codes",
                )
            ),
        )
    model = load_autoencoder(run.path)
    return _batched(run, loaded.networks["encoder"], model, model.encode, x, device, batch_size)


def _autoencoder(nets: Networks, command: str) -> Networks:
    """A run of several networks that ``command`` can use: an autoencoder's."""
    if set(nets.networks) != {"encoder", "decoder"}:
        raise SpecError.single(
            "unsupported",
            f"{command} takes a run of one network or an autoencoder's encoder and decoder; "
            f"this run has {', '.join(nets.networks)}",
            hints=("`netspec sample RUN_DIR` draws new samples from a GAN's generator",)
            if "generator" in nets.networks
            else (),
        )
    return nets


def _reconstruct(
    run: RunDir, nets: Networks, x: Any, device: str | None, batch_size: int
) -> Prediction:
    """An autoencoder's reconstructions of ``x``, in the data's shape (scaled values)."""
    model = load_autoencoder(run.path)
    outputs = _batched(run, nets.networks["encoder"], model, model, x, device, batch_size)
    return Prediction("autoencoder", outputs, values=outputs, output_name="reconstruction")


def _batched(
    run: RunDir,
    spec: Spec,
    model: torch.nn.Module,
    function: Callable[[torch.Tensor], torch.Tensor],
    x: Any,
    device: str | None,
    batch_size: int,
) -> torch.Tensor:
    """``function`` (``model`` in eval mode, or one of its methods) of ``x`` prepared for
    ``spec``'s input, batch by batch on the device, back on the CPU."""
    import torch

    from netspec.training.preflight import check_token_ids

    inputs = _prepare(run, spec, x)
    check_token_ids(spec, [inputs], ("input",))
    target = pick_device(device or "auto")
    model.to(target)
    chunks: list[torch.Tensor] = []
    with torch.no_grad():
        for i in range(0, int(inputs[0].shape[0]), batch_size):
            chunks.append(function(inputs[0][i : i + batch_size].to(target)).float().cpu())
    return torch.cat(chunks) if chunks else torch.empty(0)


def _info(run: RunDir) -> dict[str, Any]:
    path = run.path / INFO
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


def _tokenizer(run: RunDir) -> Tokenizer | None:
    """A language model run's tokenizer (tokenizer.json), None for other runs."""
    return run.read_tokenizer()


def _target_standardizer(run: RunDir) -> Any | None:
    """The regression targets' training statistics; None for runs without them (trained
    with standardize_target: false, or before netspec saved them): no inverse transform."""
    from netspec.data import Standardizer

    tensors = run.read_standardizer(TARGET_STANDARDIZER)
    return Standardizer.from_tensors(tensors) if tensors is not None else None


def _prepare(run: RunDir, spec: Any, x: Any) -> tuple[torch.Tensor, ...]:
    """Every input, in declared order, with the run's scaling: one Standardizer (a run with
    one input) or one per standardized input (``<input>.mean``, ... in the same file)."""
    from netspec.data import input_standardizers, prepare_inputs

    scaling = input_standardizers(run.read_standardizer(), tuple(spec.inputs))
    return prepare_inputs(x, spec, scaling)
