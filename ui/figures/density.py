"""Per-domain point density on the alignment figure's shared frame, and its contour lines (pure).

Computed here, not by plotly's histogram2dcontour in the browser: the levels must be the same
for both domains and both panels (that is what makes A and B comparable), the result is
deterministic and testable, and the browser gets a few thousand line vertices, not every
point a second time."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

DENSITY_BINS = 80  # grid cells per axis over the figure's shared frame
DENSITY_SIGMA = 2.0  # Gaussian smoothing, in grid cells (2.5% of the frame)
DENSITY_LEVELS = 4  # lines per domain, each at twice the density of the one outside it
MIN_DENSITY_POINTS = 10  # fewer points in a domain: no contour (it would trace single users)


def _gaussian(n: int, sigma: float) -> np.ndarray:
    i = np.arange(n)
    return np.exp(-0.5 * ((i[:, None] - i[None, :]) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))


def grid_centres(span: Sequence[float], bins: int = DENSITY_BINS) -> np.ndarray:
    edges = np.linspace(float(span[0]), float(span[1]), bins + 1)
    return (edges[:-1] + edges[1:]) / 2


def density_grid(
    xy: np.ndarray,
    x_range: Sequence[float],
    y_range: Sequence[float],
    *,
    bins: int = DENSITY_BINS,
    sigma: float = DENSITY_SIGMA,
) -> np.ndarray:
    """(bins, bins) density of one domain's points (rows = y, columns = x) on a fixed grid over
    the frame: a 2-d histogram smoothed by a separable Gaussian, divided by the number of
    points and the cell area, so it integrates to ~1 whatever the domain's size and two
    domains' grids can be cut at the same levels. Deterministic (no sampling)."""
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    xy = xy[np.isfinite(xy).all(axis=1)]
    counts, _, _ = np.histogram2d(
        xy[:, 1], xy[:, 0], bins=bins, range=[list(map(float, y_range)), list(map(float, x_range))]
    )
    frame = (float(x_range[1]) - float(x_range[0])) * (float(y_range[1]) - float(y_range[0]))
    k = _gaussian(bins, sigma)
    return k @ counts @ k.T / (max(len(xy), 1) * frame / bins**2)  # per point, per unit area


def density_levels(grids: Iterable[np.ndarray], n: int = DENSITY_LEVELS) -> np.ndarray:
    """Ascending contour levels shared by every grid given (both domains, every panel): from
    80% of the highest density down, halving each time."""
    top = max((float(g.max()) for g in grids if g.size), default=0.0)
    return 0.8 * top * 2.0 ** -np.arange(n - 1, -1, -1.0) if top > 0 else np.zeros(0)


# Marching squares. Corners of a cell: 1 = bottom-left, 2 = bottom-right, 4 = top-right,
# 8 = top-left (set when >= level); edges: 0 bottom, 1 right, 2 top, 3 left. Cases 16 and 17
# are the saddles 5 and 10 with a centre above the level (the high corners join).
_SEGMENTS = {
    1: ((3, 0),),
    2: ((0, 1),),
    3: ((3, 1),),
    4: ((1, 2),),
    5: ((3, 0), (1, 2)),
    6: ((0, 2),),
    7: ((3, 2),),
    8: ((2, 3),),
    9: ((0, 2),),
    10: ((0, 1), (2, 3)),
    11: ((1, 2),),
    12: ((1, 3),),
    13: ((0, 1),),
    14: ((3, 0),),
    16: ((0, 1), (2, 3)),
    17: ((3, 0), (1, 2)),
}


def contour_lines(
    z: np.ndarray, xs: np.ndarray, ys: np.ndarray, levels: Iterable[float]
) -> tuple[np.ndarray, np.ndarray]:
    """The iso-lines of grid z (rows = ys, columns = xs) at each level, as line segments
    separated by NaN: one x and one y array, drawn as one WebGL line trace."""
    out_x, out_y = [], []
    bl, br, tr, tl = z[:-1, :-1], z[:-1, 1:], z[1:, 1:], z[1:, :-1]
    for level in levels:
        case = (bl >= level) * 1 | (br >= level) * 2 | (tr >= level) * 4 | (tl >= level) * 8
        centre = (bl + br + tr + tl) / 4 >= level
        case = np.where((case == 5) & centre, 16, np.where((case == 10) & centre, 17, case))
        i, j = np.nonzero((case > 0) & (case != 15))
        if not len(i):
            continue
        c = [bl[i, j], br[i, j], tr[i, j], tl[i, j]]
        x0, x1, y0, y1 = xs[j], xs[j + 1], ys[i], ys[i + 1]
        with np.errstate(divide="ignore", invalid="ignore"):  # only crossed edges are used
            t = [
                (level - c[0]) / (c[1] - c[0]),
                (level - c[1]) / (c[2] - c[1]),
                (level - c[3]) / (c[2] - c[3]),
                (level - c[0]) / (c[3] - c[0]),
            ]
        ex = np.stack([x0 + t[0] * (x1 - x0), x1, x0 + t[2] * (x1 - x0), x0], axis=1)
        ey = np.stack([y0, y0 + t[1] * (y1 - y0), y1, y0 + t[3] * (y1 - y0)], axis=1)
        cell_case = case[i, j]
        for code, segments in _SEGMENTS.items():
            rows = np.flatnonzero(cell_case == code)
            for a, b in segments:
                for out, e in ((out_x, ex), (out_y, ey)):
                    seg = np.full((len(rows), 3), np.nan)
                    seg[:, 0], seg[:, 1] = e[rows, a], e[rows, b]
                    out.append(seg.ravel())
    if not out_x:
        return np.zeros(0), np.zeros(0)
    return np.concatenate(out_x), np.concatenate(out_y)


# ----------------------------------------------------------------------------- the figure
