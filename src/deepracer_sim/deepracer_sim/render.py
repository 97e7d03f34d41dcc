"""Batched camera renderer for a flat track: ray tables + a mip-mapped label texture + one numba loop.

Why it is exact and fast: the track is a plane (z = 0), so the ground point a pixel sees, expressed
in the car's own frame, does not depend on where the car is, only on the camera. It is computed once
per camera (`RayTable`); per frame and per car the renderer only rotates it by the yaw, adds the
car's position and looks the point up in the texture. No triangles, no depth buffer.

World model (what a ray can hit, nearest first):

1. the ground inside the track texture (`GroundTexture`, bilinear in a mip level chosen per pixel
   from the pixel's footprint on the ground; the texture holds per-class coverage fractions, so the
   colours come from each car's palette and colour randomization costs nothing extra);
2. plain floor (palette "floor") between the texture's edge and the walls;
3. walls standing on the rectangle ``track bounding box + barrier_margin_m``, ``barrier_height_m``
   tall, with a panel texture (palette wall_a / wall_b). Height 0 = no walls: the floor then
   extends to the horizon, which is what the horizon test uses;
4. a background panorama (palette background_a / background_b) indexed by the ray's world azimuth
   and elevation (a skyline at infinity).

Lighting per car: directional shadow stripes on the ground, a multiplicative ground noise texture,
then a 256-entry lookup table (brightness / contrast / gamma) on the final value.

Gray output is ITU-R 601 luma of the palette colours; luma is linear, so blending gray palette
entries equals the luma of the blended RGB colour (PIL's convert('L') also rounds once at the end).

Known approximation: mip level from the SMALLER footprint axis (sharp across the view direction,
where the track borders run; distant texture aliases a little along the view direction instead of
blurring as the real 640x480 -> 160x120 resize does).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from .camera import CameraRays

__all__ = ["GroundTexture", "RayTable", "World", "Renderer", "luma"]

LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float64)
#: Palette rows the renderer uses beyond the ground classes (see randomization.PALETTE_NAMES).
PAL_FLOOR, PAL_WALL_A, PAL_WALL_B, PAL_BG_A, PAL_BG_B = 0, 4, 5, 6, 7
NUM_GROUND_CLASSES = 4
WALL_PANEL_M = 1.2          # wall texture repeats every 1.2 m along the wall
NOISE_TILE = 128            # ground noise tile: 128 x 128 texels of 2 cm (2.56 m period)
NOISE_TEXELS_PER_M = 50.0
PANO_W, PANO_H = 1024, 256
PANO_EL_TOP, PANO_EL_BOTTOM = 0.9, -0.35   # panorama elevation range (radians)


def luma(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma of (..., 3) RGB, float (no rounding)."""
    return np.asarray(rgb, dtype=np.float64) @ LUMA


