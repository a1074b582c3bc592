"""What several synthetic families share: option fields, their docs, and small helpers for
generating samples (numpy is imported inside the helpers, when a loader runs)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import AliasChoices, Field

from netspec.dims import Shape

if TYPE_CHECKING:
    from numpy.typing import NDArray


def samples_field(default: int = 1000) -> Any:
    return Field(
        default, ge=1, le=10_000_000, validation_alias=AliasChoices("samples", "n_samples")
    )


MAX_SEED = 2**32 - 1
"""The largest seed every generator takes (scikit-learn's random_state; numpy's
default_rng refuses negative seeds)."""


def seed_field() -> Any:
    return Field(0, ge=0, le=MAX_SEED)


def noise_field(default: float) -> Any:
    return Field(default, ge=0.0)


def label_noise_field() -> Any:
    return Field(0.0, ge=0.0, le=1.0)


COMMON_DOCS = {
    "samples": "number of samples (alias n_samples); default 1000",
    "seed": "seed of the generator; default 0",
}
LABEL_NOISE_DOC = "fraction of labels replaced by a random label; default 0"


def fixed(shape: Shape, index: int, rank: int | None = None) -> int | None:
    """``shape[index]`` when it is an int (and the rank is ``rank``, if given)."""
    if rank is not None and len(shape) != rank:
        return None
    if -len(shape) <= index < len(shape):
        d = shape[index]
        if isinstance(d, int):
            return d
    return None


def flip_labels(y: NDArray[Any], fraction: float, classes: int, rng: Any) -> NDArray[Any]:
    import numpy as np

    if fraction <= 0:
        return y
    hit = rng.random(y.shape) < fraction
    out: NDArray[Any] = np.where(hit, rng.integers(0, classes, y.shape), y)
    return out


def balanced(n: int, classes: int, rng: Any) -> NDArray[Any]:
    import numpy as np

    return rng.permutation(np.arange(n) % classes)  # type: ignore[no-any-return]


def names(k: int) -> list[str]:
    return [str(i) for i in range(k)]
