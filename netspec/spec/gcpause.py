"""Parsing, validating and planning with Python's cyclic garbage collector paused.

A spec of n layers allocates a few objects per YAML node, entry and layer and frees almost
none of them until it is done. Each full collection walks every live object, and CPython
runs them more often as objects accumulate: on a 10,000-layer spec the collector took about
a third of the time, for nothing to collect (these stages make no reference cycles worth
freeing early). The collector is restored, not forced on: a caller that disabled it keeps it
disabled.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
