"""``train()`` for a GAN spec (`networks: {generator, discriminator}`, ``train.task: gan``).

Everything that can be checked is checked before the run directory is made, as for one
network (``session``): the two networks fit each other and the data (the generator's output
is the discriminator's input and one sample of the data; the discriminator gives one logit),
there is a validation split to measure the samples on, and the train settings are ones a
GAN run honours. The data are the spec's ``data:`` samples, loaded as the discriminator's
input (with no targets: ``load_data``'s autoencoder task); the ``GanTrainer`` (``gan``) runs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from netspec.backend.resolve import resolved_networks
from netspec.data.prepare import show
from netspec.errors import Diagnostic, SpecError
from netspec.plan import Plan, plan_networks
from netspec.spec.load import Spec
from netspec.spec.networks import Networks, load_any
from netspec.spec.sections import GanSpec, TrainSpec, monitored
from netspec.training.device import pick_device
from netspec.training.distributed import launched
from netspec.training.gan_losses import GanLoss
from netspec.training.optim import effective_lr
from netspec.training.outcome import RunResult
from netspec.training.preflight import differences
from netspec.training.protocols import DatasetLike, NullReporter, Reporter
from netspec.training.rundir import CHECKPOINT, INFO, SUMMARY, RunDir

if TYPE_CHECKING:
    import torch

    from netspec.training.gan import Shapes


def train_gan(
    nets: Networks,
    *,
    given: Any = None,
    out: str | os.PathLike[str] | None = None,
    resume: str | os.PathLike[str] | None = None,
    device: str | None = None,
    reporter: Reporter | None = None,
    data: DatasetLike | None = None,
    max_params: int | Literal["default"] | None = "default",
) -> RunResult:
    """Train a GAN spec (for ``resume``, the run's stored spec; ``given``, a spec passed
    too, must be the same). Arguments as ``netspec.training.train``; ``max_params``
    "default" is build_model's own default budget."""
    from netspec.backend.build import build_model
    from netspec.training import gan_state
    from netspec.training.gan import GanTrainer

    train = nets.train or TrainSpec(task="gan")
    if launched().distributed:
        raise _error(
            nets,
            "unsupported",
            "task gan trains in one process: several processes (--devices N, torchrun) are "
            "not supported for a GAN yet",
            ("train", "task"),
            "train with one process (drop --devices / torchrun)",
        )
    state = None
    run: RunDir | None = None
    if resume is not None:
        run = RunDir.existing(resume)
        if given is not None:
            _check_same(load_any(given), nets, run.path)
        if out is not None and Path(out).resolve() != run.path.resolve():
            raise SpecError.single(
                "invalid-value",
                f"--out {out} and --resume {run.path} name different directories",
                hints=("a resumed run writes into its own directory: drop --out",),
            )
        state = gan_state.read(run.path / CHECKPOINT)
    real = data_spec(nets)
    dataset = data if data is not None else _load(real)
    plans = plan_networks(nets)
    shapes = check_fit(nets, plans, dataset)
    target = pick_device(device or train.device, real)
    budget = {} if max_params == "default" else {"max_params": max_params}
    model = build_model(nets, seed=train.seed, **budget).to(target)
    description = describe(dataset, shapes)
    if run is None:
        run = RunDir.create(nets.name, out)
        _write_start(run, nets, plans, train, dataset, target, description)
    trainer = GanTrainer(
        train=train,
        data=dataset,
        model=model,
        shapes=shapes,
        device=target,
        run=run,
        reporter=reporter or NullReporter(),
        title=nets.name,
        description=description,
        scaling=run.read_standardizer(),
    )
    return trainer.fit(state)


def data_spec(nets: Networks) -> Spec:
    """The discriminator's spec with the data and train sections, located in the whole
    spec's source: what ``load_data`` reads (the data are the discriminator's input)."""
    spec = nets.networks["discriminator"].model_copy(
        update={"data": nets.data, "train": nets.train}
    )
    spec._source = nets.source  # diagnostics at `data`, not inside the network
    return spec


def _load(spec: Spec) -> DatasetLike:
    from netspec.data import load_data

    # No targets: like an autoencoder's, the samples are all there is.
    return load_data(spec, "autoencoder")


def check_fit(nets: Networks, plans: dict[str, Plan], data: DatasetLike) -> Shapes:
    """A sample of the data is the discriminator's input; sizes are numbers, not symbols.
    (That the generator makes the discriminator's input and the discriminator gives one
    logit is checked when the networks are planned: ``plan.disagreements``.)"""
    from netspec.training.gan import Shapes

    g, d = plans["generator"], plans["discriminator"]
    latent, taken = g.input.shape, d.input.shape
    for name, shape in (("generator", latent), ("discriminator", taken)):
        if not all(isinstance(s, int) for s in shape):
            raise _error(
                nets,
                "shape",
                f"the {name}'s input {show(tuple(shape))} has a symbolic size; a GAN draws "
                "samples of one fixed shape",
                ("networks", name, "input"),
                "give every size as a number",
            )
    if g.input.dtype != "float32":
        raise _error(
            nets,
            "invalid-value",
            f"the generator's input is {g.input.dtype}, but a GAN feeds it noise z ~ N(0, 1), "
            "which is float32",
            ("networks", "generator", "input"),
            "give the generator a float input (the default dtype)",
        )
    x = data.train.x
    if isinstance(x, tuple):
        raise _error(nets, "shape", "a GAN's data are one array of samples", ("data",))
    sample = tuple(int(s) for s in x.shape[1:])
    if sample != tuple(taken):
        raise _error(
            nets,
            "shape",
            f"the data's samples have shape {show(sample)}, but the discriminator takes "
            f"(and the generator makes) {show(tuple(taken))}",
            ("data",),
            "pick data of that shape, or change the networks' shapes",
        )
    val = data.val
    if val is None or int(as_tensor(val.x).shape[0]) < 2:
        raise _error(
            nets,
            "invalid-value",
            "task gan measures its samples against held-out data (val_mmd, which picks the "
            "best weights), but the data have no validation split of 2 samples or more",
            ("data", "split", "val") if nets.data is not None else ("data",),
            "set data.split.val above 0, e.g. 0.1",
        )
    return Shapes(latent=tuple(s for s in latent if isinstance(s, int)), sample=sample)


