"""An autoencoder written as two networks, `networks: {encoder, decoder}`, trained as one.

The two are composed into ``backend.composed.Autoencoder`` (forward: decoder(encoder(x)),
state_dict keys ``encoder.*`` and ``decoder.*``), so the one-network Trainer trains it with
everything it does (resume, several processes, checkpoints, metrics, best weights), and the
run's model.safetensors loads with ``netspec.load_networks``.

The data are the encoder's: their samples have its input's shape. Before the run directory is
made, the shapes must chain: data -> encoder input, encoder output (the code) -> decoder
input, decoder output -> the data's sample shape; each mismatch is a diagnostic located at
the network concerned. With reparameterize layers (in either network) it is a VAE: see
``variational``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from netspec.dims import Dim, format_shape
from netspec.errors import Diagnostic, SpecError, YPath
from netspec.plan import Plan, concrete, plan
from netspec.spec.load import Spec
from netspec.spec.networks import Networks
from netspec.spec.sections import TrainSpec
from netspec.training.batches import as_inputs, rows
from netspec.training.losses import Objective, make_objective
from netspec.training.preflight import check_run_settings, check_token_ids
from netspec.training.protocols import DatasetLike
from netspec.training.rundir import SAMPLES, RunDir

PRIOR_SAMPLES = 1000
"""Samples a VAE's samples.png draws (a grid shows the first 64)."""

if TYPE_CHECKING:
    from netspec.backend.composed import Autoencoder
    from netspec.training.distributed import World
    from netspec.training.session import Setup


def data_spec(nets: Networks) -> Spec:
    """The encoder as the run's one-network view: its input is the data's sample shape, with
    the spec's name, `data` and `train`, and the whole spec's source map (diagnostics about
    `data` and `train` are located where they are written)."""
    encoder = nets.networks["encoder"]
    view = encoder.model_copy(update={"name": nets.name, "data": nets.data, "train": nets.train})
    view._source = nets.source
    return view


def check_autoencoder_fit(
    nets: Networks, settings: TrainSpec, data: DatasetLike
) -> tuple[dict[str, Plan], Objective]:
    """Each network's plan with the data's sizes bound, and the objective: the shapes chain
    from the data through the encoder and the decoder back to the data's shape."""
    source = nets.source
    if settings.task != "autoencoder":
        raise SpecError.single(
            "unsupported",
            f"training a spec of several networks with task {settings.task} is not supported "
            "yet; task autoencoder trains `networks: {encoder, decoder}`",
        )
    encoder, decoder = nets.networks["encoder"], nets.networks["decoder"]
    for name, spec in (("encoder", encoder), ("decoder", decoder)):
        if len(spec.inputs) != 1:
            raise _error(
                source,
                f"the {name} of an autoencoder takes one input, not {len(spec.inputs)}",
                ("networks", name, "inputs"),
            )
    x = as_inputs(data.train.x)
    if isinstance(x, tuple):
        raise SpecError.single("shape", "an autoencoder's data give one array of samples")
    if rows(x) == 0:
        raise SpecError.single("invalid-value", "the training split is empty")
    sample = tuple(int(d) for d in x.shape[1:])
    p_encoder = _bound_plan(
        source,
        encoder,
        sample,
        "encoder",
        lambda want: f"the data's samples are {tuple(sample)} but the encoder's input is {want}",
    )
    code = _ints(source, p_encoder, "encoder")
    p_decoder = _bound_plan(
        source,
        decoder,
        code,
        "decoder",
        lambda want: (
            f"the encoder outputs codes of shape {format_shape(code)}, but the "
            f"decoder's input is {want}"
        ),
    )
    out = _ints(source, p_decoder, "decoder")
    if out != sample:
        raise _error(
            source,
            f"task autoencoder reconstructs its input {format_shape(sample)}, but the decoder "
            f"outputs {format_shape(out)}",
            ("networks", "decoder", "layers"),
            received=format_shape(out),
            expected=format_shape(sample),
            hint="the decoder's last layers must give back the input's shape "
            "(e.g. reshape after dense)",
        )
    view = data_spec(nets)
    splits = (data.train, data.val, data.test)
    check_token_ids(
        view, [as_inputs(s.x) for s in splits if s is not None and rows(as_inputs(s.x))], ("data",)
    )
    objective = make_objective(view, settings, out, sample, None, None)
    return {"encoder": p_encoder, "decoder": p_decoder}, objective


