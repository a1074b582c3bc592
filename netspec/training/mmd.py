"""Maximum mean discrepancy (MMD) between two sample sets: how far a generator's samples are
from real data, with no model of either distribution (Gretton et al., JMLR 2012).

For samples ``x_1..x_n`` (from P) and ``y_1..y_m`` (from Q), images flattened to vectors of
d features, the unbiased estimate of the squared MMD (a U-statistic: the ``i = j`` terms,
which are k(a, a) = 1 whatever the data, are left out) is::

    MMD²_u = 1/(n(n-1)) Σ_{i≠j} k(x_i, x_j) + 1/(m(m-1)) Σ_{i≠j} k(y_i, y_j)
             - 2/(nm) Σ_{i,j} k(x_i, y_j)

with a mixture of Gaussian (RBF) kernels, the mean over the bandwidths σ_1..σ_B::

    k(a, b) = 1/B Σ_b exp(-||a - b||² / (2 σ_b²))

Its expectation is MMD²(P, Q): 0 exactly when P = Q (the Gaussian kernel is characteristic),
so an estimate near 0, even slightly negative, means "indistinguishable at this sample size";
it grows as Q moves away from P. Without ``bandwidths``, σ = h * (0.5, 1, 2) where h is the
median heuristic: the median (the lower one for an even count) of the pairwise distances
||a - b|| over the pooled sample ``x ∪ y``, over at most 2,048 of its points (a fixed
random subset, seed 0, when there are more); h = 1 where that median is 0.

The kernel sums are taken in float64, 1,024 rows at a time, so memory is a few (1024, m)
blocks whatever n is: about 150 MB at n = m = 5,000, where the whole pooled Gram matrix
alone would be 800 MB.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

_MEDIAN_POINTS = 2048  # at most this many pooled points for the median heuristic
_BLOCK = 1024  # rows of a kernel block
_SCALES = (0.5, 1.0, 2.0)


def mmd_rbf(x: torch.Tensor, y: torch.Tensor, bandwidths: Sequence[float] | None = None) -> float:
    """The unbiased squared MMD of samples ``x`` (n, ...) and ``y`` (m, ...), n, m >= 2.

    Samples are flattened to (n, d) and (m, d); ``bandwidths`` are the RBF kernels' σ
    (default: the median heuristic times 0.5, 1 and 2; see the module docstring).
    """
    a = _flat(x, "x")
    b = _flat(y, "y")
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"mmd_rbf needs samples of one size: x has {a.shape[1]} features per sample, "
            f"y has {b.shape[1]}"
        )
    sigmas = _bandwidths(a, b) if bandwidths is None else tuple(float(s) for s in bandwidths)
    if not sigmas or min(sigmas) <= 0:
        raise ValueError(f"mmd_rbf needs positive bandwidths, got {list(sigmas)}")
    gammas = torch.tensor([1.0 / (2.0 * s * s) for s in sigmas], dtype=a.dtype, device=a.device)
    n, m = a.shape[0], b.shape[0]
    xx = _kernel_sum(a, a, gammas, skip_diagonal=True) / (n * (n - 1))
    yy = _kernel_sum(b, b, gammas, skip_diagonal=True) / (m * (m - 1))
    xy = _kernel_sum(a, b, gammas, skip_diagonal=False) / (n * m)
    return float(xx + yy - 2.0 * xy)


def _flat(t: torch.Tensor, what: str) -> torch.Tensor:
    if t.dim() < 1 or t.shape[0] < 2:
        raise ValueError(
            f"mmd_rbf needs at least 2 samples in {what} (the unbiased estimate leaves out "
            f"each sample's pair with itself), got shape {tuple(t.shape)}"
        )
    return t.detach().reshape(t.shape[0], -1).to(torch.float64)  # (n, d)


def _sq_dists(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """||a_i - b_j||² for (r, d) ``a`` and (c, d) ``b``: (r, c), never below 0."""
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return sq.clamp_min_(0.0)


def _kernel_sum(
    a: torch.Tensor, b: torch.Tensor, gammas: torch.Tensor, *, skip_diagonal: bool
) -> torch.Tensor:
    """Σ_{i,j} k(a_i, b_j) (without i = j when ``a`` is ``b``), a block of rows at a time."""
    total = torch.zeros((), dtype=a.dtype, device=a.device)
    for start in range(0, a.shape[0], _BLOCK):
        rows = a[start : start + _BLOCK]
        sq = _sq_dists(rows, b)  # (r, c)
        k = torch.zeros_like(sq)
        for gamma in gammas:
            k += torch.exp(-gamma * sq)
        k /= len(gammas)
        if skip_diagonal:
            i = torch.arange(rows.shape[0], device=a.device)
            k[i, start + i] = 0.0
        total += k.sum()
    return total


def median_bandwidths(y: torch.Tensor) -> tuple[float, ...]:
    """The median heuristic's σ (h times 0.5, 1 and 2) of ``y`` (m, ...) alone, m >= 2: fixed
    bandwidths to compare several sample sets with the same real data (the default's h, over
    the pooled sample, moves with the samples, so its values are not comparable)."""
    return _median_scales(_flat(y, "y"))


def _bandwidths(a: torch.Tensor, b: torch.Tensor) -> tuple[float, ...]:
    """The median heuristic's h times (0.5, 1, 2)."""
    return _median_scales(torch.cat([a, b]))  # (n + m, d)


def _median_scales(pooled: torch.Tensor) -> tuple[float, ...]:
    if pooled.shape[0] > _MEDIAN_POINTS:
        generator = torch.Generator().manual_seed(0)
        keep = torch.randperm(pooled.shape[0], generator=generator)[:_MEDIAN_POINTS]
        pooled = pooled[keep.to(pooled.device)]
    i, j = torch.triu_indices(pooled.shape[0], pooled.shape[0], offset=1, device=pooled.device)
    dists = _sq_dists(pooled, pooled)[i, j].sqrt()
    h = float(dists.median())
    return tuple((h if h > 0 else 1.0) * s for s in _SCALES)
