"""curves.png: the loss and each metric per epoch (matplotlib's Agg canvas, no pyplot state)."""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from netspec.errors import printable

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def curves_png(history: Sequence[Mapping[str, float]], title: str) -> bytes:
    """One panel for train/val loss, one per validation metric (with its training value
    when one is logged: a VAE's recon and kl); PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    epochs = [int(row["epoch"]) for row in history]
    metrics = sorted(
        {k for row in history for k in row if k.startswith("val_") and k != "val_loss"},
        key=lambda k: list(history[-1]).index(k) if k in history[-1] else 0,
    )
    panels = 1 + len(metrics)
    cols = min(panels, 3)
    rows = math.ceil(panels / cols)
    figure = Figure(figsize=(4.5 * cols, 3.4 * rows), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = list(figure.subplots(rows, cols, squeeze=False).flat)
    for ax in axes[panels:]:
        ax.set_visible(False)
    axes = axes[:panels]
    for key, label in (("train_loss", "train"), ("val_loss", "val")):
        _line(axes[0], epochs, history, key, label)
    axes[0].set_title("loss")
    axes[0].legend(loc="best", fontsize="small")
    for ax, key in zip(axes[1:], metrics, strict=True):
        name = key.removeprefix("val_")
        if any(f"train_{name}" in row for row in history):  # a VAE's recon and kl
            _line(ax, epochs, history, f"train_{name}", "train")
            _line(ax, epochs, history, key, "val")
            ax.legend(loc="best", fontsize="small")
        else:
            _line(ax, epochs, history, key, "val")
        ax.set_title(name)
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    # The spec's name, as plain text: no mathtext (`$...$` in a name made savefig raise) and
    # no control characters (matplotlib warns about each missing glyph, printing it raw).
    figure.suptitle(printable(title), parse_math=False)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def panels_png(
    history: Sequence[Mapping[str, float]],
    title: str,
    panels: Sequence[tuple[str, Sequence[tuple[str, str]]]],
) -> bytes:
    """One panel per ``(title, ((column, label), ...))``, each column a line per epoch; PNG
    bytes. For runs whose columns are not a loss and metrics (a GAN's two losses)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    epochs = [int(row["epoch"]) for row in history]
    figure = Figure(figsize=(4.5 * len(panels), 3.4), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = list(figure.subplots(1, len(panels), squeeze=False).flat)
    for ax, (name, lines) in zip(axes, panels, strict=True):
        for key, label in lines:
            _line(ax, epochs, history, key, label)
        ax.set_title(name)
        ax.legend(loc="best", fontsize="small")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    figure.suptitle(printable(title), parse_math=False)  # plain text: see curves_png
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _line(
    ax: Axes, epochs: list[int], history: Sequence[Mapping[str, float]], key: str, label: str
) -> None:
    values = [row.get(key, math.nan) for row in history]
    if any(math.isfinite(v) for v in values):
        ax.plot(epochs, values, marker="o" if len(epochs) < 30 else None, label=label)
