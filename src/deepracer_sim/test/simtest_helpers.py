"""Small shared helpers for the deepracer_sim tests (synthetic tracks, palettes)."""
from __future__ import annotations

import numpy as np

from deepracer_tracks.track import Track


def straight_track(length_m: float = 24.0, half_width_m: float = 0.38) -> Track:
    """An open straight along +x from x=-2 m, centred on y = 0."""
    x = np.linspace(-2.0, length_m - 2.0, 49)
    z = np.zeros_like(x)
    return Track.from_array(np.column_stack([x, z, x, z + half_width_m, x, z - half_width_m]), name="straight")


def palette(floor=0, road=0, border=0, centre=0, wall=0, background=0) -> np.ndarray:
    """(8, 3) gray palette: each entry a gray level for the rows of randomization.PALETTE_NAMES."""
    levels = [floor, road, border, centre, wall, wall, background, background]
    return np.repeat(np.array(levels, dtype=np.float64)[:, None], 3, axis=1)


def crossings(row: np.ndarray, level: float = 127.5) -> np.ndarray:
    """Sub-pixel u positions (pixel centres at j + 0.5) where a row profile crosses `level`."""
    g = row.astype(np.float64)
    j = np.nonzero((g[:-1] - level) * (g[1:] - level) < 0)[0]
    return j + 0.5 + (level - g[j]) / (g[j + 1] - g[j])
