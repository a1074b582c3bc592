"""CLI speed and memory: `netspec validate` / `summary` on a 10,000-layer spec and on GPT-3.

Generates two specs in a temporary directory:

- ``deep_10k.yaml``: input [64] and 10,000 entries written out one by one, alternating
  ``dense: 64`` and ``relu``;
- ``gpt3_175b.yaml``: GPT-3 175B's shape (Brown et al. 2020, table 2.1): 2,048 token ids,
  a 50,257 x 12,288 embedding, learned positions, 96 transformer layers of 96 heads
  (``repeat: 96``), a final layernorm and an untied 50,257-way head,

then runs each command as a fresh subprocess (``sys.executable -m netspec ...``) and reports the
best wall time of ``--runs`` runs and the child's peak RSS. Every run goes through a small
wrapper process whose only child is the command, so ``getrusage(RUSAGE_CHILDREN).ru_maxrss``
in the wrapper is that one command's peak, not the largest of all runs so far.

Targets: validate and summary of 10k layers < 1 s each; GPT-3 summary < 2 s and < 300 MB.
This is a script, not a test: ``python benchmarks/cli_speed.py [--runs 3] [--keep DIR]``.
It exits 1 when a target is missed or a command fails.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MB = 1_000_000

# Runs one command and prints {"rc", "wall_s", "maxrss_bytes", "stdout", "stderr"} as JSON.
# Linux reports ru_maxrss in KiB, macOS in bytes.
_WRAPPER = r"""
import json, resource, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)
wall = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
rss = rss if sys.platform == "darwin" else rss * 1024
print(json.dumps({"rc": proc.returncode, "wall_s": wall, "maxrss_bytes": rss,
                  "stdout": proc.stdout, "stderr": proc.stderr}))
"""

GPT3_SPEC = """\
name: gpt3_175b
description: GPT-3 175B's shape (96 layers, d_model 12288, 96 heads, context 2048).
input: {shape: [2048], dtype: int64}
layers:
  - embedding: {num_embeddings: 50257, embedding_dim: 12288}
  - positional_encoding: {kind: learned, max_len: 2048}
  - transformer_encoder: {num_heads: 96, dim_feedforward: 49152, dropout: 0.0, causal: true,
                          repeat: 96}
  - layernorm
  - dense: {units: 50257, bias: false}
"""

# 12 E^2 + 13 E per transformer layer (E = 12288, F = 4E), embedding and head V E each,
# learned positions 2048 E, final layernorm 2E.
_E, _V = 12288, 50257
GPT3_EXPECTED_PARAMS = 96 * (12 * _E * _E + 13 * _E) + 2 * _V * _E + 2048 * _E + 2 * _E


def deep_spec(layers: int = 10_000) -> str:
    lines = ["name: deep_10k", "input: [64]", "layers:"]
    for i in range(layers):
        lines.append("  - dense: 64" if i % 2 == 0 else "  - relu")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Run:
    wall_s: float
    maxrss_bytes: int
    stdout: str


@dataclass(frozen=True)
class Case:
    label: str
    args: tuple[str, ...]
    max_wall_s: float | None = None
    max_rss_bytes: int | None = None


def run_once(args: tuple[str, ...]) -> Run:
    cmd = [sys.executable, "-c", _WRAPPER, sys.executable, "-m", "netspec", *args]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, check=True)
    result = json.loads(out.stdout)
    if result["rc"] != 0:
        raise RuntimeError(f"`netspec {' '.join(args)}` exited {result['rc']}:\n{result['stderr']}")
    return Run(result["wall_s"], result["maxrss_bytes"], result["stdout"])


def best_of(args: tuple[str, ...], runs: int) -> tuple[Run, int]:
    """The fastest run, and the largest peak RSS seen over all runs."""
    results = [run_once(args) for _ in range(runs)]
    return min(results, key=lambda r: r.wall_s), max(r.maxrss_bytes for r in results)


def startup(runs: int) -> float:
    """Wall time of a bare interpreter start: the floor under every CLI time."""
    cmd = [sys.executable, "-c", _WRAPPER, sys.executable, "-c", "pass"]
    walls: list[float] = []
    for _ in range(runs):
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        walls.append(float(json.loads(out.stdout)["wall_s"]))
    return min(walls)


def verdict(value: float, limit: float | None) -> str:
    if limit is None:
        return ""
    return "ok" if value < limit else "MISSED"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per command (best is kept)")
    parser.add_argument("--keep", type=Path, help="write the generated specs here and keep them")
    opts = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="netspec-bench-") as tmp:
        folder = opts.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        deep, gpt3 = folder / "deep_10k.yaml", folder / "gpt3_175b.yaml"
        deep.write_text(deep_spec(), encoding="utf-8")
        gpt3.write_text(GPT3_SPEC, encoding="utf-8")
        cases = [
            Case("validate  10k layers", ("validate", str(deep)), max_wall_s=1.0),
            Case("summary   10k layers", ("summary", str(deep)), max_wall_s=1.0),
            Case("validate  GPT-3 175B", ("validate", str(gpt3))),
            Case(
                "summary   GPT-3 175B",
                ("summary", str(gpt3)),
                max_wall_s=2.0,
                max_rss_bytes=300 * MB,
            ),
            Case("summary --json GPT-3", ("summary", "--json", str(gpt3))),
        ]
        floor = startup(opts.runs)
        header = (
            f"{'command':<22}{'wall (best)':>12}{'target':>9}{'':>8}{'peak RSS':>11}{'target':>10}"
        )
        print(f"netspec CLI speed: {sys.executable}, best of {opts.runs} runs")
        print(header)
        print("-" * len(header))
        print(f"{'python -c pass':<22}{floor:>10.3f} s   (interpreter start-up, for scale)")
        missed = 0
        outputs: dict[str, str] = {}
        for case in cases:
            best, rss = best_of(case.args, opts.runs)
            outputs[case.label] = best.stdout
            wall_ok = verdict(best.wall_s, case.max_wall_s)
            rss_ok = verdict(rss, case.max_rss_bytes)
            missed += (wall_ok == "MISSED") + (rss_ok == "MISSED")
            wall_target = f"< {case.max_wall_s:g} s" if case.max_wall_s else ""
            rss_target = f"< {case.max_rss_bytes // MB} MB" if case.max_rss_bytes else ""
            row = (
                f"{case.label:<22}{best.wall_s:>10.3f} s{wall_target:>9}{wall_ok:>8}"
                f"{rss / MB:>8.1f} MB{rss_target:>10}{rss_ok:>8}"
            )
            print(row.rstrip())

    total = json.loads(outputs["summary --json GPT-3"])["total_params"]
    exact = "matches" if total == GPT3_EXPECTED_PARAMS else f"expected {GPT3_EXPECTED_PARAMS:,}"
    print()
    print(f"GPT-3 175B total_params (summary --json): {total:,} ({exact}: 12E^2+13E per layer)")
    if total != GPT3_EXPECTED_PARAMS:
        missed += 1
    print("all targets met" if not missed else f"{missed} target(s) missed")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