# ------------------------------------------------------------------------------------- texture
@dataclass
class GroundTexture:
    """A mip pyramid of per-class coverage, flattened for the numba kernel.

    Each texel holds the fractions of FLOOR, ROAD, BORDER, CENTRE it covers (level 0: exactly one
    class; level l+1 averages 2x2 texels of level l). The distinct fraction vectors ("mixtures",
    a few hundred to ~1,100 on the built-in tracks) are stored once in `mixtures` (M, 4) and each
    texel stores its mixture's index: `mix` (total_texels,) uint16. A car's colour for mixture m is
    mixtures[m] @ palette[:4], computed once per episode, so per pixel the kernel only does a
    bilinear blend of 4 looked-up colours. Level l starts at offsets[l], is widths[l] x heights[l]
    texels of size metres_per_pixel * 2**l, and shares the corner origin_xy with level 0.
    """

    mix: np.ndarray
    mixtures: np.ndarray
    offsets: np.ndarray
    widths: np.ndarray
    heights: np.ndarray
    inv_texel_m: np.ndarray
    origin_xy: tuple[float, float]
    metres_per_pixel: float

    @property
    def levels(self) -> int:
        return len(self.offsets)

    @property
    def nbytes(self) -> int:
        return self.mix.nbytes + self.mixtures.nbytes

    def mixture_colors(self, palette: np.ndarray) -> np.ndarray:
        """(M, C) float32 colours of every mixture for one car's palette (rows 0-3 = ground classes)."""
        return (self.mixtures @ np.asarray(palette, np.float64)[:NUM_GROUND_CLASSES]).astype(np.float32)

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """(xmin, xmax, ymin, ymax) in metres of level 0."""
        x0, y0 = self.origin_xy
        return (x0, x0 + self.widths[0] * self.metres_per_pixel, y0, y0 + self.heights[0] * self.metres_per_pixel)

    @classmethod
    def from_labels(cls, labels: np.ndarray, class_to_slot: dict[int, int], origin_xy, metres_per_pixel: float,
                    max_levels: int = 12) -> "GroundTexture":
        """labels (H, W) uint8 class per texel; class_to_slot maps each class value to a palette row 0-3."""
        labels = np.asarray(labels)
        lut = np.zeros(256, dtype=np.uint8)
        for cls_value, slot in class_to_slot.items():
            lut[int(cls_value)] = slot
        slot0 = lut[labels]                               # level 0: one class per texel
        # level 1 from integer counts of each class in 2x2 blocks (fast path for the biggest level)
        pad = np.pad(slot0, ((0, slot0.shape[0] % 2), (0, slot0.shape[1] % 2)), mode="edge")
        level1 = np.empty((pad.shape[0] // 2, pad.shape[1] // 2, NUM_GROUND_CLASSES), np.float32)
        for k in range(NUM_GROUND_CLASSES):
            hit = (pad == k).astype(np.uint8)
            level1[..., k] = (hit[0::2, 0::2] + hit[1::2, 0::2] + hit[0::2, 1::2] + hit[1::2, 1::2]) * (255.0 / 4)
        pyramid = [level1]
        while len(pyramid) + 1 < max_levels and min(pyramid[-1].shape[:2]) > 1:
            a = pyramid[-1]
            if a.shape[0] % 2:
                a = np.concatenate([a, a[-1:]], axis=0)
            if a.shape[1] % 2:
                a = np.concatenate([a, a[:, -1:]], axis=1)
            pyramid.append(0.25 * (a[0::2, 0::2] + a[1::2, 0::2] + a[0::2, 1::2] + a[1::2, 1::2]))
        shapes = [slot0.shape] + [a.shape[:2] for a in pyramid]
        offsets, widths, heights, inv = [], [], [], []
        total = 0
        for l, (h, w) in enumerate(shapes):
            offsets.append(total)
            heights.append(h)
            widths.append(w)
            inv.append(1.0 / (metres_per_pixel * 2 ** l))
            total += h * w
        # distinct mixtures: the 4 pure classes, then whatever the coarser levels contain
        pure = np.eye(NUM_GROUND_CLASSES, dtype=np.uint8) * 255
        coarse = np.concatenate([np.rint(a).astype(np.uint8).reshape(-1, NUM_GROUND_CLASSES) for a in pyramid])
        key = np.concatenate([pure, coarse]).view(np.uint32).ravel()     # 4 uint8 fractions as one integer
        keys, inverse = np.unique(key, return_inverse=True)
        if len(keys) > np.iinfo(np.uint16).max:
            raise ValueError(f"texture has {len(keys)} distinct class mixtures (limit 65535)")
        inverse = inverse.ravel().astype(np.uint16)
        index = np.concatenate([inverse[:NUM_GROUND_CLASSES][slot0.ravel()], inverse[NUM_GROUND_CLASSES:]])
        mixtures = keys.astype(np.uint32).view(np.uint8).reshape(-1, NUM_GROUND_CLASSES) / 255.0
        return cls(mix=index.astype(np.uint16).ravel(), mixtures=mixtures, offsets=np.array(offsets, np.int64), widths=np.array(widths, np.int64),
                   heights=np.array(heights, np.int64), inv_texel_m=np.array(inv, np.float64),
                   origin_xy=(float(origin_xy[0]), float(origin_xy[1])), metres_per_pixel=float(metres_per_pixel))


# ----------------------------------------------------------------------------------- ray tables
class RayTable:
    """Per-pixel constants of K camera variants, arrays (K, P), P = width*height.

    ground_xy: where the pixel's ray meets z = 0, in the car frame (metres from base_link);
    hits_ground: the ray descends; level: mip level (from the pixel's ground footprint);
    dirs: unit direction in the car frame; azimuth / elevation: of dirs (radians).
    lens: (K, 3) lens x, y in base_link and height above the ground.
    """

    def __init__(self, k: int, width: int, height: int):
        p = width * height
        self.width, self.height = width, height
        self.ground_xy = np.zeros((k, p, 2), np.float32)
        self.hits_ground = np.zeros((k, p), np.bool_)
        self.level = np.zeros((k, p), np.int8)
        self.dirs = np.zeros((k, p, 3), np.float32)
        self.azimuth = np.zeros((k, p), np.float32)
        self.elevation = np.zeros((k, p), np.float32)
        self.lens = np.zeros((k, 3), np.float64)
        self.rays: list[CameraRays | None] = [None] * k

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.ground_xy, self.hits_ground, self.level, self.dirs, self.azimuth,
                                      self.elevation, self.lens))

    def set(self, k: int, rays: CameraRays, texture: GroundTexture) -> None:
        """Fill row k from `rays` (levels are chosen for `texture`'s resolution)."""
        if (rays.width, rays.height) != (self.width, self.height):
            raise ValueError("ray table size mismatch")
        d = rays.dirs
        h = rays.origin[2]
        down = d[:, 2] < -1e-12
        t = np.where(down, h / np.where(down, -d[:, 2], 1.0), np.inf)
        gx = np.where(down, rays.origin[0] + t * d[:, 0], 0.0)
        gy = np.where(down, rays.origin[1] + t * d[:, 1], 0.0)
        self.ground_xy[k, :, 0], self.ground_xy[k, :, 1] = gx, gy
        self.hits_ground[k] = down
        self.dirs[k] = d
        self.azimuth[k] = np.arctan2(d[:, 1], d[:, 0])
        self.elevation[k] = np.arctan2(d[:, 2], np.hypot(d[:, 0], d[:, 1]))
        self.lens[k] = rays.origin
        self.rays[k] = rays
        # Footprint: ground distance to the neighbour pixel along rows and columns (edge-replicated).
        g = np.stack([gx, gy], -1).reshape(self.height, self.width, 2)
        ok = down.reshape(self.height, self.width)
        du = np.full((self.height, self.width), np.inf)
        dv = np.full((self.height, self.width), np.inf)
        if self.width > 1:
            step = np.linalg.norm(np.diff(g, axis=1), axis=2)
            step[~(ok[:, 1:] & ok[:, :-1])] = np.inf
            du[:, :-1] = step
            du[:, -1] = step[:, -1]
        if self.height > 1:
            step = np.linalg.norm(np.diff(g, axis=0), axis=2)
            step[~(ok[1:] & ok[:-1])] = np.inf
            dv[:-1] = step
            dv[-1] = step[-1]
        foot = np.minimum(du, dv).ravel()
        with np.errstate(divide="ignore", invalid="ignore"):
            lev = np.floor(np.log2(np.maximum(foot, 1e-12) / texture.metres_per_pixel) + 0.5)
        lev = np.where(np.isfinite(lev), lev, texture.levels - 1)
        self.level[k] = np.clip(lev, 0, texture.levels - 1).astype(np.int8)


