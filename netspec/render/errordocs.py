"""docs/errors.md, generated: every diagnostic code with what it means and real examples.

The examples are the bad specs of the test suite (tests/bad_specs/*.yaml) with the exact
output their golden files hold, so the catalogue can never drift from what users see.
Regenerate with ``python -m netspec.render.errordocs``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path

from netspec.errors import ERROR_CODES

DEFAULT_PATH = Path("docs") / "errors.md"
EXAMPLES = Path("tests") / "bad_specs"
_CODE = re.compile(r"^\S+: (?:error|warning)\[([a-z-]+)\]", re.M)


def errors_markdown(examples: Path = EXAMPLES) -> str:
    by_code: dict[str, list[Path]] = {}
    for spec in sorted(examples.glob("*.yaml")):
        expected = spec.with_suffix(".expected").read_text(encoding="utf-8")
        for code in dict.fromkeys(_CODE.findall(expected)):
            by_code.setdefault(code, []).append(spec)
    lines = [
        "# Error catalogue",
        "",
        "Every mistake netspec can report, by code. A diagnostic names the file, line and",
        "column, the YAML path, what was received and expected, and a hint where one helps;",
        "the CLI exits with code 2 and never prints a traceback for one. Warnings (such as",
        "`unused-layer`) are printed on stderr but leave the exit code at 0.",
        "",
        "Generated from `netspec.errors.ERROR_CODES` and the test suite's bad specs",
        "(`python -m netspec.render.errordocs`); the output below is exactly what",
        "`netspec validate` prints.",
        "",
        "| code | meaning |",
        "|---|---|",
        *(f"| [`{code}`](#{code}) | {meaning} |" for code, meaning in ERROR_CODES.items()),
        "",
    ]
    for code, meaning in ERROR_CODES.items():
        lines += [f"## {code}", "", meaning[:1].upper() + meaning[1:] + ".", ""]
        for spec in by_code.get(code, []):
            output = spec.with_suffix(".expected").read_text(encoding="utf-8").rstrip("\n")
            lines += [
                f"`{spec.name}`:",
                "",
                "```text",
                spec.read_text(encoding="utf-8").rstrip("\n") or "(an empty file)",
                "```",
                "",
                "```text",
                f"$ netspec validate {spec.as_posix()}",
                output,
                "```",
                "",
            ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m netspec.render.errordocs [--check]``: write (or check) docs/errors.md."""
    args = list(sys.argv[1:] if argv is None else argv)
    text = errors_markdown()
    if "--check" in args:
        current = DEFAULT_PATH.read_text(encoding="utf-8") if DEFAULT_PATH.exists() else ""
        return 0 if current == text else 1
    DEFAULT_PATH.write_text(text, encoding="utf-8")
    sys.stderr.write(f"wrote {DEFAULT_PATH}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
