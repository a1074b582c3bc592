"""The commands that read a spec and never train: validate, summary, build, schema, graph.

validate, summary, schema and graph never import torch (build does, inside its job), so they
answer in a fraction of a second.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from netspec.cli.app import SetOption, SpecArg, emit, load_any_arg, run_command
from netspec.errors import MAX_SHOWN, Diagnostic, ExitCode, SpecError, printable
from netspec.spec.networks import Networks


def validate(
    spec: SpecArg,
    overrides: SetOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    max_params: Annotated[
        int | None,
        typer.Option("--max-params", help="Also refuse a spec with more parameters than this."),
    ] = None,
) -> None:
    """Check a spec: schema, names, references and every shape. Exit 0 if valid, 2 if not.

    Never imports torch, so it answers in a fraction of a second.
    """
    from netspec.plan import check_budget, plan, warnings

    def job() -> None:
        try:
            loaded = load_any_arg(spec, overrides)
            if isinstance(loaded, Networks):
                return _validate_networks(spec, loaded, as_json)
            p = plan(loaded)
            check_budget(p, max_params, loaded.source.file)
            if loaded.tune is not None and spec != "-":  # every corner of the search space
                from netspec.spec.tune import check_tune_of

                check_tune_of(spec, plan, overrides or ())
        except SpecError as exc:
            if not as_json:
                raise
            errors = [d.to_json() for d in exc.diagnostics]
            typer.echo(json.dumps({"valid": False, "errors": errors}))
            typer.echo(exc.render(MAX_SHOWN), err=True)
            raise typer.Exit(ExitCode.USER_ERROR) from None
        found = warnings(loaded, p)
        _echo_warnings(found)
        if as_json:
            result = {
                "valid": True,
                "name": p.name,
                "layers": len(p.layers),
                "total_params": p.total_params,
                "warnings": [w.to_json() for w in found],
            }
            typer.echo(json.dumps(result))
        else:
            typer.echo(
                f"ok: {printable(spec)}: {printable(p.name)}, {_plural(len(p.layers), 'layer')}, "
                f"{_plural(p.total_params, 'parameter')}"
            )

    run_command(job)


def summary(
    spec: SpecArg,
    overrides: SetOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object instead of the table.")
    ] = False,
    batch_size: Annotated[
        int | None,
        typer.Option(
            "--batch-size",
            "-b",
            min=1,
            help="Batch size for activation memory (default: train.batch_size, else 1).",
        ),
    ] = None,
) -> None:
    """Per-layer shapes, parameters and MACs, with totals and memory. Never allocates."""
    from netspec.plan import network_warnings, plan, plan_networks, warnings
    from netspec.render.summary import (
        networks_summary_json,
        networks_summary_text,
        summary_json,
        summary_text,
    )

    def job() -> None:
        loaded = load_any_arg(spec, overrides)
        batch = batch_size or (loaded.train.batch_size if loaded.train else 1)
        if isinstance(loaded, Networks):
            plans = plan_networks(loaded)
            _echo_warnings(network_warnings(loaded, plans))
            if as_json:
                data = networks_summary_json(loaded.name, plans, batch)
                sys.stdout.write(json.dumps(data) + "\n")
            else:
                text = networks_summary_text(loaded.name, plans, batch)
                sys.stdout.write(_rules_for_terminal(text))
            return
        p = plan(loaded)
        _echo_warnings(warnings(loaded, p))
        if as_json:
            sys.stdout.write(json.dumps(summary_json(p, batch)) + "\n")
        else:
            sys.stdout.write(_rules_for_terminal(summary_text(p, batch)))

    run_command(job)


def build(
    spec: SpecArg,
    overrides: SetOption = None,
    out: Annotated[
        Path, typer.Option("--out", "-o", metavar="DIR", help="Directory to write the build into.")
    ] = Path("build"),
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed for the initial weights (reproducible).")
    ] = None,
    formats: Annotated[
        list[str] | None,
        typer.Option(
            "--format",
            "-f",
            metavar="FORMAT",
            help="Also export: torchscript (model.ts), export (model.pt2, torch.export), "
            "onnx (model.onnx). Repeat for several.",
        ),
    ] = None,
    max_params: Annotated[
        int | None,
        typer.Option(
            "--max-params",
            help="Refuse models with more parameters (default 1e9 or NETSPEC_MAX_PARAMS; "
            "0 = no limit).",
        ),
    ] = None,
) -> None:
    """Build the model: weights, standalone PyTorch source, resolved spec, summary, exports.

    Writes model.py (plain PyTorch, imports torch only), model.safetensors, spec.yaml (vars,
    blocks and repeats expanded) and summary.txt into the --out directory. A spec of several
    networks gets a class per network in model.py and an export per network (generator.onnx).
    """
    from netspec.backend.artifacts import build_directory
    from netspec.plan import max_params_default

    def job() -> None:
        loaded = load_any_arg(spec, overrides)
        budget = max_params_default() if max_params is None else max_params
        origin = None if spec == "-" else Path(spec).name
        result = build_directory(
            loaded, out, seed=seed, formats=formats or (), max_params=budget, origin=origin
        )
        for path in result.files:
            typer.echo(f"wrote {path}")
        for note in result.notes:
            typer.echo(note)

    run_command(job)


def schema(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
    ] = None,
) -> None:
    """Print the JSON Schema of the spec language (for yaml-language-server and editors).

    Put `# yaml-language-server: $schema=<path to netspec.schema.json>` on a spec's first line.
    """
    from netspec.render.schema import schema_text

    run_command(lambda: emit(schema_text(), output))


_GRAPH_SUFFIXES = {".mmd": "mermaid", ".md": "mermaid", ".dot": "dot", ".gv": "dot", ".svg": "svg"}


def _graph_format(value: str | None) -> str | None:
    if value is not None and value not in ("mermaid", "dot", "svg"):
        raise typer.BadParameter(f"{value!r} is not one of: mermaid, dot, svg")
    return value


def graph(
    spec: SpecArg,
    overrides: SetOption = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to this file instead of stdout."),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            metavar="mermaid|dot|svg",
            callback=_graph_format,
            help="Default: from the -o suffix (.mmd/.md mermaid, .dot/.gv dot, .svg svg), "
            "else mermaid.",
        ),
    ] = None,
) -> None:
    """A picture of the layer graph, shapes on the edges: Mermaid, Graphviz DOT or SVG.

    Never imports torch. SVG runs Graphviz's `dot -Tsvg`; a .md output is wrapped in a code
    fence (```mermaid renders on GitHub). A spec of several networks shows each network in a
    box of its own.
    """
    import shutil

    from netspec.plan import network_warnings, plan, plan_networks, warnings
    from netspec.render.graph import dot, mermaid, networks_dot, networks_mermaid, svg

    suffix = output.suffix.lower() if output is not None else ""
    chosen = fmt or _GRAPH_SUFFIXES.get(suffix, "mermaid")

    def job() -> None:
        executable = shutil.which("dot") if chosen == "svg" else None
        if chosen == "svg" and executable is None:
            typer.echo(
                "error: --format svg needs the `dot` executable of Graphviz, and it is not on "
                "PATH\n  hint: install graphviz (apt-get install graphviz, brew install graphviz, "
                "conda install graphviz), or use --format dot or --format mermaid",
                err=True,
            )
            raise typer.Exit(ExitCode.USER_ERROR)
        loaded = load_any_arg(spec, overrides)
        if isinstance(loaded, Networks):
            plans = plan_networks(loaded)
            _echo_warnings(network_warnings(loaded, plans))
            dot_text = networks_dot(loaded.name, plans)
            mermaid_text = networks_mermaid(loaded.name, plans)
        else:
            p = plan(loaded)
            _echo_warnings(warnings(loaded, p))
            dot_text, mermaid_text = dot(p), mermaid(p)
        if executable is not None:
            text = svg(dot_text, executable)
        else:
            text = dot_text if chosen == "dot" else mermaid_text
            if suffix == ".md":
                text = f"```{chosen}\n{text}```\n"
        emit(text, output)

    run_command(job)


def _rules_for_terminal(text: str) -> str:
    """The table's rules in ASCII when the terminal's encoding has no box-drawing line."""
    try:
        "─".encode(sys.stdout.encoding or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return text.replace("─", "-")
    return text


def _validate_networks(spec: str, loaded: Networks, as_json: bool) -> None:
    """validate's report of a spec of several networks (errors raise as for one)."""
    from netspec.plan import network_warnings, plan_networks

    plans = plan_networks(loaded)
    found = network_warnings(loaded, plans)
    _echo_warnings(found)
    total = sum(p.total_params for p in plans.values())
    if as_json:
        result = {
            "valid": True,
            "name": loaded.name,
            "networks": {
                n: {"layers": len(p.layers), "total_params": p.total_params}
                for n, p in plans.items()
            },
            "total_params": total,
            "warnings": [w.to_json() for w in found],
        }
        typer.echo(json.dumps(result))
        return
    each = ", ".join(f"{printable(n)} {_plural(len(p.layers), 'layer')}" for n, p in plans.items())
    typer.echo(
        f"ok: {printable(spec)}: {printable(loaded.name)}, {_plural(len(plans), 'network')} "
        f"({each}), {_plural(total, 'parameter')}"
    )


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def _echo_warnings(found: Sequence[Diagnostic]) -> None:
    """Warnings on stderr, capped like errors: a spec with thousands of unused layers must not
    flood the terminal (``--json`` still lists them all)."""
    for warning in found[:MAX_SHOWN]:
        typer.echo(warning.render(), err=True)
    if len(found) > MAX_SHOWN:
        typer.echo(f"and {len(found) - MAX_SHOWN:,} more warnings", err=True)
