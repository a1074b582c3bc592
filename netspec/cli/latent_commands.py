"""The commands on an autoencoder's latent space: encode. netspec.training is imported inside
the command: --help never pays for torch."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from netspec.cli.app import emit, run_command
from netspec.errors import Location, SpecError


def encode(
    run_dir: Annotated[
        Path,
        typer.Argument(
            metavar="RUN_DIR",
            help="A netspec train run of an autoencoder written as `networks: {encoder, decoder}`.",
        ),
    ],
    inputs: Annotated[
        Path,
        typer.Argument(
            metavar="INPUT",
            help="Samples to encode: a .npy, .csv or .npz file, read as `netspec predict` "
            "reads it.",
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="codes.npy (an array (n, *code shape)) or codes.csv (one row per sample: "
            "code_0, code_1, ...); default: CSV on stdout.",
        ),
    ] = None,
) -> None:
    """Encode samples with a trained autoencoder's encoder: the latent code of each.

    INPUT holds raw samples like the training data; the run's scaling and the encoder's input
    shape are applied, then the encoder runs in eval mode. A variational autoencoder's code is
    the mean of its latent distribution (reparameterize returns the mean in eval). The run
    must hold an `encoder` network: write the autoencoder as `networks: {encoder, decoder}`.
    """

    def job() -> None:
        from netspec.cli.predictions import codes_csv, codes_npy, read_inputs
        from netspec.cli.train_commands import write_bytes
        from netspec.training import encode as run_encode

        if output is not None and output.suffix not in (".npy", ".csv"):
            raise SpecError.single(
                "invalid-value",
                "codes are written as .npy or .csv",
                location=Location(str(output)),
                hints=("name the output codes.npy or codes.csv",),
            )
        codes = run_encode(run_dir, read_inputs(inputs))
        if output is not None and output.suffix == ".npy":
            write_bytes(output, codes_npy(codes))
        else:
            emit(codes_csv(codes), output)

    run_command(job)
