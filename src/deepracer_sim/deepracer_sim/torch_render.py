"""Torch port of the batched camera renderer (`render.Renderer`): same world model, any torch device.

Training-side only: this module imports torch, so nothing on the CPU path or the car imports it
(``deepracer_sim`` itself never requires torch; `BatchSim` stays numba). It reuses the CPU
renderer's precomputed tables (`RayTable`: per-pixel ground point in the car frame, mip level,
ray directions; `GroundTexture`: the mip pyramid of class mixtures; `World`: walls, panorama,
noise tile), uploads them once, and per frame evaluates every pixel of every car as dense
(N, P) tensor arithmetic -- no per-car loop, so pinhole and fisheye (they differ only in the ray
table) and per-car camera jitter (a gather of the car's table row) cost the same.

Differences from the numba kernel (bounded in test_torch_sim.py):

* float32 world coordinates (numba promotes to float64): texture coordinates differ by ~1e-4
  texel, so a handful of pixels on class edges round to the neighbouring uint8 value (|diff| <= 1
  except rare bilinear edge pixels);
* everything else (mip choice, the fused gray+noise rule, shadow stripes, walls, panorama, the
  per-car lookup table) follows `render._render_kernel` line by line.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .render import (NOISE_TEXELS_PER_M, PANO_EL_BOTTOM, PANO_EL_TOP, PANO_H, WALL_PANEL_M, Renderer)

__all__ = ["TorchRenderer", "scatter_rows"]

_NUMPY_DTYPE = {torch.float64: np.float64, torch.float32: np.float32, torch.int64: np.int64, torch.int32: np.int32,
                torch.uint8: np.uint8, torch.bool: np.bool_}


def scatter_rows(pairs, idx: torch.Tensor) -> None:
    """``dst[idx] = rows`` for each (dst (N, ...) tensor, rows (k, ...) array) in `pairs`, with ONE host ->
    device copy per destination dtype (each copy of pageable memory is a host sync on a GPU), not one
    per array; the rows are converted to dst's dtype first, as the assignment would."""
    k = len(idx)
    groups: dict = {}
    for dst, rows in pairs:
        groups.setdefault(dst.dtype, []).append((dst, np.asarray(rows, _NUMPY_DTYPE[dst.dtype]).reshape(k, -1)))
    for items in groups.values():
        packed = torch.as_tensor(np.concatenate([f for _, f in items], 1), device=idx.device)
        col = 0
        for dst, f in items:
            dst[idx] = packed[:, col:col + f.shape[1]].reshape((k,) + tuple(dst.shape[1:]))
            col += f.shape[1]