# ---------------------------------------------------------------------------------------- world
@dataclass
class World:
    """Walls and background: box = (xmin, xmax, ymin, ymax) of the wall rectangle (metres)."""

    box: np.ndarray
    wall_height_m: float
    wall_tile: np.ndarray      # (Hw, Ww) uint8 mix weight wall_a -> wall_b, Ww spans WALL_PANEL_M
    panorama: np.ndarray       # (PANO_H, PANO_W) uint8 mix weight background_a -> background_b
    noise_tile: np.ndarray     # (NOISE_TILE, NOISE_TILE) float32 in [-1, 1]

    @classmethod
    def build(cls, box, wall_height_m: float, seed: int = 0) -> "World":
        """Procedural wall panels, skyline panorama and ground noise (deterministic for `seed`)."""
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), 7_777]))
        # Wall: light panels with a dark seam every panel and a dark stripe in the middle.
        hw, ww = 32, 96
        wall = np.full((hw, ww), 40, np.uint8)
        wall[:, :3] = 255
        wall[hw // 2 - 3: hw // 2 + 3, :] = 200
        # Panorama: sky gradient (weight 0 -> 80) over a skyline of blocks of random height (255).
        el = np.linspace(PANO_EL_TOP, PANO_EL_BOTTOM, PANO_H)
        pano = np.tile((np.clip((PANO_EL_TOP - el) / (PANO_EL_TOP - PANO_EL_BOTTOM), 0, 1) * 80)[:, None],
                       (1, PANO_W)).astype(np.uint8)
        col = 0
        while col < PANO_W:
            w = int(rng.integers(12, 60))
            top = rng.uniform(0.02, 0.3)
            pano[el <= top, col:col + w] = int(rng.integers(170, 256))
            col += w
        # Ground noise: smooth value noise (sum of two octaves), zero mean, in [-1, 1].
        n = np.zeros((NOISE_TILE, NOISE_TILE))
        for cells, amp in ((8, 0.6), (32, 0.4)):
            coarse = rng.uniform(-1, 1, (cells, cells))
            reps = NOISE_TILE // cells
            up = np.kron(coarse, np.ones((reps, reps)))
            # circular box blur for smoothness
            k = reps
            for axis in (0, 1):
                up = sum(np.roll(up, s, axis=axis) for s in range(-k // 2, k // 2)) / k
            n += amp * up
        n /= max(np.abs(n).max(), 1e-9)
        return cls(box=np.asarray(box, np.float64), wall_height_m=float(wall_height_m), wall_tile=wall,
                   panorama=pano, noise_tile=n.astype(np.float32))


# -------------------------------------------------------------------------------------- kernel
@numba.njit(cache=True, fastmath=True, nogil=True)
def _render_kernel(out, car_x, car_y, car_yaw, cam_index, ground_xy, hits_ground, level, dirs, azimuth,
                   elevation, lens, tex_mix, tex_off, tex_w, tex_h, tex_inv, tex_x0, tex_y0, tex_x1, tex_y1,
                   mix_color, box, wall_h, wall_tile, panel_inv_m, pano, pano_el_top, pano_inv_el, noise_tile,
                   palette, lut, shadow, texture):
    """Fill out[n, p, :] for every car n and pixel p (see the module docstring for the world model).

    mix_color[n, m, ch]: colour of texture mixture m for car n; palette[n, row, ch] (rows as in
    randomization.PALETTE_NAMES), both in output space (gray luma or RGB, 0-255 floats).
    """
    n_cars, n_pix, n_ch = out.shape
    rgb = n_ch == 3
    wall_rows, wall_cols = wall_tile.shape
    pano_rows, pano_cols = pano.shape      # pano_cols must be a power of two
    box_diag = math.hypot(box[1] - box[0], box[3] - box[2])
    nmask = noise_tile.shape[0] - 1
    inv_two_pi = 1.0 / (2.0 * math.pi)
    for n in range(n_cars):
        k = cam_index[n]
        c, s = math.cos(car_yaw[n]), math.sin(car_yaw[n])
        cx, cy = car_x[n], car_y[n]
        lx = cx + c * lens[k, 0] - s * lens[k, 1]
        ly = cy + s * lens[k, 0] + c * lens[k, 1]
        lz = lens[k, 2]
        inside_box = box[0] < lx < box[1] and box[2] < ly < box[3]
        # a ray steeper than this passes above the walls even at the far corner of the box
        el_wall_max = math.atan2(wall_h - lz, box_diag) + 1e-6
        sh_on = shadow[n, 0] > 0.0
        snx, sny, sper, sduty, skeep = shadow[n, 1], shadow[n, 2], shadow[n, 3], shadow[n, 4], shadow[n, 5]
        t_amp, t_u0, t_v0 = texture[n, 0], texture[n, 1], texture[n, 2]
        pal = palette[n]
        mixc = mix_color[n]
        lt = lut[n]
        for p in range(n_pix):
            c0 = 0.0
            c1 = 0.0
            c2 = 0.0
            ground = False
            wx = 0.0
            wy = 0.0
            if hits_ground[k, p]:
                gx, gy = ground_xy[k, p, 0], ground_xy[k, p, 1]
                wx = cx + c * gx - s * gy
                wy = cy + s * gx + c * gy
                if wall_h <= 0.0 or (box[0] <= wx <= box[1] and box[2] <= wy <= box[3]):
                    ground = True
            if ground:
                if tex_x0 <= wx < tex_x1 and tex_y0 <= wy < tex_y1:
                    # bilinear over the mixture colours of the 4 nearest texels of this pixel's level
                    lev = level[k, p]
                    inv = tex_inv[lev]
                    w, h = tex_w[lev], tex_h[lev]
                    u = (wx - tex_x0) * inv - 0.5
                    v = (wy - tex_y0) * inv - 0.5
                    if u < 0.0:
                        u = 0.0
                    if v < 0.0:
                        v = 0.0
                    iu = int(u)
                    iv = int(v)
                    bu = 1
                    bv = w
                    if iu >= w - 1:
                        iu, bu = w - 1, 0
                    if iv >= h - 1:
                        iv, bv = h - 1, 0
                    fu = u - iu
                    fv = v - iv
                    if fu > 1.0:
                        fu = 1.0
                    if fv > 1.0:
                        fv = 1.0
                    b = tex_off[lev] + iv * w + iu
                    m00, m01, m10, m11 = tex_mix[b], tex_mix[b + bu], tex_mix[b + bv], tex_mix[b + bv + bu]
                    a0 = mixc[m00, 0] + fu * (mixc[m01, 0] - mixc[m00, 0])
                    a1 = mixc[m10, 0] + fu * (mixc[m11, 0] - mixc[m10, 0])
                    c0 = a0 + fv * (a1 - a0)
                    if rgb:
                        a0 = mixc[m00, 1] + fu * (mixc[m01, 1] - mixc[m00, 1])
                        a1 = mixc[m10, 1] + fu * (mixc[m11, 1] - mixc[m10, 1])
                        c1 = a0 + fv * (a1 - a0)
                        a0 = mixc[m00, 2] + fu * (mixc[m01, 2] - mixc[m00, 2])
                        a1 = mixc[m10, 2] + fu * (mixc[m11, 2] - mixc[m10, 2])
                        c2 = a0 + fv * (a1 - a0)
                else:
                    c0 = pal[0, 0]
                    if rgb:
                        c1, c2 = pal[0, 1], pal[0, 2]
                if sh_on or t_amp > 0.0:
                    m = 1.0
                    if sh_on:
                        q = (wx * snx + wy * sny) / sper
                        if q - math.floor(q) < sduty:
                            m *= skeep
                    if t_amp > 0.0:
                        ti = int(math.floor(wx * 50.0 + t_u0)) & nmask
                        tj = int(math.floor(wy * 50.0 + t_v0)) & nmask
                        m *= 1.0 + t_amp * noise_tile[tj, ti]
                    c0 *= m
                    c1 *= m
                    c2 *= m
            else:
                # walls, then the background panorama
                dx = c * dirs[k, p, 0] - s * dirs[k, p, 1]
                dy = s * dirs[k, p, 0] + c * dirs[k, p, 1]
                dz = dirs[k, p, 2]
                hit_wall = False
                if wall_h > 0.0 and inside_box and elevation[k, p] <= el_wall_max:
                    tx = 1e300
                    ty = 1e300
                    if dx > 1e-12:
                        tx = (box[1] - lx) / dx
                    elif dx < -1e-12:
                        tx = (box[0] - lx) / dx
                    if dy > 1e-12:
                        ty = (box[3] - ly) / dy
                    elif dy < -1e-12:
                        ty = (box[2] - ly) / dy
                    t = min(tx, ty)
                    z = lz + t * dz
                    if 0.0 <= z <= wall_h:
                        hit_wall = True
                        along = ly + t * dy if tx < ty else lx + t * dx
                        wc = int(math.floor(along * panel_inv_m * wall_cols)) % wall_cols
                        wr = min(int((1.0 - z / wall_h) * wall_rows), wall_rows - 1)
                        a = wall_tile[wr, wc] * (1.0 / 255.0)
                        c0 = pal[4, 0] + a * (pal[5, 0] - pal[4, 0])
                        if rgb:
                            c1 = pal[4, 1] + a * (pal[5, 1] - pal[4, 1])
                            c2 = pal[4, 2] + a * (pal[5, 2] - pal[4, 2])
                if not hit_wall:
                    # yaw and azimuth are in [-pi, pi]: +2 turns keeps the argument positive
                    az = car_yaw[n] + azimuth[k, p] + 4.0 * math.pi
                    pc = int(az * inv_two_pi * pano_cols) & (pano_cols - 1)
                    pr = int((pano_el_top - elevation[k, p]) * pano_inv_el)
                    pr = min(max(pr, 0), pano_rows - 1)
                    a = pano[pr, pc] * (1.0 / 255.0)
                    c0 = pal[6, 0] + a * (pal[7, 0] - pal[6, 0])
                    if rgb:
                        c1 = pal[6, 1] + a * (pal[7, 1] - pal[6, 1])
                        c2 = pal[6, 2] + a * (pal[7, 2] - pal[6, 2])
            vi = int(c0 + 0.5)
            out[n, p, 0] = lt[0 if vi < 0 else (255 if vi > 255 else vi)]
            if rgb:
                vi = int(c1 + 0.5)
                out[n, p, 1] = lt[0 if vi < 0 else (255 if vi > 255 else vi)]
                vi = int(c2 + 0.5)
                out[n, p, 2] = lt[0 if vi < 0 else (255 if vi > 255 else vi)]


class Renderer:
    """Renders N cars' camera images; owns the texture, the world and the ray tables."""

    def __init__(self, texture: GroundTexture, world: World, rays: CameraRays, n_tables: int = 1):
        self.texture, self.world = texture, world
        self.width, self.height = rays.width, rays.height
        self.base_rays = rays
        self.table = RayTable(n_tables, rays.width, rays.height)
        for k in range(n_tables):
            self.table.set(k, rays, texture)

    def set_rays(self, k: int, rays: CameraRays) -> None:
        self.table.set(k, rays, self.texture)

    def render(self, out: np.ndarray, x, y, yaw, cam_index, palette, mix_color, lut, shadow, texture) -> np.ndarray:
        """Fill out (N, P, C) uint8.

        palette (N, 8, C) float64 and mix_color (N, M, C) float32 (`GroundTexture.mixture_colors`)
        in output colour space (gray luma or RGB); lut (N, 256) uint8; shadow (N, 6); texture (N, 3).
        """
        tx0, tx1, ty0, ty1 = self.texture.extent
        t, w = self.table, self.world
        _render_kernel(out, x, y, yaw, cam_index, t.ground_xy, t.hits_ground, t.level, t.dirs, t.azimuth,
                       t.elevation, t.lens, self.texture.mix, self.texture.offsets, self.texture.widths,
                       self.texture.heights, self.texture.inv_texel_m, tx0, ty0, tx1, ty1, mix_color, w.box,
                       w.wall_height_m, w.wall_tile, 1.0 / WALL_PANEL_M, w.panorama, PANO_EL_TOP,
                       PANO_H / (PANO_EL_TOP - PANO_EL_BOTTOM), w.noise_tile, palette, lut, shadow, texture)
        return out
