"""``netspec train --devices N``: start N training processes on this machine with torchrun's
own launcher (torch.distributed's ``elastic_launch``, the engine behind ``torchrun
--standalone``), each running ``python -m netspec train ...``; wait; return an exit status.

The workers find their place from the environment the launcher sets (see ``distributed``),
exactly as under ``torchrun``, so both ways run the same code. Rank 0 prints and writes the
run directory. Ctrl-C or SIGTERM reaches the launcher, which passes it on to the workers and
gives them ``GRACE_SECONDS`` to save a checkpoint before it kills them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from netspec.errors import SIGNAL_EXIT_BASE, ExitCode, killed_by_signal
from netspec.training.distributed import LAUNCHED_BY_NETSPEC

GRACE_SECONDS = 60
"""How long workers get to finish their batch and write the checkpoint after a signal."""


def launch(args: Sequence[str], processes: int, *, cpu: bool, run_dir: Path | None = None) -> int:
    """Run ``python -m netspec ARGS`` in ``processes`` processes; the run's exit status: rank
    0's, else the first failing process's (128 + N for a process killed by signal N)."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    config = LaunchConfig(
        min_nodes=1,
        max_nodes=1,
        nproc_per_node=processes,
        run_id=f"netspec-{uuid.uuid4().hex[:12]}",
        rdzv_backend="c10d",
        rdzv_endpoint="localhost:0",  # a free port, like torchrun --standalone
        max_restarts=0,
        monitor_interval=0.1,
        start_method="spawn",
        shutdown_timeout=GRACE_SECONDS,
    )
    env = {LAUNCHED_BY_NETSPEC: str(processes)}
    if cpu and "OMP_NUM_THREADS" not in os.environ:
        # N processes share the cores; each taking all of them would oversubscribe.
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // processes))
    with _environment(env), _quiet_torchelastic():
        try:
            elastic_launch(config, sys.executable)("-m", "netspec", *args)
        except ChildFailedError as failed:
            code = _exit_status(failed)
            if code > SIGNAL_EXIT_BASE and 0 in getattr(failed, "failures", {}):
                _resume_hint(run_dir, processes)  # rank 0, which would say it, was killed
            return code
        except SignalException:  # Ctrl-C or SIGTERM: the workers saved and said how to resume
            return ExitCode.INTERRUPTED
    return ExitCode.OK


def _exit_status(failed: object) -> int:
    """The status of the worker that failed first. Failures that only follow another are
    passed over: the launcher's SIGTERM to the others, a worker that stopped because a peer
    went away (ExitCode.PEER_LOST), and one that stopped because a peer failed its setup (it
    exits with that peer's status, a little later)."""
    failures: dict[int, Any] = getattr(failed, "failures", {})
    if not failures:
        return ExitCode.INTERNAL_ERROR
    causes = {
        r: f
        for r, f in failures.items()
        if f.exitcode != ExitCode.PEER_LOST and -f.exitcode != signal.SIGTERM
    }
    pool = causes or failures
    rank = min(pool, key=lambda r: (pool[r].timestamp, r))
    code = int(pool[rank].exitcode)
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
        print(f"netspec: process {rank} was killed by {name}", file=sys.stderr)
        return killed_by_signal(-code)
    return code


def _resume_hint(run_dir: Path | None, processes: int) -> None:
    from netspec.training.rundir import CHECKPOINT

    if run_dir is not None and (run_dir / CHECKPOINT).is_file():
        command = f"netspec train --resume {run_dir} --devices {processes}"
        print(f"resume from the last checkpoint with: {command}", file=sys.stderr)
    else:
        print("resume from the run directory's last.ckpt with --resume RUN_DIR", file=sys.stderr)


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


@contextlib.contextmanager
def _quiet_torchelastic() -> Iterator[None]:
    """torchelastic logs its own account of every start and failure; the workers already
    said what happened, in netspec's words."""
    logger = logging.getLogger("torch.distributed.elastic")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)