class TorchRenderer:
    """Renders N cars on `device` from a CPU `Renderer`'s tables (uploaded once; `sync_rays` after jitter)."""

    def __init__(self, renderer: Renderer, device: torch.device | str = "cpu"):
        self.device = dev = torch.device(device)
        self.cpu = renderer
        tex, world = renderer.texture, renderer.world
        self.width, self.height = renderer.width, renderer.height
        self.tex_x0, _, self.tex_y0, _ = (float(a) for a in tex.extent)
        self.tex_mix = torch.as_tensor(tex.mix.astype(np.int32), device=dev)
        box = world.box
        self.box = tuple(float(b) for b in box)
        self.wall_h = float(world.wall_height_m)
        self.wall_tile = torch.as_tensor(world.wall_tile.astype(np.float32) / 255.0, device=dev)
        self.pano = torch.as_tensor(world.panorama.astype(np.float32) / 255.0, device=dev)
        self.noise_tile = torch.as_tensor(world.noise_tile, device=dev)
        self._tex = tex
        self.sync_rays()

    def sync_rays(self, rows=None) -> None:
        """(Re)upload ray-table rows (all, or `rows`) from the CPU table, e.g. after `set_rays`.

        Only the uploaded rows are converted on the host (a reset of a few cars of a jittered
        table costs ~ those cars, not the whole (N, P) table)."""
        t, tex, dev = self.cpu.table, self._tex, self.device
        full = rows is None or not hasattr(self, "gx")
        sel = slice(None) if full else np.asarray(rows, np.int64)
        lv = t.level[sel].astype(np.int64)
        arrays = {
            "gx": t.ground_xy[sel, :, 0], "gy": t.ground_xy[sel, :, 1], "hit": t.hits_ground[sel],
            "inv": tex.inv_texel_m[lv].astype(np.float32), "off": tex.offsets[lv].astype(np.int32),
            "w": tex.widths[lv].astype(np.int32), "umax": (tex.widths[lv] - 1.0001).astype(np.float32),
            "vmax": (tex.heights[lv] - 1.0001).astype(np.float32),
            "dx": t.dirs[sel, :, 0], "dy": t.dirs[sel, :, 1], "dz": t.dirs[sel, :, 2],
            "az": t.azimuth[sel], "el": t.elevation[sel], "lens": t.lens[sel].astype(np.float32),
        }
        if full:
            for k, a in arrays.items():
                setattr(self, k, torch.as_tensor(np.ascontiguousarray(a), device=dev))
        else:
            scatter_rows([(getattr(self, k), a) for k, a in arrays.items()], torch.as_tensor(sel, device=dev))

    def _shade(self, vals, wx, wy, inv, shadow, texture, n_ch):
        f32 = torch.float32
        sh = shadow.to(f32)
        tx = texture.to(f32)
        t_amp = tx[:, 0:1]
        fused = (sh[:, 0:1] <= 0.0) & (t_amp > 0.0) & (n_ch == 1)
        nmask = self.noise_tile.shape[0] - 1
        ti = torch.floor(wx * NOISE_TEXELS_PER_M + tx[:, 1:2]).to(torch.int64) & nmask
        tj = torch.floor(wy * NOISE_TEXELS_PER_M + tx[:, 2:3]).to(torch.int64) & nmask
        noise = self.noise_tile.reshape(-1)[tj * self.noise_tile.shape[1] + ti]
        nmul = 1.0 + t_amp * noise
        nmul = torch.where(fused & (inv < NOISE_TEXELS_PER_M), 1.0, nmul)
        nmul = torch.where(t_amp > 0.0, nmul, 1.0)
        fr = (wx * sh[:, 1:2] + wy * sh[:, 2:3]) / torch.where(sh[:, 3:4] != 0, sh[:, 3:4], 1.0)
        in_stripe = (sh[:, 0:1] > 0.0) & ((fr - torch.floor(fr)) < sh[:, 4:5])
        smul = torch.where(in_stripe, sh[:, 5:6], 1.0)
        return vals * (nmul * smul)[..., None]

    def render(self, x, y, yaw, cam_index, palette, mix_color, lut, shadow, texture, shade: bool = True) -> torch.Tensor:
        """(N, P, C) uint8 images. All inputs are tensors on `device`:

        shade=False skips the shadow / ground-noise pass (only valid when every car's shadow[:, 0]
        and texture[:, 0] are <= 0; `TorchBatchSim` knows this from its config).

        x, y, yaw (N,) float (m, rad); cam_index (N,) long; palette (N, 8, C) float (output space);
        mix_color (N, M, C) float; lut (N, 256) uint8; shadow (N, 6); texture (N, 3) float.
        """
        f32 = torch.float32
        x, y, yaw = x.to(f32), y.to(f32), yaw.to(f32)
        n = x.shape[0]
        n_ch = palette.shape[2]
        k = cam_index
        single = self.gx.shape[0] == 1

        def row(a):
            return a if single else a[k]          # (1 or N, P)

        c, s = torch.cos(yaw)[:, None], torch.sin(yaw)[:, None]
        cx, cy = x[:, None], y[:, None]
        gx, gy = row(self.gx), row(self.gy)
        wx = cx + c * gx - s * gy                # (N, P) world point of the ground ray
        wy = cy + s * gx + c * gy
        inv = row(self.inv)
        u = torch.minimum(((wx - self.tex_x0) * inv - 0.5).clamp_min(0.0), row(self.umax))
        v = torch.minimum(((wy - self.tex_y0) * inv - 0.5).clamp_min(0.0), row(self.vmax))
        iu, iv = u.to(torch.int32), v.to(torch.int32)
        fu, fv = (u - iu), (v - iv)
        w = row(self.w)
        b = row(self.off) + iv * w + iu
        hit = row(self.hit)
        b = torch.where(hit, b, 0).to(torch.int64)
        mix = self.tex_mix
        i00, i01, i10, i11 = mix[b], mix[b + 1], mix[b + w], mix[b + w + 1]
        m = mix_color.to(f32)                    # (N, M, C)
        chans = []
        for ch in range(n_ch):
            mc = m[:, :, ch]
            g = lambda i: torch.gather(mc, 1, i.to(torch.int64))  # noqa: E731
            a0 = g(i00) * (1 - fu) + g(i01) * fu
            a1 = g(i10) * (1 - fu) + g(i11) * fu
            chans.append(a0 * (1 - fv) + a1 * fv)
        vals = torch.stack(chans, -1)            # (N, P, C)

        # shading: shadow stripes and ground noise (the fused gray rule skips far texels)
        if shade:
            vals = self._shade(vals, wx, wy, inv, shadow, texture, n_ch)


        # walls (lens inside the box) and the panorama for sky rays and ground beyond the walls
        bx0, bx1, by0, by1 = self.box
        lens = self.lens[k] if not single else self.lens.expand(n, 3)
        lx = x + torch.cos(yaw) * lens[:, 0] - torch.sin(yaw) * lens[:, 1]
        ly = y + torch.sin(yaw) * lens[:, 0] + torch.cos(yaw) * lens[:, 1]
        lz = lens[:, 2]
        walls = (self.wall_h > 0.0) & (bx0 < lx) & (lx < bx1) & (by0 < ly) & (ly < by1)     # (N,)
        outside = (wx < bx0) | (wx > bx1) | (wy < by0) | (wy > by1)
        ground = hit & ~(outside & walls[:, None])
        el = row(self.el)
        box_diag = math.hypot(bx1 - bx0, by1 - by0)
        el_wall_max = torch.atan2(self.wall_h - lz, torch.full_like(lz, box_diag)) + 1e-6
        ddx, ddy, ddz = row(self.dx), row(self.dy), row(self.dz)
        dx = c * ddx - s * ddy
        dy = s * ddx + c * ddy
        big = 1e30                              # python scalars: no host -> device copy (a sync) per frame
        lxe, lye = lx[:, None], ly[:, None]
        txm = torch.where(dx > 1e-12, (bx1 - lxe) / dx, torch.where(dx < -1e-12, (bx0 - lxe) / dx, big))
        tym = torch.where(dy > 1e-12, (by1 - lye) / dy, torch.where(dy < -1e-12, (by0 - lye) / dy, big))
        t = torch.minimum(txm, tym)
        z = lz[:, None] + t * ddz
        wall_hit = walls[:, None] & (el <= el_wall_max[:, None]) & (z >= 0.0) & (z <= self.wall_h)
        along = torch.where(txm < tym, lye + t * dy, lxe + t * dx)
        wr_n, wc_n = self.wall_tile.shape
        wc = torch.remainder(torch.floor(along * (wc_n / WALL_PANEL_M)).to(torch.int64), wc_n)
        wr = ((1.0 - z / (self.wall_h if self.wall_h > 0 else 1.0)) * wr_n).clamp(0, wr_n - 1).to(torch.int64)
        wa = self.wall_tile.reshape(-1)[torch.where(wall_hit, wr * wc_n + wc, 0)]
        pr_n, pc_n = self.pano.shape
        pc = ((yaw[:, None] + row(self.az) + 4.0 * math.pi) * (pc_n / (2.0 * math.pi))).to(torch.int64) & (pc_n - 1)
        pr = ((PANO_EL_TOP - el) * (PANO_H / (PANO_EL_TOP - PANO_EL_BOTTOM))).to(torch.int64).clamp(0, pr_n - 1)
        pa = self.pano.reshape(-1)[pr * pc_n + pc]
        pal = palette.to(f32)
        wall_v = pal[:, None, 4, :] + wa[..., None] * (pal[:, None, 5, :] - pal[:, None, 4, :])
        pano_v = pal[:, None, 6, :] + pa[..., None] * (pal[:, None, 7, :] - pal[:, None, 6, :])
        final = torch.where(ground[..., None], vals, torch.where(wall_hit[..., None], wall_v, pano_v))
        vi = torch.floor(final + 0.5).clamp(0, 255).to(torch.int64)          # (N, P, C)
        out = torch.gather(lut.to(torch.uint8), 1, vi.reshape(n, -1)).reshape(vi.shape)
        return out
