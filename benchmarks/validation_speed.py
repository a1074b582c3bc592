"""Validation speed: per-layer cost of `netspec validate` at 1k, 10k and 100k layers.

Five generated specs, each at every size n:

- ``valid``: input [64] and n entries written out one by one, alternating ``dense: 64`` and
  ``relu`` (accepted);
- ``unknown-type``: n entries ``- dnese: 64`` (n unknown-layer diagnostics, each with a
  did-you-mean);
- ``bad-from``: n dense layers, each ``from:`` a name that no layer has (n unknown-reference
  diagnostics, each a did-you-mean over every earlier name);
- ``invalid-value``: n entries ``- dense: -<k>`` (n invalid-value diagnostics);
- ``var-chain``: n vars, each ``${v<k-1> + 1}`` of the one above it, used by one dense layer
  (accepted).

For each, the in-process time of ``load_spec`` + ``plan`` (and, when the spec is refused,
rendering what the CLI prints, capped at ``MAX_SHOWN`` diagnostics) is reported as wall and
CPU totals and CPU per layer (or per var); a linear validator shows the same per-layer cost at
every size. Then ``netspec validate`` is run as a fresh process on the 10k specs. Timings are
the median of ``--runs`` runs.

Targets: the 10k-layer valid spec loads and plans in < 0.5 s of CPU time in process (the
command line adds the interpreter's and the imports' start-up), and no case costs more than
3x per layer at its largest size than at 10k (linear, not quadratic).
This is a script, not a test: ``python benchmarks/validation_speed.py [--runs 3]
[--sizes 1000,10000,100000] [--keep DIR] [--quick]``. It exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from netspec.errors import MAX_SHOWN, SpecError  # noqa: E402 (after the path above)
from netspec.plan import plan  # noqa: E402
from netspec.spec.load import load_spec  # noqa: E402

TARGET_S = 0.5  # the 10k-layer valid spec, in process (load + plan), CPU time
LINEAR_SLACK = 3.0  # per-layer cost at the largest size / at 10k


def valid(n: int) -> str:
    body = ("  - dense: 64" if i % 2 == 0 else "  - relu" for i in range(n))
    return "\n".join(["input: [64]", "layers:", *body]) + "\n"


def unknown_type(n: int) -> str:
    return "\n".join(["input: [64]", "layers:", *(["  - dnese: 64"] * n)]) + "\n"


def bad_from(n: int) -> str:
    body = (f"  - {{dense: 64, from: nope_{i}}}" for i in range(n))
    return "\n".join(["input: [64]", "layers:", *body]) + "\n"


def invalid_value(n: int) -> str:
    body = (f"  - dense: -{i + 1}" for i in range(n))
    return "\n".join(["input: [64]", "layers:", *body]) + "\n"


def var_chain(n: int) -> str:
    chain = (f"  v{i}: ${{v{i - 1} + 1}}" for i in range(1, n))
    lines = ["vars:", "  v0: 1", *chain, "input: [64]", "layers:", f"  - dense: ${{v{n - 1}}}"]
    return "\n".join(lines) + "\n"


CASES: dict[str, tuple[Callable[[int], str], bool]] = {
    "valid": (valid, True),
    "unknown-type": (unknown_type, False),
    "bad-from": (bad_from, False),
    "invalid-value": (invalid_value, False),
    "var-chain": (var_chain, True),
}


def validate_in_process(path: Path) -> bool:
    """What `netspec validate` does past start-up: load, plan, or render the (capped) errors."""
    try:
        plan(load_spec(path))
    except SpecError as exc:
        exc.render(MAX_SHOWN).encode()
        return False
    return True


def median_time(job: Callable[[], object], runs: int) -> tuple[float, float]:
    """Median wall and CPU seconds. On a shared machine the wall time also counts other
    processes' turns; the CPU time of this process is the steadier figure."""
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        job()
        cpus.append(time.process_time() - cpu)
        walls.append(time.perf_counter() - wall)
    return statistics.median(walls), statistics.median(cpus)


def cli_time(path: Path, runs: int, accept: bool) -> float:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "netspec", "validate", str(path)]
    walls = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, env=env, check=False)
        walls.append(time.perf_counter() - start)
        if proc.returncode != (0 if accept else 2):
            raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr[-500:]!r}")
    return statistics.median(walls)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated sizes")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated case names")
    parser.add_argument("--keep", type=Path, help="write the generated specs here and keep them")
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: 200 and 800 layers, one run each"
    )
    opts = parser.parse_args()
    if opts.quick:
        opts.sizes, opts.runs = "200,800", 1
    sizes = [int(s) for s in opts.sizes.split(",")]
    cli_layers = min(10_000, max(sizes))
    names = opts.cases.split(",")
    missed = 0
    with tempfile.TemporaryDirectory(prefix="netspec-bench-") as tmp:
        folder = opts.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        print(f"netspec validation speed: {sys.executable}, median of {opts.runs} runs")
        header = f"{'case':<15}" + "".join(f"{f'{n:,} layers':>24}" for n in sizes)
        print(f"\nin process: wall s / CPU s (CPU us per layer)\n{header}")
        per_layer: dict[str, dict[int, float]] = {}
        for name in names:
            make, accept = CASES[name]
            row = f"{name:<15}"
            per_layer[name] = {}
            for n in sizes:
                path = folder / f"{name}_{n}.yaml"
                path.write_text(make(n), encoding="utf-8")
                if validate_in_process(path) != accept:
                    raise RuntimeError(f"{path} was {'refused' if accept else 'accepted'}")
                wall, cpu = median_time(lambda p=path: validate_in_process(p), opts.runs)
                per_layer[name][n] = cpu / n
                row += f"{wall:>7.2f} /{cpu:>6.2f} ({cpu / n * 1e6:>6.1f})"
            print(row)
        if 10_000 in sizes:
            cpu = per_layer["valid"][10_000] * 10_000 if "valid" in per_layer else 0.0
            ok = "ok" if cpu < TARGET_S else "MISSED"
            missed += ok == "MISSED"
            print(f"valid, 10,000 layers, CPU: {cpu:.3f} s (target < {TARGET_S} s) {ok}")
        print(f"\ncommand line: netspec validate, {cli_layers:,} layers, wall s (with start-up)")
        for name in names:
            make, accept = CASES[name]
            path = folder / f"{name}_cli.yaml"
            path.write_text(make(cli_layers), encoding="utf-8")
            print(f"{name:<15}{cli_time(path, opts.runs, accept):>7.2f} s")
        if 10_000 in sizes and max(sizes) > 10_000:
            top = max(sizes)
            print(f"\nlinearity: per-layer cost at {top:,} / at 10,000 (target < {LINEAR_SLACK})")
            for name in names:
                ratio = per_layer[name][top] / per_layer[name][10_000]
                ok = "ok" if ratio < LINEAR_SLACK else "MISSED"
                missed += ok == "MISSED"
                print(f"{name:<15}{ratio:>7.2f}  {ok}")
    print("\nall targets met" if not missed else f"\n{missed} target(s) missed")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
