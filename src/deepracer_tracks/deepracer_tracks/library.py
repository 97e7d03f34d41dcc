"""The built-in track library and `load_track`, THE way every package gets a track.

Built-in tracks are generated at first use from a handful of design control points: a periodic
cubic spline through them (curvature is continuous, C2), scaled to the design length, resampled to
evenly spaced waypoints, with the borders offset by half the width along the normal. Every design
keeps its minimum centre-line turn radius above what a 1/18 DeepRacer can drive (wheelbase
0.164 m, 30 deg steering -> 0.284 m) with margin, and above half the width (so the inner border
has no cusps). The shapes are this project's own designs, not copies of AWS tracks; the official
AWS files load through `load_track(path)`.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import geometry as geo
from .track import Track, TrackError

DEFAULT_TRACK = "reinvent2018_like"

# The tightest centre-line radius (m) a built-in track may have: the car's own minimum turning
# radius is wheelbase / tan(30 deg) = 0.164 / 0.577 = 0.284 m.
MIN_TURN_RADIUS_M = 0.40


@dataclass(frozen=True)
class TrackInfo:
    """What `list_tracks` reports about a built-in track (lengths and widths in metres)."""

    name: str
    description: str
    difficulty: str            # "easy" | "medium" | "hard"
    length_m: float
    width_m: float
    min_radius_m: float        # tightest turn of the centre line


@dataclass(frozen=True)
class _Design:
    description: str
    difficulty: str
    control_points: tuple[tuple[float, float], ...]   # counter-clockwise, any scale
    length_m: float
    width_m: float
    spacing_m: float = 0.15


_DESIGNS: dict[str, _Design] = {
    "reinvent2018_like": _Design(
        "A re:Invent 2018-style loop: a long start straight, a sweeping right-hand side, an S-bend across "
        "the top and a fast left-hand return. The default track.",
        "medium",
        ((0.0, 0.0), (2.0, -0.1), (4.0, 0.0), (5.6, 0.5), (6.3, 1.7), (5.9, 2.9), (4.8, 3.3), (3.8, 2.7),
         (2.9, 2.3), (1.9, 2.8), (0.9, 3.3), (-0.3, 3.0), (-0.9, 1.9), (-0.7, 0.6)),
        17.7, 0.76),
    "oval": _Design(
        "An elliptical oval: two long gentle bends joined by near-straights. Good first track.",
        "easy",
        tuple((3.2 * np.cos(a), 1.6 * np.sin(a)) for a in np.linspace(-np.pi / 2, 1.5 * np.pi, 24, endpoint=False)),
        16.0, 0.76),
    "wide_beginner": _Design(
        "A wide (1.2 m) rounded loop with gentle curves only: forgiving for a first model.",
        "easy",
        ((0.0, 0.0), (3.0, -0.2), (5.5, 0.3), (6.8, 1.8), (6.4, 3.6), (4.6, 4.4), (2.5, 4.0), (0.6, 4.5),
         (-1.2, 3.8), (-1.7, 1.9)),
        22.0, 1.2),
    "tape_corridor": _Design(
        "An office-corridor tape track like the paper's: 0.61 m (24 inch) wide, two long straights and "
        "two tight end turns in a narrow space.",
        "medium",
        ((0.0, 0.0), (1.5, 0.0), (3.0, 0.0), (4.2, 0.05), (4.8, 0.45), (4.85, 1.05), (4.4, 1.45), (3.2, 1.5),
         (1.5, 1.5), (0.0, 1.5), (-1.0, 1.45), (-1.45, 1.05), (-1.4, 0.45), (-0.9, 0.05)),
        12.0, 0.61),
    "technical": _Design(
        "A hard technical loop: several tight left and right turns, a chicane and short straights.",
        "hard",
        ((0.0, 0.0), (2.2, 0.0), (3.2, 0.6), (3.3, 1.6), (2.5, 2.1), (2.6, 3.0), (3.6, 3.3), (4.6, 3.0),
         (5.4, 3.6), (5.2, 4.7), (4.0, 5.2), (2.6, 5.0), (1.8, 4.45), (0.9, 4.7), (-0.2, 4.3), (-0.5, 3.2),
         (0.3, 2.4), (0.0, 1.4), (-0.8, 0.9), (-0.8, 0.2)),
        28.0, 0.76),
    "long_hairpin": _Design(
        "A long track with a fast back straight, flowing bends and a tight hairpin at the far end.",
        "hard",
        ((0.0, 0.0), (3.0, 0.0), (6.0, 0.0), (9.0, 0.2), (10.4, 0.8), (10.7, 1.7), (10.1, 2.3), (9.2, 2.2),
         (8.4, 1.9), (7.4, 1.8), (6.6, 2.6), (5.8, 3.6), (4.4, 4.0), (2.8, 3.7), (1.4, 4.1), (0.0, 4.0),
         (-1.2, 3.2), (-1.6, 1.8), (-1.1, 0.6)),
        38.0, 0.76),
}


def _spline_centre(design: _Design) -> np.ndarray:
    """Evenly spaced centre-line waypoints (W, 2) in metres for a design."""
    from scipy.interpolate import CubicSpline

    ctrl = np.asarray(design.control_points, dtype=np.float64)
    closed_pts = np.vstack([ctrl, ctrl[:1]])
    chord = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(closed_pts, axis=0).T))])
    spline = CubicSpline(chord, closed_pts, bc_type="periodic")
    u = np.linspace(0.0, chord[-1], 4000, endpoint=False)
    dense = spline(u)
    scale = design.length_m / geo.polyline_length(dense, True)
    dense *= scale
    n = int(round(design.length_m / design.spacing_m))
    centre = geo.resample_polyline(dense, True, n)
    # the resampled polygon is a little shorter than the curve: rescale once more to the design length
    centre *= design.length_m / geo.polyline_length(centre, True)
    return centre - centre[0]


def turn_radii(centre: np.ndarray, closed: bool = True) -> np.ndarray:
    """(W,) radius (m) of the circle through each waypoint and its neighbours (inf on straights)."""
    p_prev = np.roll(centre, 1, axis=0)
    p_next = np.roll(centre, -1, axis=0)
    a = np.hypot(*(centre - p_prev).T)
    b = np.hypot(*(p_next - centre).T)
    c = np.hypot(*(p_next - p_prev).T)
    cross = np.abs((centre - p_prev)[:, 0] * (p_next - p_prev)[:, 1] - (centre - p_prev)[:, 1] * (p_next - p_prev)[:, 0])
    with np.errstate(divide="ignore"):
        r = a * b * c / np.where(cross > 0, 2.0 * cross, 0.0)
    if not closed:
        r[0] = r[-1] = np.inf
    return r


def offset_borders(centre: np.ndarray, widths_m, closed: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Inner (left of the driving direction) and outer borders offset by half the width along the normal."""
    if closed:
        tangent = np.roll(centre, -1, axis=0) - np.roll(centre, 1, axis=0)
    else:
        tangent = np.gradient(centre, axis=0)
    tangent /= np.hypot(*tangent.T)[:, None]
    left = np.column_stack([-tangent[:, 1], tangent[:, 0]])
    half = 0.5 * np.broadcast_to(np.asarray(widths_m, dtype=np.float64), (len(centre),))[:, None]
    return centre + half * left, centre - half * left


