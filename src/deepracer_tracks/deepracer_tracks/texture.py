"""Top-down raster textures of a track for the camera renderer.

`render_texture` draws a label map (uint8 per pixel: FLOOR, ROAD, BORDER, CENTRE) and an RGB image
for a `TextureStyle`. The simulator samples the texture bilinearly and randomizes colours through
the label map (``style.palette()[labels]``), so the labels are crisp (no anti-aliasing).

Geometry: pixel (row, col) covers world x in [ox + col*m, ox + (col+1)*m) and y in
[oy + row*m, oy + (row+1)*m), where (ox, oy) = ``origin_xy`` and m = ``metres_per_pixel``; rows
grow with +y (flip vertically to view it as a map with north up). ROAD is the road polygon between
the borders (the same region `Track.on_track` accepts, up to half a pixel). BORDER lines are
painted INSIDE the road along each border (as tape on a real track); the CENTRE line is a dashed
line centred on the centre line, dashes starting at waypoint 0 (the start line).
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from . import geometry as geo
from .track import Track

FLOOR = np.uint8(0)
ROAD = np.uint8(1)
BORDER = np.uint8(2)
CENTRE = np.uint8(3)
LABEL_NAMES = ("floor", "road", "border", "centre")

_MAX_PIXELS = 100_000_000


class TextureStyleError(ValueError):
    """A texture style or resolution is unusable; the message names the field."""


def _check_rgb(name: str, value) -> tuple[int, int, int]:
    try:
        rgb = tuple(int(v) for v in value)
        ok = len(rgb) == 3 and all(float(v) == int(v) for v in value)
    except (TypeError, ValueError):
        ok = False
    if not ok or not all(0 <= c <= 255 for c in rgb):
        raise TextureStyleError(f"TextureStyle.{name}: expected an RGB triple of integers 0-255, got {value!r}")
    return rgb


@dataclass(frozen=True)
class TextureStyle:
    """Colours (RGB 0-255) and line styles (metres) of a track texture."""

    floor_rgb: tuple[int, int, int] = (46, 120, 60)        # green carpet-like floor
    road_rgb: tuple[int, int, int] = (60, 60, 62)          # dark grey road
    border_rgb: tuple[int, int, int] = (245, 245, 245)     # white border lines
    centre_rgb: tuple[int, int, int] = (240, 200, 40)      # yellow centre dashes
    border_width_m: float = 0.05
    centre_width_m: float = 0.04
    dash_length_m: float = 0.15                            # painted part of a centre dash
    gap_length_m: float = 0.15                             # 0 -> solid centre line

    def __post_init__(self):
        for name in ("floor_rgb", "road_rgb", "border_rgb", "centre_rgb"):
            object.__setattr__(self, name, _check_rgb(name, getattr(self, name)))
        for name in ("border_width_m", "centre_width_m", "dash_length_m"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not np.isfinite(v) or v <= 0:
                raise TextureStyleError(f"TextureStyle.{name}: must be a positive number of metres, got {v!r}")
        g = self.gap_length_m
        if not isinstance(g, (int, float)) or not np.isfinite(g) or g < 0:
            raise TextureStyleError(f"TextureStyle.gap_length_m: must be >= 0 metres, got {g!r}")

    def palette(self) -> np.ndarray:
        """(4, 3) uint8 colours indexed by label (FLOOR, ROAD, BORDER, CENTRE)."""
        return np.array([self.floor_rgb, self.road_rgb, self.border_rgb, self.centre_rgb], dtype=np.uint8)


@dataclass
class TrackTexture:
    """A top-down raster of a track (see the module docstring for the pixel geometry)."""

    labels: np.ndarray                  # (H, W) uint8: FLOOR, ROAD, BORDER, CENTRE
    image: np.ndarray                   # (H, W, 3) uint8 in ``style``
    origin_xy: tuple[float, float]      # world x, y (m) of pixel (0, 0)'s corner
    metres_per_pixel: float
    style: TextureStyle

    def colorize(self, style: TextureStyle) -> np.ndarray:
        """(H, W, 3) uint8 image of the same labels in another style (colours only; line widths are baked in)."""
        return style.palette()[self.labels]

    def label_at(self, xy: np.ndarray) -> np.ndarray:
        """Labels (N,) at world points (N, 2) (nearest pixel; FLOOR outside the raster)."""
        p = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        col = np.floor((p[:, 0] - self.origin_xy[0]) / self.metres_per_pixel).astype(np.int64)
        row = np.floor((p[:, 1] - self.origin_xy[1]) / self.metres_per_pixel).astype(np.int64)
        h, w = self.labels.shape
        ok = (row >= 0) & (row < h) & (col >= 0) & (col < w)
        out = np.full(len(p), FLOOR, dtype=np.uint8)
        out[ok] = self.labels[row[ok], col[ok]]
        return out


_CACHE: "weakref.WeakKeyDictionary[Track, dict]" = weakref.WeakKeyDictionary()


def render_texture(track: Track, metres_per_pixel: float = 0.01, style: TextureStyle | None = None,
                   margin_m: float = 1.0) -> TrackTexture:
    """Rasterize ``track`` at ``metres_per_pixel`` with ``margin_m`` of floor around it.

    Results are cached per (track object, resolution, style, margin); the returned arrays are
    read-only (copy before editing). A 20 x 20 m track at 1 cm takes about a second.

    A track with an imported AWS world (``track.world``, see `aws_world`) gets its world's ground
    surfaces baked top-down instead of the synthetic lines, in the world's colours unless ``style``
    is given.
    """
    world = getattr(track, "world", None)
    style = style or (world.style() if world is not None else TextureStyle())
    if not isinstance(style, TextureStyle):
        raise TextureStyleError(f"style: expected a TextureStyle, got {type(style).__name__}")
    m = metres_per_pixel
    if not isinstance(m, (int, float)) or not np.isfinite(m) or m <= 0:
        raise TextureStyleError(f"metres_per_pixel: must be a positive number, got {m!r}")
    if not isinstance(margin_m, (int, float)) or not np.isfinite(margin_m) or margin_m < 0:
        raise TextureStyleError(f"margin_m: must be >= 0 metres, got {margin_m!r}")
    key = (float(m), style, float(margin_m))
    per_track = _CACHE.setdefault(track, {})
    if key in per_track:
        return per_track[key]

    pts = np.vstack([track.centre, track.inner, track.outer])
    lo = pts.min(axis=0) - margin_m
    hi = pts.max(axis=0) + margin_m
    width = int(np.ceil((hi[0] - lo[0]) / m))
    height = int(np.ceil((hi[1] - lo[1]) / m))
    if width * height > _MAX_PIXELS:
        raise TextureStyleError(f"metres_per_pixel: {m} m gives {width} x {height} pixels for track "
                                f"{track.name!r}; use a coarser resolution (limit {_MAX_PIXELS} pixels)")
    if world is not None:
        labels = world.bake_labels(lo, m, width, height)
        return _finish(track, per_track, key, labels, lo, m, style)
    road = _road_mask(track, lo, m, width, height)
    # PIL's fill is only good to about a pixel: redo the pixels near a border with the exact test
    near = np.zeros_like(road)
    for border in (track.inner, track.outer):
        near |= _near_polyline(road.shape, border, track.closed, lo, m, 2.0 * m)
    if not track.closed:   # the start and end caps of an open track
        for k in (0, -1):
            cap = np.vstack([track.inner[k], track.outer[k]])
            near |= _near_polyline(road.shape, cap, False, lo, m, 2.0 * m)
    rows, cols = np.nonzero(near)
    centres = lo + (np.column_stack([cols, rows]) + 0.5) * m
    road[rows, cols] = track.on_track(centres)
    labels = road.astype(np.uint8) * ROAD
    # border lines: road pixels within border_width of either border
    for border in (track.inner, track.outer):
        labels[_near_polyline(road.shape, border, track.closed, lo, m, style.border_width_m) & road] = BORDER
    # centre dashes, starting at waypoint 0
    dash = _near_polyline(road.shape, track.centre, track.closed, lo, m, 0.5 * style.centre_width_m,
                          dash=(style.dash_length_m, style.gap_length_m))
    labels[dash & road] = CENTRE
    return _finish(track, per_track, key, labels, lo, m, style)


def _finish(track: Track, per_track: dict, key, labels: np.ndarray, lo: np.ndarray, m: float,
            style: TextureStyle) -> TrackTexture:
    labels.setflags(write=False)
    image = style.palette()[labels]
    image.setflags(write=False)
    tex = TrackTexture(labels=labels, image=image, origin_xy=(float(lo[0]), float(lo[1])),
                       metres_per_pixel=float(m), style=style)
    per_track[key] = tex
    return tex


def _road_mask(track: Track, lo: np.ndarray, m: float, width: int, height: int) -> np.ndarray:
    """(H, W) bool: pixel centres inside the road polygon (PIL polygon fill, even-odd via a hole)."""
    from PIL import Image, ImageDraw

    def to_px(poly: np.ndarray) -> list[tuple[float, float]]:
        q = (poly - lo) / m - 0.5            # pixel-centre coordinates
        return [tuple(v) for v in q]

    img = Image.new("1", (width, height), 0)
    draw = ImageDraw.Draw(img)
    if track.closed:
        draw.polygon(to_px(track.outer), fill=1)
        draw.polygon(to_px(track.inner), fill=0)
    else:
        draw.polygon(to_px(np.vstack([track.inner, track.outer[::-1]])), fill=1)
    return np.array(img, dtype=bool)


def _near_polyline(shape: tuple[int, int], line: np.ndarray, closed: bool, lo: np.ndarray, m: float,
                   dist_m: float, dash: tuple[float, float] | None = None) -> np.ndarray:
    """(H, W) bool: pixel centres within ``dist_m`` of the polyline.

    With ``dash`` = (on, off) metres, only where the arc length of the nearest point on the segment,
    measured from the first vertex, falls in an "on" part of the pattern. One small window per
    segment, so the cost grows with the line length, not the raster size.
    """
    a, b = geo.segments(line, closed)
    seg_len = np.hypot(*(b - a).T)
    s0 = np.concatenate([[0.0], np.cumsum(seg_len)])[:-1]
    h, w = shape
    mask = np.zeros(shape, dtype=bool)
    pad = dist_m + m
    for i in range(len(a)):
        x0, y0 = np.minimum(a[i], b[i]) - pad
        x1, y1 = np.maximum(a[i], b[i]) + pad
        c0 = max(0, int(np.floor((x0 - lo[0]) / m)))
        c1 = min(w, int(np.ceil((x1 - lo[0]) / m)) + 1)
        r0 = max(0, int(np.floor((y0 - lo[1]) / m)))
        r1 = min(h, int(np.ceil((y1 - lo[1]) / m)) + 1)
        if c0 >= c1 or r0 >= r1:
            continue
        xs = lo[0] + (np.arange(c0, c1) + 0.5) * m
        ys = lo[1] + (np.arange(r0, r1) + 0.5) * m
        px = xs[None, :] - a[i, 0]
        py = ys[:, None] - a[i, 1]
        v = b[i] - a[i]
        t = np.clip((px * v[0] + py * v[1]) / max(seg_len[i] ** 2, 1e-300), 0.0, 1.0)
        dx = px - t * v[0]
        dy = py - t * v[1]
        hit = dx * dx + dy * dy <= dist_m * dist_m
        if dash is not None and dash[1] > 0:
            s = s0[i] + t * seg_len[i]
            hit &= np.mod(s, dash[0] + dash[1]) < dash[0]
        mask[r0:r1, c0:c1] |= hit
    return mask
