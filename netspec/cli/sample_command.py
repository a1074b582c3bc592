"""`netspec sample`: draw new samples from a trained GAN (or autoencoder) run, as an array or
a picture. netspec.training is imported inside the command: --help never pays for torch."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from netspec.cli.app import run_command
from netspec.errors import SpecError

if TYPE_CHECKING:
    from numpy.typing import NDArray

SUFFIXES = (".npy", ".png")


def sample(
    run_dir: Annotated[
        Path,
        typer.Argument(
            metavar="RUN_DIR",
            help="A run of a GAN (networks generator and discriminator) or of an autoencoder "
            "of two networks (encoder and decoder).",
        ),
    ],
    count: Annotated[
        int, typer.Option("-n", "--count", metavar="K", help="How many samples to draw.")
    ] = 64,
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="out.npy: an array (K, *sample shape); out.png: a picture (an image grid, "
            "or a scatter of the first two features).",
        ),
    ] = Path("samples.png"),
    seed: Annotated[
        int, typer.Option("--seed", help="The noise's seed: the same seed, the same samples.")
    ] = 0,
    device: Annotated[
        str | None, typer.Option("--device", help="auto, cpu, cuda, cuda:1 or mps")
    ] = None,
) -> None:
    """Draw K new samples from a trained run: noise z ~ N(0, 1) through its generator (or
    decoder), in the data's units (the run's standardization undone).

    Examples: `netspec sample runs/moons -n 1000 -o moons.npy`;
    `netspec sample runs/digits -n 64 -o digits.png --seed 3`.
    """

    def job() -> None:
        from netspec.cli.train_commands import write_bytes

        suffix = output.suffix.lower()
        if suffix not in SUFFIXES:
            raise SpecError.single(
                "invalid-value",
                f"cannot write samples to {output}: the name ends in .npy (an array) or .png "
                "(a picture)",
                expected=", ".join(SUFFIXES),
            )
        if count < 1:
            raise SpecError.single(
                "invalid-value", f"-n is the number of samples, 1 or more, not {count}"
            )
        from netspec.training.generate import generate

        samples = generate(run_dir, count, seed=seed, device=device)
        if suffix == ".npy":
            write_bytes(output, _npy(samples.numpy()))
        else:
            from netspec.training.samples import samples_png

            write_bytes(output, samples_png(samples, None, f"{run_dir.name}: {count} samples"))

    run_command(job)


def _npy(array: NDArray[Any]) -> bytes:
    import io

    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()
