"""`netspec build` outputs and loading them back.

A build directory holds model.py (standalone source), model.safetensors (weights), spec.yaml
(the resolved spec), summary.txt, and optional exports (model.ts, model.pt2, model.onnx; for
a spec of several networks one per network, generator.onnx).
Loading reads spec.yaml and safetensors only: nothing is unpickled, no code from the
directory runs.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netspec.errors import SpecError
from netspec.plan import Plan, concrete, plan, plan_networks
from netspec.spec.load import Spec
from netspec.spec.networks import Networks, load_any

if TYPE_CHECKING:
    import torch
    from torch import fx

EXPORT_FORMATS = ("torchscript", "export", "onnx")
WEIGHTS = "model.safetensors"
SPEC = "spec.yaml"


@dataclass
class BuildResult:
    directory: Path
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def write_atomic(path: Path, data: bytes | str, *, make_parents: bool = True) -> None:
    """Write via a temp file in the same folder, fsync, rename: never a half-written file.

    The file gets the usual permissions (0666 less the umask), not mkstemp's 0600.
    """
    if path.is_dir():
        raise IsADirectoryError(21, "is a directory", str(path))
    if make_parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def build_directory(
    spec: Spec | Networks,
    out: Path,
    *,
    seed: int | None = None,
    formats: Sequence[str] = (),
    max_params: int | None = None,
    origin: str | None = None,
) -> BuildResult:
    """Build the model and write every artifact of `netspec build` into ``out``.

    A spec of several networks gives one model.py with a class per network and ``build()``
    (an nn.ModuleDict), one weight file of the ModuleDict, and an export per network
    (``generator.onnx``): an exported program has one forward, and each network has its own.
    """
    from safetensors.torch import save

    from netspec.backend.build import build_model
    from netspec.backend.eject import model_source, networks_source
    from netspec.backend.resolve import resolved_yaml
    from netspec.render.summary import networks_summary_text, summary_text

    _check_formats(formats)
    batch = spec.train.batch_size if spec.train else 1
    result = BuildResult(out)

    def put(name: str, data: bytes | str) -> None:
        write_atomic(out / name, data)
        result.files.append(out / name)

    # (network name or None for a one-network spec, its module, spec and plan) per export
    exports: list[tuple[str | None, torch.nn.Module, Spec, Plan]]
    if isinstance(spec, Networks):
        plans = plan_networks(spec)
        networks = build_model(spec, seed=seed, max_params=max_params)
        put("model.py", networks_source(spec.name, plans, origin))
        put(WEIGHTS, save(_weights(networks), metadata={"netspec_spec": spec.name}))
        put(SPEC, resolved_yaml(spec))
        put("summary.txt", networks_summary_text(spec.name, plans, batch))
        exports = [(n, networks[n], spec.networks[n], plans[n]) for n in plans]
    else:
        p = plan(spec)
        model = build_model(spec, seed=seed, max_params=max_params)
        put("model.py", model_source(p, origin))
        put(WEIGHTS, save(_weights(model), metadata={"netspec_spec": spec.name}))
        put(SPEC, resolved_yaml(spec))
        put("summary.txt", summary_text(p, batch))
        exports = [(None, model, spec, p)]
    for fmt in formats:
        for network, module, network_spec, network_plan in exports:
            if network_plan.graph:
                raise SpecError.single(
                    "invalid-value",
                    f"exporting a graph model (-f {fmt}) is not supported yet: model.py and "
                    "model.safetensors are written",
                    hints=("build without -f, and load model.py with the weights",),
                )
            with _quiet():
                name, data, note = EXPORTERS[fmt](module, network_spec, network_plan)
            if network is not None:  # model.onnx -> generator.onnx
                name = network + Path(name).suffix
            put(name, data)
            if note:
                result.notes.append(f"{name}: {note}" if network is not None else note)
    return result


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Exporters chatter (deprecation warnings, onnx registry notes): keep the CLI clean."""
    import logging
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.disable(logging.WARNING)
        try:
            yield
        finally:
            logging.disable(logging.NOTSET)


def _weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    # safetensors wants contiguous tensors that share no memory; a tied weight is saved once.
    skip = tied_keys(model)
    return {
        k: v.detach().contiguous().clone() for k, v in model.state_dict().items() if k not in skip
    }