def _bound_plan(source: Any, spec: Spec, shape: tuple[int, ...], name: str, problem: Any) -> Plan:
    """The network's plan with its input's symbols bound to ``shape``; a mismatch is an
    error at its `input`."""
    declared: Sequence[Dim] = spec.input.shape
    binding: dict[str, int] = {}
    fits = len(shape) == len(declared)
    for d, size in zip(declared, shape, strict=False):
        if isinstance(d, int):
            fits = fits and d == size
        else:
            fits = fits and binding.setdefault(str(d), size) == size
    if not fits:
        want = "(" + ", ".join(str(d) for d in declared) + ")"
        raise _error(source, problem(want), ("networks", name, "input"))
    return plan(concrete(spec, binding) if binding else spec)


def _ints(source: Any, p: Plan, name: str) -> tuple[int, ...]:
    shape = p.output.shape
    ints = tuple(d for d in shape if isinstance(d, int))
    if len(ints) != len(shape):
        raise _error(
            source,
            f"the {name}'s output {format_shape(shape)} still has symbolic sizes after "
            "binding the data's",
            ("networks", name),
        )
    return ints


def _error(
    source: Any,
    message: str,
    path: YPath,
    *,
    received: str | None = None,
    expected: str | None = None,
    hint: str | None = None,
) -> SpecError:
    diag = Diagnostic(
        "shape",
        message,
        path=path,
        received=received,
        expected=expected,
        hints=(hint,) if hint else (),
    )
    return SpecError([source.attach(diag)])


def prepare_autoencoder(
    nets: Networks,
    world: World,
    device: str | None,
    data: DatasetLike | None,
    budget: Mapping[str, Any],
) -> Setup:
    """`networks: {encoder, decoder}`: the data, the checks and the composed, seeded model."""
    from netspec.backend.build import build_model
    from netspec.backend.composed import compose_autoencoder
    from netspec.render.summary import networks_summary_text
    from netspec.training.device import pick_device
    from netspec.training.session import Setup, load_dataset, place
    from netspec.training.variational import check_kl_settings, with_kl

    settings = nets.train or TrainSpec()
    view = data_spec(nets)
    dataset = data if data is not None else load_dataset(view, settings.task)
    target = place(pick_device(device or settings.device, view), world, view)
    plans, objective = check_autoencoder_fit(nets, settings, dataset)
    check_run_settings(view, settings, dataset, target)
    model = compose_autoencoder(build_model(nets, seed=settings.seed, **budget)).to(target)
    check_kl_settings(nets.source, settings, model)
    objective = with_kl(objective, model, settings)
    summary = networks_summary_text(nets.name, plans, settings.batch_size)
    return Setup(view, nets, summary, settings, dataset, target, objective, model)


def load_autoencoder(directory: Any) -> Autoencoder:
    """The composed encoder and decoder of a run or build directory, in eval mode."""
    from netspec.backend.artifacts import load_networks
    from netspec.backend.composed import compose_autoencoder

    return compose_autoencoder(load_networks(directory)).train(False)


def write_prior_samples(run: RunDir, nets: Networks, model: Autoencoder, setup: Setup) -> None:
    """A VAE's samples.png: its decoder on z ~ N(0, 1) (the prior) beside the validation
    split (or the test split), both in the data's units."""
    import torch

    from netspec.backend.artifacts import write_atomic
    from netspec.training.samples import draw, samples_png, unstandardize

    latent = plan(nets.networks["decoder"]).input.shape
    shape = tuple(d for d in latent if isinstance(d, int))
    if len(shape) != len(latent):  # a code of symbolic size: no one shape to draw
        return
    scaling = run.read_standardizer()
    fake = draw(model["decoder"], PRIOR_SAMPLES, setup.settings.seed, setup.target, shape)
    split = setup.dataset.val or setup.dataset.test
    real = None
    if split is not None and isinstance(split.x, torch.Tensor) and split.x.shape[0] > 0:
        real = unstandardize(split.x[:PRIOR_SAMPLES].float().cpu(), scaling)
    title = f"{nets.name}: decoder on z ~ N(0, 1)"
    write_atomic(run.path / SAMPLES, samples_png(unstandardize(fake, scaling), real, title))
