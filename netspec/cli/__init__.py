"""The command line: the only place that prints, reads flags or sets exit codes."""

from __future__ import annotations

from netspec.cli.app import app, main

__all__ = ["app", "main"]