def tied_keys(model: torch.nn.Module) -> set[str]:
    """The state_dict keys of parameters that are another key's parameter (a `tie`): weight
    files hold each tensor once, under its first name, and loading restores the tie."""
    seen: set[int] = set()
    tied = set()
    for name, parameter in model.named_parameters(remove_duplicate=False):
        if id(parameter) in seen:
            tied.add(name)
        seen.add(id(parameter))
    return tied


def load_weights(model: torch.nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Load a weight file's tensors; only tied weights (saved once) may be missing."""
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if k not in tied_keys(model)]
    if missing or unexpected:
        raise SpecError.single(
            "invalid-value",
            f"{source} does not fit the model: missing {sorted(missing)[:5]}, "
            f"unexpected {sorted(unexpected)[:5]}",
        )


def load_model(directory: str | os.PathLike[str]) -> fx.GraphModule:
    """The model of a build (or training run) directory, with its weights, in eval mode."""
    from torch import fx

    model = load_any_model(directory)
    if isinstance(model, fx.GraphModule):
        return model
    raise SpecError.single(
        "invalid-value",
        f"{directory} holds several networks ({', '.join(model)}), not one model",
        hints=("netspec.load_networks(DIR) loads them as an nn.ModuleDict",),
    )


def load_networks(directory: str | os.PathLike[str]) -> torch.nn.ModuleDict:
    """The networks of a build (or training run) directory of a `networks:` spec, with their
    weights, in eval mode."""
    from torch import nn

    model = load_any_model(directory)
    if isinstance(model, nn.ModuleDict):
        return model
    raise SpecError.single(
        "invalid-value",
        f"{directory} holds one model, not several networks",
        hints=("netspec.load_model(DIR) loads it",),
    )


def load_any_model(directory: str | os.PathLike[str]) -> fx.GraphModule | torch.nn.ModuleDict:
    """The model of a build or run directory: a GraphModule, or an nn.ModuleDict of the
    networks of a `networks:` spec; with its weights, in eval mode."""
    from safetensors.torch import load_file

    from netspec.backend.build import build_model

    folder = Path(directory)
    spec_path, weights_path = folder / SPEC, folder / WEIGHTS
    for needed in (spec_path, weights_path):
        if not needed.is_file():
            raise SpecError.single(
                "file-not-found",
                f"{needed.name} is missing: {folder} is not a netspec build or run directory",
                hints=("create one with `netspec build SPEC -o DIR`",),
            )
    model = build_model(load_any(spec_path), max_params=None)
    load_weights(model, load_file(str(weights_path)), f"{weights_path} (for {spec_path})")
    return model.train(False)  # eval mode


def example_batch(spec: Spec, p: Plan, batch: int = 2) -> torch.Tensor:
    """A small random batch of the first input (see :func:`example_batches`)."""
    return example_batches(spec, p, batch)[0]


def example_batches(spec: Spec, p: Plan, batch: int = 2) -> tuple[torch.Tensor, ...]:
    """A small random batch per model input, for tracing and export checks (symbols sized
    8). Token ids avoid the padding id, so no sequence is all padding."""
    import torch

    from netspec.backend.build import example_inputs

    symbols = sorted(p.symbols())
    concrete_plan = plan(concrete(spec, dict.fromkeys(symbols, 8))) if symbols else p
    generator = torch.Generator().manual_seed(0)
    out = []
    for name, x in zip(concrete_plan.inputs, example_inputs(concrete_plan, batch), strict=True):
        if x.dtype == torch.int64:
            vocab = _vocabulary(concrete_plan, name)
            ids = torch.randint(0, vocab, tuple(x.shape), generator=generator)
            pad = concrete_plan.pad_ids.get(name)
            if pad is not None and vocab > 1:
                ids[ids == pad] = (pad + 1) % vocab
            out.append(ids)
        else:
            out.append(torch.randn(tuple(x.shape), generator=generator))
    return tuple(out)


def _vocabulary(p: Plan, input_name: str) -> int:
    """The smallest vocabulary of the embeddings that read this input (ids stay in range)."""
    sizes = [
        getattr(layer.config, "num_embeddings", None)
        for layer in p.layers
        if input_name in layer.inputs
    ]
    return min((s for s in sizes if isinstance(s, int)), default=2)


def _check_formats(formats: Sequence[str]) -> None:
    for fmt in formats:
        if fmt not in EXPORTERS:
            raise SpecError.single(
                "invalid-value",
                f"unknown export format {fmt!r}",
                expected=", ".join(EXPORT_FORMATS),
            )


