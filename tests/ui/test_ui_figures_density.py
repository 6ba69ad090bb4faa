"""ui/figures/density.py: the per-domain density behind the contour overlay."""

from __future__ import annotations

import numpy as np
import pytest

from ui.figures import density

FRAME = ((-5.0, 5.0), (-4.0, 6.0))


def _blob(n: int, seed: int = 0, centre=(0.0, 1.0)) -> np.ndarray:
    return np.random.default_rng(seed).normal(loc=centre, size=(n, 2))


def test_density_grid_shape_and_mass():
    grid = density.density_grid(_blob(3000), *FRAME)
    assert grid.shape == (density.DENSITY_BINS, density.DENSITY_BINS)
    assert (grid >= 0).all()
    cell = (10 / density.DENSITY_BINS) * (10 / density.DENSITY_BINS)
    assert grid.sum() * cell == pytest.approx(1.0, abs=0.03)  # a density: it integrates to ~1
    # rows are y, columns x: a blob centred at (x=0, y=1) peaks there
    iy, ix = np.unravel_index(grid.argmax(), grid.shape)
    xs, ys = density.grid_centres(FRAME[0]), density.grid_centres(FRAME[1])
    assert abs(xs[ix]) < 0.5 and abs(ys[iy] - 1.0) < 0.5
    assert density.density_grid(np.zeros((0, 2)), *FRAME).sum() == 0  # no points, no density


def test_two_domains_are_cut_at_the_same_comparable_levels():
    """The grid does not depend on how many points a domain has, only on how they spread; the
    levels come from all grids at once, so one line means one density in A and in B."""
    xy = _blob(2000)
    tripled = np.repeat(xy, 3, axis=0)
    assert np.allclose(density.density_grid(xy, *FRAME), density.density_grid(tripled, *FRAME))
    big = density.density_grid(_blob(8000, 1), *FRAME)
    small = density.density_grid(_blob(2000, 2), *FRAME)
    assert abs(big.max() - small.max()) / big.max() < 0.15  # same spread, ~ the same peak
    levels = density.density_levels([big, small])
    assert len(levels) == density.DENSITY_LEVELS and np.all(np.diff(levels) > 0)
    assert levels[-1] == pytest.approx(0.8 * max(big.max(), small.max()))
    assert np.allclose(levels[1:] / levels[:-1], 2.0)  # each line twice the one outside it
    # the same level drawn round both domains lies at about the same radius
    xs, ys = density.grid_centres(FRAME[0]), density.grid_centres(FRAME[1])
    radii = []
    for grid in (big, small):
        x, y = density.contour_lines(grid, xs, ys, levels[1:2])
        ok = np.isfinite(x)
        radii.append(np.hypot(x[ok], y[ok] - 1.0).mean())
    assert radii[0] == pytest.approx(radii[1], rel=0.1)
    assert len(density.density_levels([])) == 0 and len(density.density_levels([big * 0])) == 0


def test_density_and_lines_are_deterministic():
    xy = _blob(5000, 3)
    a, b = density.density_grid(xy, *FRAME), density.density_grid(xy.copy(), *FRAME)
    assert np.array_equal(a, b)
    xs, ys = density.grid_centres(FRAME[0]), density.grid_centres(FRAME[1])
    levels = density.density_levels([a])
    first = density.contour_lines(a, xs, ys, levels)
    again = density.contour_lines(b, xs, ys, levels)
    assert all(np.array_equal(u, v, equal_nan=True) for u, v in zip(first, again))


def test_contour_lines_trace_the_iso_line():
    xs = ys = np.linspace(-3, 3, 61)
    gx, gy = np.meshgrid(xs, ys)
    z = np.exp(-(gx**2 + (gy - 0.5) ** 2) / 2)  # rows = y
    for r in (0.8, 1.5, 2.2):
        x, y = density.contour_lines(z, xs, ys, [np.exp(-(r**2) / 2)])
        assert len(x) == len(y) and len(x) % 3 == 0  # segments: start, end, NaN gap
        assert np.isnan(x[2::3]).all()
        ok = np.isfinite(x)
        assert np.hypot(x[ok], y[ok] - 0.5) == pytest.approx(np.full(ok.sum(), r), abs=0.03)
    x, y = density.contour_lines(z, xs, ys, [5.0])  # above the peak: no line
    assert len(x) == len(y) == 0
    # a saddle (two highs on one diagonal) gives two segments in that cell, not a crash
    x, y = density.contour_lines(np.array([[1.0, 0.0], [0.0, 1.0]]), np.arange(2.0), np.arange(2.0), [0.5])
    assert np.isfinite(x).sum() == 4
