"""The command line: the only place that prints, reads flags or sets exit codes."""

from __future__ import annotations

from netspec.cli import (
    generate_command,
    latent_commands,
    sample_command,
    spec_commands,
    train_commands,
    tune_command,
)
from netspec.cli.app import app, main

# Registered here, in one list, so that --help shows the commands in this order: the app
# module cannot import the command modules, which import its policy and shared arguments.
for _command in (
    spec_commands.validate,
    spec_commands.summary,
    spec_commands.build,
    train_commands.train,
    train_commands.evaluate,
    train_commands.predict,
    tune_command.tune,
    latent_commands.encode,
    sample_command.sample,
    generate_command.generate,
    spec_commands.schema,
    spec_commands.graph,
):
    app.command()(_command)

__all__ = ["app", "main"]
