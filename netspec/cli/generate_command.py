"""`netspec generate`: continue a prompt with a trained language-model run, streaming the text
to stdout as it is produced. netspec.training is imported inside the command: --help never
pays for torch."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from netspec.cli.app import run_command


def generate(
    run_dir: Annotated[
        Path,
        typer.Argument(
            metavar="RUN_DIR",
            help="A run of `task: language_model` (it holds tokenizer.json).",
        ),
    ],
    prompt: Annotated[
        str,
        typer.Option("--prompt", "-p", metavar="TEXT", help="The text to continue (may be empty)."),
    ] = "",
    max_new_tokens: Annotated[
        int,
        typer.Option("--max-new-tokens", "-n", metavar="N", help="Stop after N new tokens."),
    ] = 100,
    temperature: Annotated[
        float,
        typer.Option(
            "--temperature",
            "-t",
            metavar="T",
            help="Sampling temperature: 0 is greedy (the most likely token every time).",
        ),
    ] = 1.0,
    top_k: Annotated[
        int | None,
        typer.Option("--top-k", metavar="K", help="Sample among the K most likely tokens only."),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option("--seed", help="The sampling seed: the same seed, the same text."),
    ] = None,
    cache: Annotated[
        bool,
        typer.Option(
            "--cache/--no-cache",
            help="Reuse each layer's keys and values (on by default); --no-cache recomputes "
            "the whole window for every token (slower, the same tokens).",
        ),
    ] = True,
    echo: Annotated[
        bool,
        typer.Option("--echo/--no-echo", help="Print the prompt before its continuation."),
    ] = True,
    device: Annotated[
        str | None, typer.Option("--device", help="auto, cpu, cuda, cuda:1 or mps")
    ] = None,
) -> None:
    """Continue a prompt with a trained language model, printing the text as it comes: the
    prompt, then the new text up to <eos> or --max-new-tokens.

    Examples: `netspec generate runs/shakespeare --prompt "ROMEO:" -n 200 --seed 1`;
    `netspec generate runs/arith --prompt "12+30=" --temperature 0`.
    """

    def job() -> None:
        from netspec.training.textgen import check_settings, load_generator

        check_settings(max_new_tokens, temperature, top_k, seed)
        generator = load_generator(run_dir, cache=cache, device=device)
        # an unknown character is an error before anything prints
        tokens = len(generator.encode(prompt))
        if generator.note is not None:  # asked for the cache, cannot have it
            typer.echo(f"note: {generator.note}", err=True)
        context = generator.context
        if context is not None and tokens > context:
            typer.echo(
                f"note: the prompt has {tokens} tokens and the model's context {context}: "
                f"it continues from the last {context}",
                err=True,
            )
        out = sys.stdout
        if echo:
            out.write(prompt)
            out.flush()
        for piece in generator.stream(
            prompt,
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_k=top_k,
            seed=seed,
        ):
            out.write(piece)
            out.flush()
        out.write("\n")
        out.flush()

    run_command(job)
