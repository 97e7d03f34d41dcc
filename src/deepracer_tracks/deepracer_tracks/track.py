"""The `Track` core type: centre/inner/outer polylines in metres and vectorised queries for N cars.

A track is three polylines with one row per waypoint: the centre line (the driving line that
progress is measured along), the inner border and the outer border. Closed tracks (loops) are
stored WITHOUT the repeated closing row; their last segment runs from waypoint W-1 back to 0.

Conventions (they match AWS DeepRacer's reward ``params``):

- the driving direction is the order of the centre-line waypoints; ``reversed()`` drives the
  other way;
- ``progress_pct`` is 0..100 along the centre line from waypoint 0 (the start line), wrapping on
  loops; an open track runs 0..100 from its first to its last waypoint;
- ``closest_waypoints`` = [previous, next]: the indices of the centre-line segment the car
  projects onto (next = previous + 1, wrapping to 0 on loops);
- ``is_left_of_center`` is relative to the driving direction;
- "inner"/"outer" are the DeepRacer ``.npy`` columns. For a loop the inner border is the one
  enclosed by the outer border (validated), whichever way the track is driven, so ``reversed()``
  reverses all three polylines and keeps inner as inner. For open tracks they are simply the two
  sides.
- "on the track" means inside the road polygon bounded by the two borders (AWS's simulator tests
  the wheels against the same polygon). This is exact for the polygon as given, also where the
  centre line is not midway between the borders (some official files), and it agrees with the
  texture that the camera renderer draws.

Queries are exact (no approximation) and vectorised: nearest centre-line segments are looked up
through a uniform grid of candidate segments, border crossings through horizontal bands of border
edges; points outside the grid fall back to brute force over all segments.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any
from pathlib import Path

import numpy as np

from . import geometry as geo


class TrackError(ValueError):
    """A track file or array is unusable; the message names the file/track and the problem."""


class TrackWarning(UserWarning):
    """A quirk that is accepted (as AWS's simulator accepts it) but worth knowing about."""


@dataclass
class TrackQuery:
    """Result of `Track.query` for N points; every field has leading dimension N."""

    s_m: np.ndarray                  # (N,) arc length (m) of the projection along the centre line
    progress_pct: np.ndarray         # (N,) 100 * s_m / length_m, in [0, 100) on loops
    distance_from_center_m: np.ndarray   # (N,) distance (m) to the centre line
    is_left_of_center: np.ndarray    # (N,) bool, relative to the driving direction
    closest_waypoints: np.ndarray    # (N, 2) int [previous, next] waypoint index (AWS)
    projection_xy: np.ndarray        # (N, 2) closest point on the centre line (m)
    half_width_m: np.ndarray         # (N,) half of the interpolated border-to-border width (m)
    heading_rad: np.ndarray          # (N,) direction of the centre-line segment (rad, atan2)


# Tolerances (metres).
_SAME_POINT_M = 1e-9       # consecutive rows closer than this are duplicates
_LOOP_CLOSE_M = 1e-6       # first row == last row within this -> a loop
_MIN_WIDTH_M = 1e-3        # narrower than 1 mm counts as zero width
# A track file in the wrong unit (cm, mm, 1e12 scale) is refused: the median road width must lie in
# [0.1, 10] m (official roads: 0.61-1.07 m) and no point may be farther than 10 km from the origin.
_MIN_MEDIAN_WIDTH_M = 0.1
_MAX_MEDIAN_WIDTH_M = 10.0
_MAX_EXTENT_M = 1e4
_MIN_OPEN_WAYPOINTS = 4    # an open route needs a few segments (3 points: refused)


class Track:
    """A DeepRacer track: centre, inner and outer polylines (W, 2) in metres.

    Build one with `Track.from_array` / `Track.from_npy` (validated DeepRacer layout) or with the
    constructor (validated too unless ``validate=False``). Instances are treated as immutable.
    """

    def __init__(self, centre: np.ndarray, inner: np.ndarray, outer: np.ndarray, closed: bool = True,
                 name: str = "track", source: str | Path | None = None, validate: bool = True):
        self.name = str(name)
        self.source = None if source is None else str(source)
        self.closed = bool(closed)
        self.centre = np.array(centre, dtype=np.float64).reshape(-1, 2)
        self.inner = np.array(inner, dtype=np.float64).reshape(-1, 2)
        self.outer = np.array(outer, dtype=np.float64).reshape(-1, 2)
        for arr in (self.centre, self.inner, self.outer):
            arr.setflags(write=False)
        self.warnings: list[str] = []
        if validate:
            self.warnings = validate_polylines(self.centre, self.inner, self.outer, self.closed, self._where())
            for message in self.warnings:
                warnings.warn(message, TrackWarning, stacklevel=2)

        a, b = geo.segments(self.centre, self.closed)
        self._seg_a = a
        self._seg_v = b - a
        self._seg_len = np.hypot(self._seg_v[:, 0], self._seg_v[:, 1])
        self._seg_len2 = np.maximum(self._seg_len ** 2, 1e-300)
        self._seg_heading = np.arctan2(self._seg_v[:, 1], self._seg_v[:, 0])
        # contiguous per-segment columns for the gathers in the hot query path
        self._ax, self._ay = self._seg_a[:, 0].copy(), self._seg_a[:, 1].copy()
        self._vx, self._vy = self._seg_v[:, 0].copy(), self._seg_v[:, 1].copy()
        self._inv_len2 = 1.0 / self._seg_len2
        self._s_wp = np.concatenate([[0.0], np.cumsum(self._seg_len)])[: len(self.centre)]
        self.length_m = float(np.sum(self._seg_len))
        self.widths_m = np.hypot(*(self.outer - self.inner).T)
        self.widths_m.setflags(write=False)
        self.width_m = float(np.median(self.widths_m))
        area = geo.signed_area(self.centre)
        self.direction = "counterclockwise" if area >= 0.0 else "clockwise"
        self._grid = None
        self._bands = None
        self._border_table: _BorderNearest | None = None
        self._reversed: Track | None = None
        #: the imported AWS world this route belongs to (deepracer_tracks.aws_world.AwsWorld), or None
        self.world: Any = None

    # ------------------------------------------------------------------ construction / IO
    def _where(self) -> str:
        return f"track {self.name!r}" + (f" ({self.source})" if self.source else "")

    def __repr__(self) -> str:
        kind = "loop" if self.closed else "open"
        return (f"Track({self.name!r}, {kind}, {len(self.centre)} waypoints, length {self.length_m:.2f} m, "
                f"width {self.width_m:.3f} m, {self.direction})")

    @property
    def n_waypoints(self) -> int:
        """Number of waypoints W (closing row excluded)."""
        return len(self.centre)

    @property
    def waypoint_s_m(self) -> np.ndarray:
        """(W,) arc length (m) of each centre-line waypoint from waypoint 0."""
        return self._s_wp.copy()

    @classmethod
    def from_array(cls, arr, name: str = "track", source: str | Path | None = None) -> "Track":
        """Build and validate a track from a DeepRacer (N, 6) array: centre x,y | inner x,y | outer x,y.

        A loop iff the first row equals the last (the closing row is then dropped); consecutive
        duplicate rows are dropped. Raises TrackError naming ``source`` (or ``name``) and the problem.
        """
        where = f"track {name!r}" + (f" ({source})" if source else "")
        a = np.asarray(arr)
        if a.dtype == object or not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
            raise TrackError(f"{where}: expected a numeric array of shape (N, 6), got dtype {a.dtype}")
        if a.ndim != 2 or a.shape[1] != 6:
            raise TrackError(f"{where}: expected an array of shape (N, 6) (centre x,y | inner x,y | outer x,y), "
                             f"got shape {a.shape}")
        a = a.astype(np.float64)
        if not np.all(np.isfinite(a)):
            row = int(np.argwhere(~np.isfinite(a))[0][0])
            raise TrackError(f"{where}: contains NaN or infinite values (first at row {row})")
        if len(a) < 2:
            raise TrackError(f"{where}: too few points ({len(a)} rows); a track needs at least 3 waypoints")
        closed = bool(np.all(np.abs(a[0] - a[-1]) <= _LOOP_CLOSE_M)) and len(a) > 2
        if closed:
            a = a[:-1]
        # drop consecutive duplicates of the centre point (keep the first), including last == first on loops
        keep = np.ones(len(a), dtype=bool)
        keep[1:] = np.hypot(*(a[1:, :2] - a[:-1, :2]).T) > _SAME_POINT_M
        a = a[keep]
        if closed and len(a) > 1 and np.hypot(*(a[-1, :2] - a[0, :2])) <= _SAME_POINT_M:
            a = a[:-1]
        if len(a) < (3 if closed else 2):
            raise TrackError(f"{where}: too few distinct points ({len(a)}); a {'loop' if closed else 'open track'} "
                             f"needs at least {3 if closed else 2}")
        return cls(a[:, 0:2], a[:, 2:4], a[:, 4:6], closed=closed, name=name, source=source)

    @classmethod
    def from_npy(cls, path: str | Path, name: str | None = None) -> "Track":
        """Load and validate a DeepRacer ``.npy`` track file; the name defaults to the file stem."""
        path = Path(path)
        if not path.is_file():
            raise TrackError(f"track file {path}: no such file")
        try:
            arr = np.load(path, allow_pickle=False)
        except Exception as exc:  # noqa: BLE001 - any unreadable file is a user error here
            raise TrackError(f"track file {path}: not a readable .npy array ({exc})") from None
        return cls.from_array(arr, name=name or path.stem, source=path)

    def to_array(self) -> np.ndarray:
        """(N, 6) DeepRacer layout; a loop repeats its first row at the end."""
        arr = np.hstack([self.centre, self.inner, self.outer])
        if self.closed:
            arr = np.vstack([arr, arr[:1]])
        return arr

    def to_npy(self, path: str | Path) -> None:
        """Write the DeepRacer ``.npy`` file atomically (deepracer_common.fileio)."""
        from deepracer_common.fileio import atomic_open

        with atomic_open(path, "wb") as f:
            np.save(f, self.to_array())

    def reversed(self) -> "Track":
        """The same track driven the other way: all polylines reversed, inner stays the inner border.

        Waypoint 0 stays the start line (the new order is 0, W-1, ..., 1 on loops). The result is
        cached (and its own ``reversed()`` is this track), so the query tables are built once per
        direction even when an env alternates directions every episode.
        """
        if self._reversed is not None:
            return self._reversed
        if self.closed:
            order = np.concatenate([[0], np.arange(len(self.centre) - 1, 0, -1)])
        else:
            order = np.arange(len(self.centre) - 1, -1, -1)
        t = Track(self.centre[order], self.inner[order], self.outer[order], closed=self.closed,
                  name=self.name, source=self.source, validate=False)
        t.warnings = list(self.warnings)
        t.world = self.world
        t._reversed = self
        self._reversed = t
        return t

    # ------------------------------------------------------------------ queries
    def query(self, xy: np.ndarray) -> TrackQuery:
        """Project points (N, 2) onto the centre line and derive DeepRacer's per-car quantities."""
        p = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        seg, t = self._nearest_segments(p)
        a = self._seg_a[seg]
        v = self._seg_v[seg]
        proj = a + t[:, None] * v
        d = p - proj
        dist = np.hypot(d[:, 0], d[:, 1])
        left = (v[:, 0] * d[:, 1] - v[:, 1] * d[:, 0]) > 0.0
        s = self._s_wp[seg] + t * self._seg_len[seg]
        w_count = len(self.centre)
        nxt = seg + 1
        if self.closed:
            s = np.where(s >= self.length_m, s - self.length_m, s)
            nxt = nxt % w_count
            progress = 100.0 * s / self.length_m
        else:
            progress = np.clip(100.0 * s / self.length_m, 0.0, 100.0)
        widths = self.widths_m
        half = 0.5 * ((1.0 - t) * widths[seg] + t * widths[nxt])
        return TrackQuery(
            s_m=s,
            progress_pct=progress,
            distance_from_center_m=dist,
            is_left_of_center=left,
            closest_waypoints=np.column_stack([seg, nxt]).astype(np.int64),
            projection_xy=proj,
            half_width_m=half,
            heading_rad=self._seg_heading[seg].copy(),
        )

    def border_points_from_projection(self, seg: np.ndarray, proj_xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The points of the inner and of the outer border nearest to points ON the centre line (AWS's
        ``track_data.get_nearest_points``): ``proj_xy`` (N, 2) lying on centre segments ``seg`` (N,), i.e.
        ``TrackQuery.projection_xy`` and ``closest_waypoints[:, 0]``. Returns two (N, 2) arrays (m).
        Exact, through a per-centre-segment table of the border segments that can be nearest."""
        if self._border_table is None:
            self._border_table = _BorderNearest(self)
        return self._border_table.nearest(np.asarray(seg, dtype=np.int64), np.asarray(proj_xy, dtype=np.float64))

    def on_track(self, points: np.ndarray) -> np.ndarray:
        """(..., 2) points -> (...) bool: inside the road polygon between the borders (exact)."""
        pts = np.asarray(points, dtype=np.float64)
        shape = pts.shape[:-1]
        p = pts.reshape(-1, 2)
        if self._bands is None:
            self._bands = _BorderBands(self)
        return self._bands.contains(p).reshape(shape)

    def pose_at(self, s_m) -> tuple[np.ndarray, np.ndarray]:
        """Point (N, 2) on the centre line and its heading (N,) in radians at arc lengths s_m (metres).

        Loops wrap s modulo the length; open tracks clip s to [0, length].
        """
        s = np.atleast_1d(np.asarray(s_m, dtype=np.float64))
        if self.closed:
            s = np.mod(s, self.length_m)
        else:
            s = np.clip(s, 0.0, self.length_m)
        seg = np.clip(np.searchsorted(self._s_wp, s, side="right") - 1, 0, len(self._seg_len) - 1)
        t = np.clip((s - self._s_wp[seg]) / np.maximum(self._seg_len[seg], 1e-300), 0.0, 1.0)
        xy = self._seg_a[seg] + t[:, None] * self._seg_v[seg]
        return xy, self._seg_heading[seg].copy()

    def progress_pct(self, s_m, start_s_m) -> np.ndarray:
        """Progress 0..100 (percent) from the start point ``start_s_m`` to ``s_m`` along the driving direction.

        Loops: 100 * ((s - start) mod length) / length, in [0, 100). Open tracks: the fraction of
        the remaining distance from the start to the end, clipped to [0, 100]. THE one place that
        defines progress (the env and evaluation call it).
        """
        s = np.asarray(s_m, dtype=np.float64)
        start = np.asarray(start_s_m, dtype=np.float64)
        if self.closed:
            out = 100.0 * np.mod(s - start, self.length_m) / self.length_m
            return np.where(out >= 100.0, 0.0, out)
        remaining = np.maximum(self.length_m - start, 1e-12)
        return np.clip(100.0 * (s - start) / remaining, 0.0, 100.0)

    # ------------------------------------------------------------------ internals
    def _project_all(self, p: np.ndarray, seg_idx: np.ndarray | None = None):
        """Brute force: nearest segment for each point among seg_idx (S,) or all segments."""
        idx = np.arange(len(self._seg_len)) if seg_idx is None else seg_idx
        a = self._seg_a[idx]
        v = self._seg_v[idx]
        wx = p[:, None, 0] - a[None, :, 0]
        wy = p[:, None, 1] - a[None, :, 1]
        t = np.clip((wx * v[None, :, 0] + wy * v[None, :, 1]) / self._seg_len2[idx][None, :], 0.0, 1.0)
        dx = wx - t * v[None, :, 0]
        dy = wy - t * v[None, :, 1]
        d2 = dx * dx + dy * dy
        k = np.argmin(d2, axis=1)
        rows = np.arange(len(p))
        return idx[k], t[rows, k]

    def _nearest_segments(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self._grid is None:
            self._grid = _SegmentGrid(self)
        return self._grid.nearest(p)


class _SegmentGrid:
    """Uniform grid over the track; each cell lists every centre segment that can be nearest to a point in it.

    For a cell with centre c and half diagonal r, a segment j can only be nearest to some point of
    the cell if dist(c, j) <= min_k dist(c, k) + 2 r (triangle inequality). The lists are built in
    two levels (coarse cells against all segments, fine cells against their coarse cell's list).
    Candidate lists are sorted, so argmin ties resolve to the lowest segment index exactly as in
    brute force. Cells with too many candidates (e.g. the middle of a round loop) and points outside
    the grid use brute force over all segments.
    """

    MAX_CANDIDATES = 12
    FINE = 5                      # fine cells per coarse cell along each axis

    def __init__(self, track: Track):
        self.track = track
        a = track._seg_a
        b = a + track._seg_v
        pts = np.vstack([track.centre, track.inner, track.outer])
        lo = pts.min(axis=0) - 1.0
        hi = pts.max(axis=0) + 1.0
        coarse = 0.4
        while np.prod(np.ceil((hi - lo) / coarse)) > 40_000:     # keep tables small on huge tracks
            coarse *= 1.5
        cshape = np.ceil((hi - lo) / coarse).astype(int)
        f = self.FINE
        self.cell = coarse / f
        self.lo = lo
        self.shape = cshape * f
        # level 1: coarse cells against every segment
        gx = lo[0] + (np.arange(cshape[0]) + 0.5) * coarse
        gy = lo[1] + (np.arange(cshape[1]) + 0.5) * coarse
        cc = np.stack(np.meshgrid(gx, gy, indexing="ij"), axis=-1).reshape(-1, 2)
        d = geo.point_segment_distance(cc[:, None, :], a[None, :, :], b[None, :, :])
        ccand = d <= d.min(axis=1, keepdims=True) + 2.0 * coarse * np.sqrt(0.5) + 1e-9
        kc = int(ccand.sum(axis=1).max())
        corder = np.argsort(~ccand, axis=1, kind="stable")[:, :kc]          # candidates first, ascending
        cvalid = np.take_along_axis(ccand, corder, axis=1)
        # level 2: fine cells of each coarse cell against that cell's candidates
        off = (np.arange(f) + 0.5) * self.cell - 0.5 * coarse
        fo = np.stack(np.meshgrid(off, off, indexing="ij"), axis=-1).reshape(-1, 2)   # (f*f, 2)
        k_max = self.MAX_CANDIDATES
        n_c = len(cc)
        table = np.zeros((n_c, f * f, k_max), dtype=np.int32)
        dense = np.zeros((n_c, f * f), dtype=bool)
        r = self.cell * np.sqrt(0.5)
        chunk = max(1, 1_500_000 // (f * f * kc))
        for i0 in range(0, n_c, chunk):
            i1 = min(n_c, i0 + chunk)
            fc = cc[i0:i1, None, :] + fo[None, :, :]                       # (C, F, 2)
            segs = corder[i0:i1]                                          # (C, Kc)
            dd = geo.point_segment_distance(fc[:, :, None, :], a[segs][:, None], b[segs][:, None])
            dd = np.where(cvalid[i0:i1, None, :], dd, np.inf)             # (C, F, Kc)
            cand = dd <= dd.min(axis=2, keepdims=True) + 2.0 * r + 1e-9
            cnt = cand.sum(axis=2)
            dense[i0:i1] = cnt > k_max
            kk = min(k_max, cand.shape[2])
            order = np.argsort(~cand, axis=2, kind="stable")[:, :, :kk]      # positions into segs
            ok = np.take_along_axis(cand, order, axis=2)
            seg_ids = np.take_along_axis(np.broadcast_to(segs[:, None, :], cand.shape), order, axis=2)
            last = np.take_along_axis(seg_ids, np.clip(np.minimum(cnt, kk) - 1, 0, None)[..., None], axis=2)
            # pad with the last real candidate: a duplicate never changes the argmin
            table[i0:i1, :, :kk] = np.where(ok, seg_ids, last)
            table[i0:i1, :, kk:] = last
        # reorder from (coarse cell, fine offset) to a flat fine-grid index
        cx, cy = np.meshgrid(np.arange(cshape[0]), np.arange(cshape[1]), indexing="ij")
        fx, fy = np.meshgrid(np.arange(f), np.arange(f), indexing="ij")
        gx_i = (cx.reshape(-1, 1) * f + fx.reshape(1, -1)).ravel()
        gy_i = (cy.reshape(-1, 1) * f + fy.reshape(1, -1)).ravel()
        flat = gx_i * self.shape[1] + gy_i
        n_f = int(self.shape[0] * self.shape[1])
        ft = np.zeros((n_f, k_max), dtype=np.int32)
        fd = np.zeros(n_f, dtype=bool)
        ft[flat] = table.reshape(-1, k_max)
        fd[flat] = dense.reshape(-1)
        counts_ok = ~fd
        used = 1
        if counts_ok.any():
            # trim columns that are pure padding everywhere
            same = ft == ft[:, -1:]
            first_pad = np.argmax(same, axis=1)
            used = int(max(1, first_pad[counts_ok].max() + 1))
        self.table = np.ascontiguousarray(ft[:, :used])
        self.dense = fd

    def nearest(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        tr = self.track
        ij = np.floor((p - self.lo) / self.cell).astype(np.int64)
        inside = (ij[:, 0] >= 0) & (ij[:, 1] >= 0) & (ij[:, 0] < self.shape[0]) & (ij[:, 1] < self.shape[1])
        cell = np.where(inside, ij[:, 0] * self.shape[1] + ij[:, 1], 0)
        fast = inside & ~self.dense[cell]
        if fast.all():
            return self._from_candidates(p, self.table[cell])
        seg = np.empty(len(p), dtype=np.int64)
        t = np.empty(len(p), dtype=np.float64)
        if fast.any():
            seg[fast], t[fast] = self._from_candidates(p[fast], self.table[cell[fast]])
        slow = ~fast
        seg[slow], t[slow] = tr._project_all(p[slow])
        return seg, t

    def _from_candidates(self, p: np.ndarray, cand: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        tr = self.track
        wx = p[:, 0:1] - tr._ax[cand]
        wy = p[:, 1:2] - tr._ay[cand]
        vx = tr._vx[cand]
        vy = tr._vy[cand]
        t = wx * vx
        t += wy * vy
        t *= tr._inv_len2[cand]
        np.clip(t, 0.0, 1.0, out=t)
        wx -= t * vx
        wy -= t * vy
        wx *= wx
        wy *= wy
        wx += wy
        k = np.argmin(wx, axis=1)
        rows = np.arange(len(p))
        return cand[rows, k].astype(np.int64), t[rows, k]


class _BorderNearest:
    """For each centre segment j, the inner and outer border segments that can be nearest to a point of j.

    Any point P of j has a nearest-border distance <= U_j = min_k max(d(a_j, k), d(b_j, k)) (distance
    to a segment is convex along j), and its distance to border segment k is >= the segment-segment
    distance L_jk; so only segments with L_jk <= U_j can be nearest. Lookup = one gather and one
    projection over the few candidates, for both borders at once. Exact (ties aside).
    """

    def __init__(self, track: Track):
        ca = track._seg_a
        cb = ca + track._seg_v
        tables, segs = [], []
        offset = 0
        for line in (track.inner, track.outer):
            a, b = geo.segments(line, track.closed)
            rows = []
            for j0 in range(0, len(ca), 256):
                A, B = ca[j0:j0 + 256], cb[j0:j0 + 256]
                d_a = geo.point_segment_distance(A[:, None], a[None], b[None])
                d_b = geo.point_segment_distance(B[:, None], a[None], b[None])
                upper = np.maximum(d_a, d_b).min(axis=1)
                lower = np.minimum(np.minimum(d_a, d_b),
                                   np.minimum(geo.point_segment_distance(a[None], A[:, None], B[:, None]),
                                              geo.point_segment_distance(b[None], A[:, None], B[:, None])))
                lower[geo.segment_intersections(A, B, a, b)] = 0.0
                cand = lower <= upper[:, None] + 1e-9
                rows.extend(np.flatnonzero(c) + offset for c in cand)
            k = max(len(r) for r in rows)
            tables.append(np.array([np.concatenate([r, np.full(k - len(r), r[-1])]) for r in rows], dtype=np.int64))
            segs.append((a, b))
            offset += len(a)
        self.k_inner = tables[0].shape[1]
        self.table = np.hstack(tables)
        a = np.vstack([segs[0][0], segs[1][0]])
        v = np.vstack([segs[0][1], segs[1][1]]) - a
        self.ax, self.ay, self.vx, self.vy = a[:, 0].copy(), a[:, 1].copy(), v[:, 0].copy(), v[:, 1].copy()
        self.inv_len2 = 1.0 / np.maximum(v[:, 0] ** 2 + v[:, 1] ** 2, 1e-300)

    def nearest(self, seg: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        inner = np.empty((len(p), 2))
        outer = np.empty((len(p), 2))
        _border_kernel()(self.table, self.k_inner, self.ax, self.ay, self.vx, self.vy, self.inv_len2,
                               np.ascontiguousarray(seg, dtype=np.int64), np.ascontiguousarray(p), inner, outer)
        return inner, outer


_KERNEL: list = []


def _border_kernel():
    """The numba kernel of :class:`_BorderNearest` (compiled on first use: `deepracer tracks` stays light)."""
    if not _KERNEL:
        import numba

        _KERNEL.append(numba.njit(cache=True, nogil=True)(_nearest_on_candidates))
    return _KERNEL[0]


def _nearest_on_candidates(table, k_inner, ax, ay, vx, vy, inv_len2, seg, p, inner, outer):  # pragma: no cover
    """Per point: the nearest point on its candidate segments, inner ones first (ties: the first)."""
    for n in range(seg.shape[0]):
        row = table[seg[n]]
        best = (np.inf, np.inf)
        px, py = p[n, 0], p[n, 1]
        for c in range(row.shape[0]):
            s = row[c]
            wx, wy = px - ax[s], py - ay[s]
            t = (wx * vx[s] + wy * vy[s]) * inv_len2[s]
            t = 0.0 if t < 0.0 else (1.0 if t > 1.0 else t)
            dx, dy = wx - t * vx[s], wy - t * vy[s]
            d2 = dx * dx + dy * dy
            side = 0 if c < k_inner else 1
            if d2 < best[side]:
                if side == 0:
                    best = (d2, best[1])
                    inner[n, 0], inner[n, 1] = ax[s] + t * vx[s], ay[s] + t * vy[s]
                else:
                    best = (best[0], d2)
                    outer[n, 0], outer[n, 1] = ax[s] + t * vx[s], ay[s] + t * vy[s]


class _BorderBands:
    """Exact, fast even-odd test against the road polygon.

    The road polygon of a loop is the outer ring with the inner ring as a hole; of an open track,
    the ring inner[0..W-1] + outer[W-1..0]. A raster of small cells classifies most points at once:
    cells that no border edge touches (found by sampling the edges and dilating by one cell) are
    uniformly inside or outside (one test per connected component). Points in the remaining cells
    get the exact ray-casting test, where a +x ray only meets edges whose y range covers the
    point's y, so horizontal bands list just those edges.
    """

    CELL_M = 0.025

    def __init__(self, track: Track):
        from scipy import ndimage

        if track.closed:
            a1, b1 = geo.segments(track.outer, True)
            a2, b2 = geo.segments(track.inner, True)
            a = np.vstack([a1, a2])
            b = np.vstack([b1, b2])
        else:
            ring = np.vstack([track.inner, track.outer[::-1]])
            a, b = geo.segments(ring, True)
        n_edges = len(a)
        # a dummy edge at y = +inf never straddles a finite y: used as padding
        self.a = np.vstack([a, [[0.0, np.inf]]])
        self.b = np.vstack([b, [[0.0, np.inf]]])
        ymin = np.minimum(a[:, 1], b[:, 1])
        ymax = np.maximum(a[:, 1], b[:, 1])
        self.y0 = float(ymin.min())
        span = float(ymax.max()) - self.y0
        self.n_bands = int(np.clip(np.ceil(span / 0.05), 1, 4000))
        self.h = max(span / self.n_bands, 1e-9)
        first = np.clip(((ymin - self.y0) / self.h).astype(np.int64), 0, self.n_bands - 1)
        last = np.clip(((ymax - self.y0) / self.h).astype(np.int64), 0, self.n_bands - 1)
        members: list[list[int]] = [[] for _ in range(self.n_bands)]
        for e in range(n_edges):
            for k in range(first[e], last[e] + 1):
                members[k].append(e)
        width = max(1, max(len(m) for m in members))
        table = np.full((self.n_bands, width), n_edges, dtype=np.int32)
        for k, m in enumerate(members):
            table[k, :len(m)] = m
        self.table = table

        # classification raster: 0 outside, 1 inside, 2 near a border (exact test needed)
        lo = np.minimum(a.min(axis=0), b.min(axis=0)) - 0.1
        hi = np.maximum(a.max(axis=0), b.max(axis=0)) + 0.1
        cell = self.CELL_M
        while np.prod(np.ceil((hi - lo) / cell)) > 4_000_000:
            cell *= 1.5
        shape = np.ceil((hi - lo) / cell).astype(int)
        boundary = np.zeros(shape, dtype=bool)
        seg_len = np.hypot(*(b - a).T)
        n_s = np.maximum(2, np.ceil(seg_len / (0.25 * cell)).astype(int) + 1)
        t = np.concatenate([np.linspace(0.0, 1.0, n) for n in n_s])
        e = np.repeat(np.arange(n_edges), n_s)
        samples = a[e] + t[:, None] * (b[e] - a[e])
        ij = np.clip(np.floor((samples - lo) / cell).astype(np.int64), 0, shape - 1)
        boundary[ij[:, 0], ij[:, 1]] = True
        boundary = ndimage.binary_dilation(boundary, structure=np.ones((3, 3), dtype=bool))
        labels, n_lab = ndimage.label(~boundary)       # 4-connected components of border-free cells
        status = np.full(shape, 2, dtype=np.uint8)
        if n_lab:
            idx = ndimage.labeled_comprehension(np.arange(labels.size).reshape(shape), labels,
                                                np.arange(1, n_lab + 1), np.min, np.int64, -1)
            ci, cj = np.unravel_index(idx, shape)
            centres = lo + (np.column_stack([ci, cj]) + 0.5) * cell
            inside = self._exact(centres)
            lut = np.concatenate([[2], inside.astype(np.uint8)])
            status = lut[labels].astype(np.uint8)
        self.lo, self.cell, self.shape, self.status = lo, cell, shape, status

    def _exact(self, p: np.ndarray) -> np.ndarray:
        band = np.floor((p[:, 1] - self.y0) / self.h).astype(np.int64)
        valid = (band >= 0) & (band < self.n_bands)
        edges = self.table[np.clip(band, 0, self.n_bands - 1)]   # (N, K)
        a = self.a[edges]
        b = self.b[edges]
        inside = geo._crossing_parity(p[:, None, 0], p[:, None, 1], a[..., 0], a[..., 1], b[..., 0], b[..., 1])
        return inside & valid

    def contains(self, p: np.ndarray) -> np.ndarray:
        ij = np.floor((p - self.lo) / self.cell).astype(np.int64)
        in_box = (ij[:, 0] >= 0) & (ij[:, 1] >= 0) & (ij[:, 0] < self.shape[0]) & (ij[:, 1] < self.shape[1])
        st = np.where(in_box, self.status[np.clip(ij[:, 0], 0, self.shape[0] - 1),
                                          np.clip(ij[:, 1], 0, self.shape[1] - 1)], 0)
        out = st == 1
        near = st == 2
        if near.any():
            out[near] = self._exact(p[near])
        return out


# ---------------------------------------------------------------------- validation
def validate_polylines(centre: np.ndarray, inner: np.ndarray, outer: np.ndarray, closed: bool,
                       where: str = "track") -> list[str]:
    """Check a track's geometry; raise TrackError naming ``where`` and the problem, return warnings.

    Checks: matching shapes, finite values, enough points (an open track: 4), metres (a median road
    width of 0.1-10 m, points within 10 km), no zero width, each polyline free of self-intersections,
    the borders not crossing each other; loops: the inner border enclosed by the outer one and the
    centre line inside the road; open tracks: the road polygon simple with the centre line inside.
    """
    warns: list[str] = []
    shapes = {arr.shape for arr in (centre, inner, outer)}
    if len(shapes) != 1 or centre.ndim != 2 or centre.shape[1] != 2:
        raise TrackError(f"{where}: centre, inner and outer must all have shape (W, 2), got {sorted(shapes)}")
    if not (np.all(np.isfinite(centre)) and np.all(np.isfinite(inner)) and np.all(np.isfinite(outer))):
        raise TrackError(f"{where}: contains NaN or infinite values")
    w = len(centre)
    if w < (3 if closed else 2):
        raise TrackError(f"{where}: too few points ({w}); a {'loop' if closed else 'open track'} needs at least "
                         f"{3 if closed else 2}")
    seg = np.hypot(*np.diff(np.vstack([centre, centre[:1]]) if closed else centre, axis=0).T)
    if np.any(seg <= _SAME_POINT_M):
        i = int(np.argmax(seg <= _SAME_POINT_M))
        raise TrackError(f"{where}: repeated centre point at waypoint {i}")
    width = np.hypot(*(outer - inner).T)
    median_width = float(np.median(width))
    extent = float(max(np.abs(centre).max(), np.abs(inner).max(), np.abs(outer).max()))
    if not (_MIN_MEDIAN_WIDTH_M <= median_width <= _MAX_MEDIAN_WIDTH_M) or extent > _MAX_EXTENT_M:
        unit = ("centimetres (scale by 0.01)" if 10 < median_width <= 300
                else "millimetres or another unit" if median_width > 300
                else "kilometres (scale by 1000)" if median_width < _MIN_MEDIAN_WIDTH_M else "another unit")
        raise TrackError(f"{where}: not in metres? the road is {median_width:.4g} m wide (median) and the points "
                         f"reach {extent:.4g} m from the origin; DeepRacer tracks are in metres (official roads "
                         f"are 0.6-1.1 m wide, a few to 70 m long); is the file in {unit}?")
    if not closed and w < _MIN_OPEN_WAYPOINTS:
        raise TrackError(f"{where}: an open track needs at least {_MIN_OPEN_WAYPOINTS} waypoints, got {w}; "
                         f"too short to drive (a loop repeats its first row as its last)")
    if np.any(width < _MIN_WIDTH_M):
        i = int(np.argmax(width < _MIN_WIDTH_M))
        raise TrackError(f"{where}: zero width at waypoint {i} (inner and outer border at the same point "
                         f"({inner[i, 0]:.3f}, {inner[i, 1]:.3f}))")

    for label, line in (("centre line", centre), ("inner border", inner), ("outer border", outer)):
        hit = geo.self_intersection(line, closed)
        if hit is not None:
            x, y = line[hit[0]]
            raise TrackError(f"{where}: the {label} intersects itself (segments {hit[0]} and {hit[1]}, "
                             f"near x={x:.3f}, y={y:.3f})")
    hit = geo.cross_intersection(inner, outer, closed)
    if hit is not None:
        x, y = inner[hit[0]]
        raise TrackError(f"{where}: the inner and outer borders cross each other (inner segment {hit[0]}, "
                         f"outer segment {hit[1]}, near x={x:.3f}, y={y:.3f})")

    if closed:
        # A loop's road is the polygon between the outer ring and the inner ring (AWS's simulator uses
        # exactly that polygon): it is valid when the rings are simple, do not cross and the inner one is
        # enclosed. Which row's border points lie on which side of the centre line's local tangent is
        # NOT a validity test: official files pair border rows with a skew at hairpins (Tokyo_Training_track
        # at waypoint 100), where that test rejected a valid road.
        area_in = abs(geo.signed_area(inner))
        area_out = abs(geo.signed_area(outer))
        inner_in_outer = geo.points_in_ring(inner, outer)
        outer_in_inner = geo.points_in_ring(outer, inner)
        if area_in > area_out and outer_in_inner.all():
            raise TrackError(f"{where}: inner and outer borders are swapped (the inner border encloses the outer one)")
        if not inner_in_outer.all():
            i = int(np.argmax(~inner_in_outer))
            raise TrackError(f"{where}: the inner border is not enclosed by the outer border (waypoint {i})")
        centre_ok = geo.points_in_ring(centre, outer) & ~geo.points_in_ring(centre, inner)
        if not centre_ok.all():
            i = int(np.argmax(~centre_ok))
            raise TrackError(f"{where}: negative width at waypoint {i}: the centre waypoint lies outside the road "
                             f"between the borders")
        # the centre line must not cross a border either
        for label, line in (("inner", inner), ("outer", outer)):
            hit = geo.cross_intersection(centre, line, True)
            if hit is not None:
                raise TrackError(f"{where}: negative width near waypoint {hit[0]}: the centre line crosses the "
                                 f"{label} border (centre segment {hit[0]})")
    else:
        # an open road: the ring inner[0..W-1] + outer[W-1..0] must be simple, and the centre line
        # must run inside it (its end points lie on the end caps)
        ring = np.vstack([inner, outer[::-1]])
        hit = geo.self_intersection(ring, True)
        if hit is not None:
            i = hit[0] if hit[0] < w else 2 * w - 1 - hit[0]
            raise TrackError(f"{where}: negative width near waypoint {i}: the inner and outer borders must lie on "
                             f"opposite sides of the centre line, consistently along the track")
        inside = geo.points_in_ring(centre[1:-1], ring)
        if not inside.all():
            i = int(np.argmax(~inside)) + 1
            raise TrackError(f"{where}: negative width at waypoint {i}: the inner and outer borders must lie on "
                             f"opposite sides of the centre line, consistently along the track")
    # accepted quirk (some official AWS files): the centre line is not midway between the borders
    offset = np.hypot(*(0.5 * (inner + outer) - centre).T)
    i = int(np.argmax(offset / width))
    if offset[i] > 0.1 * width[i]:
        warns.append(f"{where}: the centre line is up to {offset[i]:.3f} m off the middle of the road (waypoint "
                     f"{i}, {100 * offset[i] / width[i]:.0f}% of the width); progress and distance_from_center "
                     f"follow the centre line as given, on-track uses the borders")
    return warns