@functools.lru_cache(maxsize=None)
def _builtin(name: str) -> Track:
    design = _DESIGNS[name]
    centre = _spline_centre(design)
    inner, outer = offset_borders(centre, design.width_m)
    return Track(centre, inner, outer, closed=True, name=name, source="built-in")


def builtin_names() -> list[str]:
    """Names of the built-in tracks, default first."""
    return [DEFAULT_TRACK] + sorted(n for n in _DESIGNS if n != DEFAULT_TRACK)


def list_tracks() -> list[TrackInfo]:
    """Every built-in track with its name, description, difficulty, length and width."""
    out = []
    for name in builtin_names():
        track = _builtin(name)
        d = _DESIGNS[name]
        out.append(TrackInfo(name, d.description, d.difficulty, track.length_m, track.width_m,
                             float(turn_radii(track.centre).min())))
    return out


def load_track(name_or_path: str | Path) -> Track:
    """THE way to get a track: a built-in name (see `list_tracks`) or a path to a DeepRacer ``.npy`` file.

    A ``.obj`` mesh path is accepted too (waypoints extracted from the mesh, see `mesh`), and
    ``aws:NAME`` an official AWS world of the deepracer-simapp checkout in ${DEEPRACER_SIMAPP_DIR}
    (its route, with the world's meshes attached for the renderer, see `aws_world`).
    Unknown names raise TrackError listing the available names.
    """
    if isinstance(name_or_path, Track):
        return name_or_path
    text = str(name_or_path)
    if text.startswith("aws:"):
        from .aws_world import WorldError, load_aws_track

        try:
            return load_aws_track(text)
        except WorldError as exc:
            raise TrackError(str(exc)) from None
    if text in _DESIGNS:
        return _builtin(text)
    path = Path(text).expanduser()
    if path.suffix.lower() == ".obj":
        from .mesh import track_from_obj

        return track_from_obj(path)
    if path.suffix.lower() == ".npy" or path.is_file():
        return Track.from_npy(path)
    raise TrackError(f"unknown track {text!r}: not a built-in track ({', '.join(builtin_names())}) "
                     f"and not a .npy file")
