"""Small vectorised 2-D polyline helpers shared by the track core, validation, meshes and textures.

All coordinates are metres in the track's world frame (x right, y up). Polylines are (W, 2) float
arrays; a *ring* is a closed polyline given WITHOUT its repeated closing point (the closing segment
from the last point back to the first is implied).
"""
from __future__ import annotations

import numpy as np


def segments(points: np.ndarray, closed: bool) -> tuple[np.ndarray, np.ndarray]:
    """Start and end points (S, 2) of the polyline's segments; a ring has S = W segments, an open line W - 1."""
    points = np.asarray(points, dtype=np.float64)
    if closed:
        return points, np.roll(points, -1, axis=0)
    return points[:-1], points[1:]


def polyline_length(points: np.ndarray, closed: bool) -> float:
    """Length in metres of a polyline (a ring includes its closing segment)."""
    a, b = segments(points, closed)
    return float(np.sum(np.hypot(*(b - a).T)))


def signed_area(ring: np.ndarray) -> float:
    """Shoelace area in m^2 of a ring: > 0 when the points run counter-clockwise."""
    x, y = np.asarray(ring, dtype=np.float64).T
    return 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))


def points_in_ring(points: np.ndarray, ring: np.ndarray) -> np.ndarray:
    """Even-odd (ray casting, half-open rule) test of points (N, 2) against a ring (W, 2) -> (N,) bool.

    O(N * W); used for validation and tests. The hot path (Track.on_track) uses a banded version.
    """
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    a, b = segments(ring, True)
    return _crossing_parity(p[:, None, 0], p[:, None, 1], a[None, :, 0], a[None, :, 1], b[None, :, 0], b[None, :, 1])


def _crossing_parity(px, py, x1, y1, x2, y2) -> np.ndarray:
    """Parity of the +x rays from (px, py) crossing edges (x1, y1)-(x2, y2), reduced over the last axis."""
    straddles = (y1 > py) != (y2 > py)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_cross = x1 + (py - y1) * (x2 - x1) / (y2 - y1)
    crossing = straddles & (px < x_cross)
    return (np.count_nonzero(crossing, axis=-1) % 2).astype(bool)


def point_segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distance (broadcast) from points p (..., 2) to segments a-b (..., 2)."""
    v = b - a
    w = p - a
    vv = np.sum(v * v, axis=-1)
    t = np.clip(np.sum(w * v, axis=-1) / np.where(vv > 0.0, vv, 1.0), 0.0, 1.0)
    q = a + t[..., None] * v
    return np.hypot(*np.moveaxis(p - q, -1, 0))


def segment_intersections(a1: np.ndarray, b1: np.ndarray, a2: np.ndarray, b2: np.ndarray) -> np.ndarray:
    """(S1, S2) bool matrix: does segment i of set 1 properly intersect or touch segment j of set 2?

    Uses orientation tests with a tiny tolerance (1e-12 m^2) so that collinear overlaps count as
    intersections; callers mask out the pairs that legitimately share an endpoint (neighbours).
    """
    def orient(p, q, r):
        return (q[..., 0] - p[..., 0]) * (r[..., 1] - p[..., 1]) - (q[..., 1] - p[..., 1]) * (r[..., 0] - p[..., 0])

    A1, B1 = a1[:, None, :], b1[:, None, :]
    A2, B2 = a2[None, :, :], b2[None, :, :]
    eps = 1e-12
    o1 = orient(A1, B1, A2)
    o2 = orient(A1, B1, B2)
    o3 = orient(A2, B2, A1)
    o4 = orient(A2, B2, B1)
    proper = (((o1 > eps) & (o2 < -eps)) | ((o1 < -eps) & (o2 > eps))) & (
        ((o3 > eps) & (o4 < -eps)) | ((o3 < -eps) & (o4 > eps))
    )

    def on_segment(p, q, r, o):  # r collinear with p-q and within its bounding box
        return (np.abs(o) <= eps) & (np.minimum(p[..., 0], q[..., 0]) - 1e-12 <= r[..., 0]) & (
            r[..., 0] <= np.maximum(p[..., 0], q[..., 0]) + 1e-12) & (
            np.minimum(p[..., 1], q[..., 1]) - 1e-12 <= r[..., 1]) & (r[..., 1] <= np.maximum(p[..., 1], q[..., 1]) + 1e-12)

    touch = on_segment(A1, B1, A2, o1) | on_segment(A1, B1, B2, o2) | on_segment(A2, B2, A1, o3) | on_segment(A2, B2, B1, o4)
    return proper | touch


def self_intersection(points: np.ndarray, closed: bool) -> tuple[int, int] | None:
    """First pair (i, j) of non-neighbouring segments of one polyline that intersect, or None.

    O(S^2) memory/time in chunks; fine for the few hundred waypoints of a DeepRacer track.
    """
    a, b = segments(points, closed)
    s = len(a)
    if s < 3:
        return None
    idx = np.arange(s)
    chunk = 256
    for lo in range(0, s, chunk):
        hi = min(s, lo + chunk)
        hit = segment_intersections(a[lo:hi], b[lo:hi], a, b)
        i = idx[lo:hi, None]
        j = idx[None, :]
        gap = np.abs(i - j)
        if closed:
            gap = np.minimum(gap, s - gap)
        hit &= gap > 1
        if hit.any():
            ii, jj = np.argwhere(hit)[0]
            return int(ii + lo), int(jj)
    return None


def cross_intersection(p: np.ndarray, q: np.ndarray, closed: bool) -> tuple[int, int] | None:
    """First pair (i, j): segment i of polyline p intersects segment j of polyline q, or None."""
    a1, b1 = segments(p, closed)
    a2, b2 = segments(q, closed)
    chunk = 256
    for lo in range(0, len(a1), chunk):
        hit = segment_intersections(a1[lo:lo + chunk], b1[lo:lo + chunk], a2, b2)
        if hit.any():
            ii, jj = np.argwhere(hit)[0]
            return int(ii + lo), int(jj)
    return None


def resample_polyline(points: np.ndarray, closed: bool, n: int) -> np.ndarray:
    """n points evenly spaced by arc length along a polyline (a ring: n points, closing excluded)."""
    pts = np.asarray(points, dtype=np.float64)
    a, b = segments(pts, closed)
    seg = np.hypot(*(b - a).T)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    total = s[-1]
    targets = np.linspace(0.0, total, n, endpoint=not closed)
    chain = np.vstack([pts, pts[:1]]) if closed else pts
    x = np.interp(targets, s, chain[:, 0])
    y = np.interp(targets, s, chain[:, 1])
    return np.column_stack([x, y])
