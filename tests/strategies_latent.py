"""Hypothesis strategies for reparameterize (layers/latent.py).

A case is (args, in_shape, dtype, extra_shapes): the log-variance is the extra input, of the
mean's shape. The oracle runs the module in train mode, so the sampling path is measured.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

# Registers the layer even before netspec/layers/__init__.py imports the file.
from netspec.layers import latent  # noqa: F401

Case = tuple[dict[str, Any], tuple[int, ...], str, tuple[tuple[int, ...], ...]]


@st.composite
def _reparameterize(draw: st.DrawFn) -> Case:
    shape = tuple(draw(st.lists(st.integers(1, 8), min_size=1, max_size=4)))
    return {}, shape, "float32", (shape,)


STRATEGIES: dict[str, Any] = {"reparameterize": _reparameterize()}
