"""Shared test helpers: known shapes and the official track folder."""
import os
from pathlib import Path

import numpy as np
import pytest

from deepracer_tracks.track import Track


def _shared_dir() -> Path:
    """$DEEPRACER_SHARED, else the first shared/ folder beside the repository or one of its parents."""
    env = os.environ.get("DEEPRACER_SHARED")
    if env:
        return Path(env)
    for parent in Path(__file__).resolve().parents:
        if (parent / "shared" / "tracks").is_dir():
            return parent / "shared"
    return Path(__file__).resolve().parents[3] / ".." / "shared"


SHARED_DIR = _shared_dir()
OFFICIAL_DIR = SHARED_DIR / "tracks"
OFFICIAL_FILES = sorted(OFFICIAL_DIR.glob("*.npy")) if OFFICIAL_DIR.is_dir() else []


def official(name: str) -> Path:
    path = OFFICIAL_DIR / name
    if not path.is_file():
        pytest.skip(f"official track files not found at {OFFICIAL_DIR.resolve()} (CI provides ../shared/tracks)")
    return path


def ring_arrays(radius=2.0, width=0.8, n=400, ccw=True):
    """Centre/inner/outer of a circle ring, counter-clockwise unless ccw=False."""
    a = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    if not ccw:
        a = -a
    unit = np.column_stack([np.cos(a), np.sin(a)])
    return radius * unit, (radius - width / 2) * unit, (radius + width / 2) * unit


def ring(radius=2.0, width=0.8, n=400, ccw=True, name="ring") -> Track:
    c, i, o = ring_arrays(radius, width, n, ccw)
    return Track(c, i, o, closed=True, name=name)


def rounded_rectangle(a=4.0, b=2.0, r=0.6, width=0.6, per_corner=200, per_metre=100) -> Track:
    """Rectangle of straight lengths a (x) and b (y) with corner radius r, counter-clockwise."""
    pts_c, pts_i, pts_o = [], [], []
    corners = [((a / 2, -b / 2), -np.pi / 2), ((a / 2, b / 2), 0.0), ((-a / 2, b / 2), np.pi / 2),
               ((-a / 2, -b / 2), np.pi)]
    for (cx, cy), start in corners:
        ang = start + np.linspace(0.0, np.pi / 2, per_corner + 1)
        unit = np.column_stack([np.cos(ang), np.sin(ang)])
        for rr, out in ((r, pts_c), (r - width / 2, pts_i), (r + width / 2, pts_o)):
            out.append(np.array([cx, cy]) + rr * unit)
    # the straights are the chords between consecutive corners: add points along them
    def assemble(parts):
        res = []
        for k, part in enumerate(parts):
            res.append(part)
            nxt = parts[(k + 1) % 4][0]
            n = int((np.hypot(*(nxt - part[-1]))) * per_metre)
            if n > 1:
                t = np.linspace(0, 1, n + 1)[1:-1, None]
                res.append(part[-1] + t * (nxt - part[-1]))
        return np.vstack(res)

    return Track(assemble(pts_c), assemble(pts_i), assemble(pts_o), closed=True, name="rounded_rectangle")
