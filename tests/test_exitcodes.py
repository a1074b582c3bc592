"""Exit codes: one enum for the CLI and the launcher; docs/cli.md's table is generated from it."""

from __future__ import annotations

import pathlib
import signal
from types import SimpleNamespace

import pytest

from netspec.errors import ExitCode, killed_by_signal
from netspec.render import exitcodes

ROOT = pathlib.Path(__file__).parent.parent


def test_the_codes_users_script_against_stay_fixed() -> None:
    assert {c.name: int(c) for c in ExitCode} == {
        "OK": 0,
        "INTERNAL_ERROR": 1,
        "USER_ERROR": 2,
        "DIVERGED": 3,
        "PEER_LOST": 4,
        "INTERRUPTED": 130,
    }
    assert killed_by_signal(signal.SIGKILL) == 137
    assert killed_by_signal(signal.SIGINT) == ExitCode.INTERRUPTED


def test_every_code_has_a_one_line_description() -> None:
    for code in ExitCode:
        assert code.description
        assert "\n" not in code.description


def test_committed_cli_page_has_the_current_table() -> None:
    page = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert exitcodes.exit_codes_markdown() in page, "run: python -m netspec.render.exitcodes"
    for code in ExitCode:
        assert f"| {int(code)} | {code.description} |" in page


def test_check_finds_a_stale_table_and_writing_fixes_it(tmp_path: pathlib.Path) -> None:
    page = tmp_path / "cli.md"
    page.write_text(f"# CLI\n\n{exitcodes.BEGIN}\n| 9 | old |\n{exitcodes.END}\n\nafter\n")
    assert exitcodes.main([str(page), "--check"]) == 1
    assert exitcodes.main([str(page)]) == 0
    assert exitcodes.main([str(page), "--check"]) == 0
    text = page.read_text()
    assert "| 9 | old |" not in text
    assert text.startswith("# CLI\n\n")
    assert text.endswith("\n\nafter\n")
    assert "| 128 + N |" in text


def test_a_page_without_the_markers_is_refused() -> None:
    with pytest.raises(ValueError, match="exit-code markers are missing"):
        exitcodes.with_exit_codes("# CLI\n")


def test_launcher_reports_a_killed_worker_by_the_signal_rule() -> None:
    from netspec.training.launch import _exit_status

    failure = SimpleNamespace(exitcode=-signal.SIGKILL, timestamp=1)
    lost = SimpleNamespace(exitcode=int(ExitCode.PEER_LOST), timestamp=0)
    failed = SimpleNamespace(failures={0: lost, 1: failure})
    assert _exit_status(failed) == killed_by_signal(signal.SIGKILL)
    assert _exit_status(SimpleNamespace(failures={})) == ExitCode.INTERNAL_ERROR
