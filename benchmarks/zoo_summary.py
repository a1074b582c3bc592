"""Gallery speed: `netspec summary` of every spec in specs/zoo/, against the 1 s target.

Each spec (ResNet-18 and -50, VGG-16, DenseNet-121, ...: up to 426 layers and 138 million
parameters) is summarized by a fresh ``sys.executable -m netspec summary SPEC`` process, as a
user runs it; the best wall time of ``--runs`` runs is reported, start-up included, beside
the bare interpreter's start-up for scale. One ``summary --json`` run per spec gives the
layer count, parameters and MACs shown in the table (tests/test_zoo.py checks them against
the published figures).

Target: every summary < 1 s. This is a script, not a test:
``python benchmarks/zoo_summary.py [--runs 5] [--quick]``; ``--quick`` is a smoke run (one
run each, targets shown but not judged). It exits 1 when a target is missed or a command fails.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ZOO = REPO / "specs" / "zoo"
TARGET_S = 1.0


def run(args: list[str]) -> tuple[float, str]:
    """Wall time and stdout of one fresh process; a failure is an error, not a time."""
    start = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, cwd=REPO, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"`{' '.join(args)}` exited {proc.returncode}:\n{proc.stderr}")
    return wall, proc.stdout


def best_wall(args: list[str], runs: int) -> float:
    return min(run(args)[0] for _ in range(runs))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per spec (best is kept)")
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: one run each, targets not judged"
    )
    opts = parser.parse_args()
    runs = 1 if opts.quick else opts.runs
    specs = sorted(ZOO.glob("*.yaml"))
    if not specs:
        raise RuntimeError(f"no specs in {ZOO}")

    floor = best_wall([sys.executable, "-c", "pass"], runs)
    print(f"netspec summary of the model gallery: {sys.executable}, best of {runs} run(s)")
    header = (
        f"{'spec':<16}{'layers':>7}{'params':>14}{'MACs':>10}"
        f"{'wall (best)':>14}{'target':>9}{'':>8}"
    )
    print(header)
    print("-" * len(header))
    print(f"{'python -c pass':<47}{floor:>12.3f} s   (interpreter start-up, for scale)")
    missed = 0
    for path in specs:
        command = [sys.executable, "-m", "netspec", "summary"]
        summary = json.loads(run([*command, "--json", str(path)])[1])
        wall = best_wall([*command, str(path)], runs)
        verdict = "ok" if wall < TARGET_S else "MISSED"
        if opts.quick:
            verdict = "(quick)"
        missed += verdict == "MISSED"
        row = (
            f"{path.stem:<16}{len(summary['layers']):>7}{summary['total_params']:>14,}"
            f"{summary['macs'] / 1e9:>8.2f} G{wall:>12.3f} s{f'< {TARGET_S:g} s':>9}{verdict:>8}"
        )
        print(row)
    if opts.quick:
        print("quick run: targets not judged")
    else:
        print("all targets met" if not missed else f"{missed} target(s) missed")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
