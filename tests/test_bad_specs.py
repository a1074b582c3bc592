"""Every file in tests/bad_specs/ fails `netspec validate` with exit 2, no traceback, and
exactly the diagnostics in its golden `.expected` file.

Refresh the goldens after an intended change with NETSPEC_UPDATE_GOLDENS=1 and review the diff.
"""

from __future__ import annotations

import os
import pathlib

import pytest
from typer.testing import CliRunner

from netspec.cli.app import app

ROOT = pathlib.Path(__file__).parent.parent
BAD = sorted((ROOT / "tests" / "bad_specs").glob("*.yaml"))


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_spec_diagnostic(path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    relative = path.relative_to(ROOT).as_posix()
    result = CliRunner().invoke(app, ["validate", relative])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""
    golden = path.with_suffix(".expected")
    if os.environ.get("NETSPEC_UPDATE_GOLDENS"):
        golden.write_text(result.stderr, encoding="utf-8")
    assert result.stderr == golden.read_text(encoding="utf-8")
    assert result.stderr.startswith(relative)
