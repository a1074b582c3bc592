"""Ctrl-C and SIGTERM during training: finish the batch, save a checkpoint, then stop.

A signal that arrives mid-batch would leave the model, the optimizer and the counters out of
step; deferring it to the end of the batch keeps every checkpoint a consistent one. The loop
polls ``Interrupt.requested`` between batches (or votes on it, with several processes).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


class Interrupt:
    """Set by the handler; read by the loop between batches."""

    requested = False


class Received:
    """How many signals the handlers took, over the process's life: one that arrives after a
    run's last batch is never polled (the run ends normally), and ``netspec tune`` reads this
    to stop its study anyway."""

    count = 0


@contextlib.contextmanager
def deferred_sigint(*, escalate: bool = True) -> Iterator[Interrupt]:
    """The first Ctrl-C (SIGINT) or SIGTERM asks the loop to stop after the current batch and
    save a checkpoint; a second one raises KeyboardInterrupt at once (``escalate``). Only in
    the main thread, and only over Python's own handlers (SIGINT's default, SIGTERM's
    SIG_DFL). In a multi-process run a process that stopped alone would leave the others
    waiting, so there it never escalates: the launcher (which passes its signals on to the
    workers) kills them after its grace period."""
    flag = Interrupt()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum: int, frame: object) -> None:
        Received.count += 1
        if flag.requested and escalate:
            raise KeyboardInterrupt
        flag.requested = True

    defaults = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL}
    previous = {
        signum: signal.signal(signum, handler)
        for signum, default in defaults.items()
        if signal.getsignal(signum) is default
    }
    try:
        yield flag
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
