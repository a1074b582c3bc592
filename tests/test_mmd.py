"""mmd_rbf (netspec/training/mmd.py): near 0 for one distribution, growing with a shift,
symmetric, equal to a naive double loop, images flattened, bad inputs refused."""

from __future__ import annotations

import math
import statistics

import pytest
import torch

from netspec.training import mmd
from netspec.training.mmd import mmd_rbf


def naive_mmd(x: list[list[float]], y: list[list[float]], sigmas: list[float] | None) -> float:
    """The module docstring's formula, one pair at a time in plain Python."""

    def dist(a: list[float], b: list[float]) -> float:
        return math.sqrt(sum((u - v) ** 2 for u, v in zip(a, b, strict=True)))

    if sigmas is None:
        pooled = x + y
        pairs = [
            dist(pooled[i], pooled[j])
            for i in range(len(pooled))
            for j in range(i + 1, len(pooled))
        ]
        h = statistics.median_low(pairs)
        sigmas = [h * s for s in (0.5, 1.0, 2.0)]

    def k(a: list[float], b: list[float]) -> float:
        d2 = dist(a, b) ** 2
        return sum(math.exp(-d2 / (2 * s * s)) for s in sigmas) / len(sigmas)

    n, m = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(a, b) for a in x for b in y) / (n * m)
    return xx + yy - 2 * xy


@pytest.mark.parametrize("sigmas", [None, [0.7], [0.3, 1.0, 4.0]])
def test_equals_a_naive_double_loop(sigmas: list[float] | None) -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(7, 3, generator=g, dtype=torch.float64)
    y = torch.randn(6, 3, generator=g, dtype=torch.float64) + 0.5
    want = naive_mmd(x.tolist(), y.tolist(), sigmas)
    assert mmd_rbf(x, y, sigmas) == pytest.approx(want, abs=1e-6)


def test_blocks_give_the_whole_sum(monkeypatch: pytest.MonkeyPatch) -> None:
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(50, 4, generator=g), torch.randn(37, 4, generator=g)
    whole = mmd_rbf(x, y)
    monkeypatch.setattr(mmd, "_BLOCK", 8)  # several blocks, the last one short
    assert mmd_rbf(x, y) == pytest.approx(whole, abs=1e-12)


def test_median_heuristic_uses_a_fixed_subset_of_many_points(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(40, 3, generator=g), torch.randn(40, 3, generator=g)
    monkeypatch.setattr(mmd, "_MEDIAN_POINTS", 30)
    first = mmd_rbf(x, y)
    assert mmd_rbf(x, y) == first  # deterministic
    assert abs(first) < 0.05


def test_one_distribution_gives_near_zero_and_can_go_negative() -> None:
    values = []
    for seed in range(8):
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(400, 5, generator=g)
        y = torch.randn(400, 5, generator=g)
        values.append(mmd_rbf(x, y))
    assert max(abs(v) for v in values) < 0.01
    assert min(values) < 0  # unbiased: the estimate scatters around 0, both sides


def test_grows_as_one_distribution_shifts() -> None:
    g = torch.Generator().manual_seed(3)
    x = torch.randn(500, 4, generator=g)
    y = torch.randn(500, 4, generator=g)
    scores = [mmd_rbf(x, y + shift) for shift in (0.0, 0.25, 0.5, 1.0)]
    assert scores == sorted(scores)
    assert scores[0] < 0.01 < scores[1]


def test_symmetric() -> None:
    g = torch.Generator().manual_seed(4)
    x = torch.randn(30, 6, generator=g)
    y = torch.rand(45, 6, generator=g)
    assert mmd_rbf(x, y) == pytest.approx(mmd_rbf(y, x), abs=1e-12)
    assert mmd_rbf(x, y, [1.5]) == pytest.approx(mmd_rbf(y, x, [1.5]), abs=1e-12)


def test_images_are_flattened() -> None:
    g = torch.Generator().manual_seed(5)
    x = torch.rand(20, 1, 4, 4, generator=g)
    y = torch.rand(25, 1, 4, 4, generator=g) * 0.5
    assert mmd_rbf(x, y) == mmd_rbf(x.reshape(20, 16), y.reshape(25, 16))
    assert mmd_rbf(x, y) > 0.05


def test_identical_points_use_bandwidth_one() -> None:
    x = torch.zeros(4, 2)
    assert mmd_rbf(x, x) == pytest.approx(0.0, abs=1e-12)
    assert mmd_rbf(x, x + 1.0) == pytest.approx(
        naive_mmd(x.tolist(), (x + 1.0).tolist(), None), abs=1e-6
    )


@pytest.mark.parametrize(
    ("x", "y", "sigmas", "match"),
    [
        (torch.zeros(1, 3), torch.zeros(4, 3), None, r"at least 2 samples in x"),
        (torch.zeros(4, 3), torch.zeros(4, 2), None, r"x has 3 features per sample, y has 2"),
        (torch.zeros(4, 3), torch.ones(4, 3), [1.0, 0.0], r"positive bandwidths"),
        (torch.zeros(4, 3), torch.ones(4, 3), [], r"positive bandwidths"),
    ],
)
def test_bad_inputs_are_refused(
    x: torch.Tensor, y: torch.Tensor, sigmas: list[float] | None, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        mmd_rbf(x, y, sigmas)