def _missing_extra(module: str, extra: str) -> SpecError:
    return SpecError.single(
        "missing-extra",
        f"exporting needs the `{module}` package, which is not installed",
        hints=(f'install it with: pip install "netspec[{extra}]"',),
    )


Exporter = Callable[[Any, Spec, Plan], tuple[str, bytes, str | None]]


def _torchscript(model: Any, spec: Spec, p: Plan) -> tuple[str, bytes, str | None]:
    import io

    import torch

    xs = example_batches(spec, p)
    # Tracing, not scripting: forward is straight-line code, and tracing keeps the shape
    # arithmetic (x.shape[1]) dynamic while accepting our torch.nn subclasses.
    with torch.no_grad():
        traced = torch.jit.trace(model.train(False), xs, check_trace=False)  # type: ignore[no-untyped-call]
    buffer = io.BytesIO()
    torch.jit.save(traced, buffer)
    return "model.ts", buffer.getvalue(), None


def _export(model: Any, spec: Spec, p: Plan) -> tuple[str, bytes, str | None]:
    import io

    import torch

    xs = example_batches(spec, p, batch=2)  # a batch of 1 would specialise the batch dim
    batch = torch.export.Dim("batch", min=1)
    dynamic = tuple({0: batch} for _ in xs)
    program = torch.export.export(model.train(False), xs, dynamic_shapes=dynamic)
    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    return "model.pt2", buffer.getvalue(), None


def _onnx(model: Any, spec: Spec, p: Plan) -> tuple[str, bytes, str | None]:
    import importlib.util

    import torch

    for needed in ("onnx", "onnxscript"):
        if importlib.util.find_spec(needed) is None:
            raise _missing_extra(needed, "onnx")
    import onnx

    from netspec.backend.build import argument_names

    xs = example_batches(spec, p)
    inputs = list(argument_names(p).values())
    outputs = _onnx_output_names(p, inputs)
    batch = torch.export.Dim("batch", min=1)
    program = torch.onnx.export(
        model.train(False),
        xs,
        dynamo=True,
        input_names=inputs,
        output_names=outputs,
        dynamic_shapes=tuple({0: batch} for _ in xs),
        verbose=False,
    )
    if program is None:
        raise RuntimeError("netspec bug: torch.onnx.export returned no program")
    with tempfile.TemporaryDirectory() as tmp:
        program.save(Path(tmp) / "model.onnx")
        data = (Path(tmp) / "model.onnx").read_bytes()
    onnx.checker.check_model(onnx.load_from_string(data))
    return "model.onnx", data, _onnxruntime_check(data, model, dict(zip(inputs, xs, strict=True)))


def _onnx_output_names(p: Plan, inputs: list[str]) -> list[str]:
    """`y` for a spec's one output with its one `input:`, else the output layers' names; an
    output that is also an input is `<name>_output` (ONNX names each value once)."""
    if not p.named_inputs and len(p.output_names) == 1:
        return ["y"]
    return [f"{n}_output" if n in inputs else n.replace(".", "_") for n in p.output_names]


def _onnxruntime_check(data: bytes, model: Any, xs: dict[str, torch.Tensor]) -> str | None:
    """Compare onnxruntime's output with torch's when onnxruntime is installed."""
    import importlib.util

    import torch

    if importlib.util.find_spec("onnxruntime") is None:
        return "onnxruntime is not installed: model.onnx was checked, not run"
    import onnxruntime  # type: ignore[import-untyped]

    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    got = session.run(None, {name: x.numpy() for name, x in xs.items()})
    with torch.no_grad():
        want = model(*xs.values())
    wants = want if isinstance(want, tuple) else (want,)
    err = max(float(abs(g - w.numpy()).max()) for g, w in zip(got, wants, strict=True))
    # float32 rounding grows with the values: logits of a tied head reach the tens
    scale = max(1.0, *(float(abs(w).max()) for w in wants if w.numel()))
    if err > 1e-5 * scale:
        raise RuntimeError(f"netspec bug: onnxruntime differs from torch by {err:.2e}")
    return f"onnxruntime output equals torch's (max abs difference {err:.1e})"


EXPORTERS: dict[str, Exporter] = {
    "torchscript": _torchscript,
    "export": _export,
    "onnx": _onnx,
}