def as_tensor(x: Any) -> torch.Tensor:
    if isinstance(x, tuple):
        return x[0]  # type: ignore[no-any-return]
    return x  # type: ignore[no-any-return]


def _check_same(given: Spec | Networks, stored: Networks, folder: Path) -> None:
    a = resolved_networks(given) if isinstance(given, Networks) else {"spec": "one network"}
    b = resolved_networks(stored)
    a.pop("name", None)
    b.pop("name", None)
    if a != b:
        found = differences(b, a)
        raise SpecError.single(
            "invalid-value",
            f"the spec differs from {folder / 'spec.yaml'}, which the run was started with: "
            + "; ".join(found[:5]),
            hints=(f"resume with the run directory alone: netspec train --resume {folder}",),
        )


def _error(
    nets: Networks, code: str, message: str, path: tuple[Any, ...], hint: str = ""
) -> SpecError:
    diag = Diagnostic(code, message, path=path, hints=(hint,) if hint else ())
    return SpecError([nets.source.attach(diag)])


def describe(data: DatasetLike, shapes: Shapes) -> str:
    """One line: the splits' sizes and the sample shape."""
    parts = [
        f"{int(as_tensor(s.x).shape[0]):,} {name}"
        for name, s in (("train", data.train), ("val", data.val), ("test", data.test))
        if s is not None
    ]
    name = getattr(data, "name", "data")
    return (
        f"{name}: {' / '.join(parts)}, samples {show(shapes.sample)}, noise {show(shapes.latent)}"
    )


def _write_start(
    run: RunDir,
    nets: Networks,
    plans: dict[str, Plan],
    train: TrainSpec,
    data: DatasetLike,
    device: torch.device,
    description: str,
) -> None:
    from netspec.render.summary import networks_summary_text
    from netspec.version import __version__

    run.write_spec(nets)
    run.write_text(
        SUMMARY,
        networks_summary_text(nets.name, plans, train.batch_size)
        + "\n"
        + setup_text(train, description, device),
    )
    info = {
        "netspec_version": __version__,
        "name": nets.name,
        "task": "gan",
        "latent_network": "generator",
        "latent_shape": list(plans["generator"].input.shape),
        "sample_shape": list(plans["discriminator"].input.shape),
        "device": str(device),
        "processes": 1,
        "data": description,
    }
    run.write_text(INFO, json.dumps(info, indent=2) + "\n")
    if data.standardizer is not None:
        run.write_standardizer(data.standardizer.to_tensors())


def setup_text(train: TrainSpec, description: str, device: torch.device) -> str:
    """The training half of a GAN run's summary.txt."""
    gan = train.gan or GanSpec()
    loss = GanLoss.of(train)
    options = []
    if loss.kind == "non_saturating" and loss.label_smoothing:
        options.append(f"label smoothing {loss.label_smoothing:g}")
    if loss.kind == "wgan_gp":
        options.append(f"gp_weight {loss.gp_weight:g}")

    def optimizer(network: str) -> str:
        opt = train.optimizer_for(network)
        extras = [
            f"{k} {v}"
            for k in ("weight_decay", "momentum", "betas", "eps", "alpha")
            if (v := getattr(opt, k)) is not None
        ]
        return f"{opt.type}, " + ", ".join(
            [f"lr {effective_lr(train, network=network):g}", *extras]
        )

    lines = [
        f"Data:       {description}",
        f"Task:       gan, loss {loss.kind}" + (f" ({', '.join(options)})" if options else ""),
        f"Generator:  {optimizer('generator')}",
        f"Discrim.:   {optimizer('discriminator')}, {gan.d_steps} step(s) per generator step",
        f"Epochs:     {train.epochs}, batch size {train.batch_size}",
        "Average:    "
        + (f"EMA of the generator's weights, decay {gan.ema:g}" if gan.ema else "none"),
        "Monitor:    {} ({})".format(*monitored(train, has_val=True))
        + (
            f", early stopping after {train.early_stopping.patience}"
            if train.early_stopping
            else ""
        ),
        f"Device:     {device}, precision 32, seed {train.seed}"
        + (f", gradient clipping {train.grad_clip:g}" if train.grad_clip else ""),
    ]
    return "\n".join(lines) + "\n"
