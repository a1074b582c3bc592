"""A large fuzz budget over the spec path: ``python benchmarks/fuzz.py --mutants 25000 --seed 1``.

Runs the mutation engine of tests/fuzzing.py (mutants of specs/ and the docs' YAML blocks,
through load, plan, summaries and graphs) and prints the counts by outcome, then each kind of
finding once with its shortest mutant: ``bug`` (an exception other than SpecError),
``unescaped`` (printed text holding a control character) and ``slow`` (over a second).
``--cli N`` also runs N mutants through `netspec validate`, `summary` and `graph` (``cli ok``:
exit 0 or 2, nothing unescaped). Exits 1 on a bug or unescaped finding; slow mutants are only
reported.

Run it niced on a shared machine: ``nice python benchmarks/fuzz.py ...``.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from fuzzing import Outcome, Report, check, run, run_cli, sweep  # noqa: E402  (tests/ is not a package)

DEEP = re.compile(r"(?:\[|\{a: ){50}")


def signature(kind: str, detail: str, mutant: str) -> str:
    """What groups findings of one cause: the exception and netspec's last frame."""
    if kind.endswith("slow"):
        deep = " (nested 50 levels or more)" if DEEP.search(mutant) else ""
        return f"slower than a second{deep}"
    if kind.endswith("unescaped"):
        return detail.splitlines()[0][:100] if detail else ""
    frames = re.findall(r'File "[^"]*/(netspec/[^"]+)", line (\d+), in (\w+)', detail)
    lines = [line for line in detail.strip().splitlines() if line and not line.startswith(" ")]
    where = ":".join(frames[-1]) if frames else "outside netspec"
    return f"{lines[-1][:100] if lines else detail[:100]} at {where}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=int, default=25_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--show", type=int, default=400, help="characters of each mutant shown")
    parser.add_argument(
        "--cli", type=int, default=0, help="also run this many mutants through the CLI"
    )
    parser.add_argument(
        "--sweep",
        action="store_true",
        help="also replace every node of every seed by null, {}, [], '', 0, -1, ... in turn",
    )
    args = parser.parse_args()

    start = time.perf_counter()
    slowest: list[tuple[float, str]] = []

    def progress(n: int, mutant: str, outcome: Outcome) -> None:
        slowest.append((outcome.seconds, mutant))
        if len(slowest) > 50:
            slowest.sort(reverse=True)
            del slowest[5:]
        if (n + 1) % 1000 == 0:
            print(f"  {n + 1:,} mutants, {time.perf_counter() - start:.0f} s", file=sys.stderr)

    report = run(args.mutants, args.seed, progress)
    if args.sweep:
        swept = Report()
        for n, mutant in enumerate(sweep()):
            outcome = check(mutant)
            swept.add(mutant, outcome)
            progress(n, mutant, outcome)
        report.counts.update({f"sweep {kind}": count for kind, count in swept.counts.items()})
        report.findings += [(f"sweep {kind}", m, d) for kind, m, d in swept.findings]
    if args.cli:
        with tempfile.TemporaryDirectory() as folder:
            cli = run_cli(args.cli, args.seed, Path(folder))
        report.counts.update({f"cli {kind}": count for kind, count in cli.counts.items()})
        report.findings += [(f"cli {kind}", m, d) for kind, m, d in cli.findings]
    elapsed = time.perf_counter() - start
    print(
        f"{args.mutants:,} mutants in process{' and a sweep' if args.sweep else ''}, "
        f"{args.cli:,} through the CLI, "
        f"seed {args.seed}, {elapsed:.0f} s"
    )
    kinds = ("ok", "spec-error", "bug", "unescaped", "slow")
    extra = [f"{part} {k}" for part in ("sweep", "cli") for k in kinds]
    for kind in [*kinds, *(k for k in extra if k in report.counts)]:
        print(f"  {kind:<15}{report.counts.get(kind, 0):>8,}")
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for kind, mutant, detail in report.findings:
        groups[(kind, signature(kind, detail, mutant))].append(mutant)
    for (kind, sig), mutants in sorted(groups.items(), key=lambda g: -len(g[1])):
        shortest = min(mutants, key=len)
        print(f"\n[{kind}] x{len(mutants)}: {sig}\n  {shortest[: args.show]!r}")
    slowest.sort(reverse=True)
    print("\nslowest mutants:")
    for seconds, mutant in slowest[:5]:
        print(f"  {seconds:6.2f} s  {mutant[:120]!r}")
    failed = [kind for kind in report.counts if kind.endswith(("bug", "unescaped"))]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
