"""Torch port of the paper's per-frame image augmentations (`randomization.augmentation_flags`,
`hue_saturation_palette`, `augmentation_params` / `augment_image`), batched over cars.

Training-side only (imports torch), used by `torch_sim.TorchBatchSim.render`. Every draw is made
for every car at once from one torch generator, so augmented frames are statistically (not
bitwise) equal to the CPU's, whose draws come from per-car numpy generators. The pixel math is the
CPU's, operation for operation in the same dtypes: for the same draws (`augment_frames` takes
them as tensors) both paths give identical pixels (tested). Cars whose flag is off for an
augmentation get it as the identity (a zero shift, keep = 1, alpha = 0, no salt-and-pepper hit,
or `torch.where`), so their pixels are untouched.
"""
from __future__ import annotations

import torch

from .randomization import AUGMENTATIONS, AugmentationOption

__all__ = ["AUGMENTATIONS", "draw_flags", "draw_params", "augment_frames", "hue_saturation_palette",
           "rgb_to_hsv", "hsv_to_rgb"]

F32, F64 = torch.float32, torch.float64


def draw_flags(cfg: AugmentationOption, n: int, gen: torch.Generator, device) -> torch.Tensor:
    """(n, 5) bool, columns `AUGMENTATIONS`: each on with cfg.probability where its toggle is on."""
    on = torch.tensor([bool(getattr(cfg, a)) for a in AUGMENTATIONS], device=device)
    u = torch.rand((n, len(AUGMENTATIONS)), generator=gen, device=device, dtype=F64)
    return (u < cfg.probability) & on[None]


def _uniform(lo: float, hi: float, n: int, gen: torch.Generator, device) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=gen, device=device, dtype=F64)


def draw_params(cfg: AugmentationOption, n: int, height: int, width: int, gen: torch.Generator,
                device) -> dict[str, torch.Tensor]:
    """Per-car draws of the enabled augmentations (keys and ranges of `randomization.augmentation_params`):
    (n,) float64 tensors, shift (n,) int64, shadow_left (n,) bool, sp_hit_u / sp_salt_u (n, H, W) float32.
    Drawn for every car (whether flagged or not) so that no host sync is needed."""
    p: dict[str, torch.Tensor] = {}
    if cfg.random_color:
        p["brightness"] = _uniform(0.7, 1.3, n, gen, device)
        p["contrast"] = _uniform(0.7, 1.3, n, gen, device)
    if cfg.translation:
        max_px = max(1, int(round(cfg.max_translation_fraction * width)))
        p["shift"] = torch.randint(-max_px, max_px + 1, (n,), generator=gen, device=device)
    if cfg.shadow:
        p["x_top"] = _uniform(0.0, width, n, gen, device)
        p["x_bottom"] = _uniform(0.0, width, n, gen, device)
        p["keep"] = _uniform(0.4, 0.8, n, gen, device)
        p["shadow_left"] = torch.rand(n, generator=gen, device=device, dtype=F64) < 0.5
    if cfg.sharpen:
        p["alpha"] = _uniform(0.3, 1.0, n, gen, device)
    if cfg.salt_and_pepper:
        p["sp_fraction"] = _uniform(0.0, cfg.salt_and_pepper_fraction, n, gen, device)
        p["sp_hit_u"] = torch.rand((n, height, width), generator=gen, device=device, dtype=F32)
        p["sp_salt_u"] = torch.rand((n, height, width), generator=gen, device=device, dtype=F32)
    return p


def augment_frames(img: torch.Tensor, flags: torch.Tensor, p: dict[str, torch.Tensor]) -> torch.Tensor:
    """`randomization.augment_image` for a batch: img (N, H, W, C) uint8, flags (N, 5) bool
    (columns `AUGMENTATIONS`), p the draws (`draw_params`; an augmentation without its keys is
    skipped). Returns a new (N, H, W, C) uint8 tensor."""
    n, h, w, c = img.shape
    dev = img.device
    x = img.to(F32)
    col = lambda a: a[:, None, None, None]  # noqa: E731  (N,) -> (N, 1, 1, 1)
    if "brightness" in p:
        # numpy: float32 sum (exact: integers below 2**24), / count in float64, rounded to float32
        mean = (x.to(F64).sum((1, 2, 3)) / (h * w * c)).to(F32)
        b, ct = p["brightness"].to(F32), p["contrast"].to(F32)
        y = ((x - col(mean)) * col(ct) + col(mean)) * col(b)
        x = torch.where(col(flags[:, 0]), y, x)
    if "shift" in p:
        shift = torch.where(flags[:, 1], p["shift"], 0)
        cols = (torch.arange(w, device=dev)[None, :] - shift[:, None]).clamp(0, w - 1)         # (N, W)
        x = x.gather(2, cols[:, None, :, None].expand(n, h, w, c))
    if "keep" in p:
        rows = (torch.arange(h, dtype=F32, device=dev) / max(h - 1, 1)).to(F64)
        x_top, x_bottom = p["x_top"][:, None], p["x_bottom"][:, None]
        boundary = x_top + (x_bottom - x_top) * rows[None, :]                                 # (N, H) float64
        left = torch.arange(w, dtype=F32, device=dev).to(F64)[None, None, :] < boundary[:, :, None]
        mask = torch.where(p["shadow_left"][:, None, None], left, ~left) & flags[:, 2, None, None]
        x = torch.where(mask[..., None], x * col(p["keep"].to(F32)), x)
    if "alpha" in p:
        alpha = torch.where(flags[:, 3], p["alpha"], 0.0)
        ri, ci = torch.arange(h, device=dev), torch.arange(w, device=dev)
        up, down = x[:, (ri - 1).clamp(min=0)], x[:, (ri + 1).clamp(max=h - 1)]
        left4, right4 = x[:, :, (ci - 1).clamp(min=0)], x[:, :, (ci + 1).clamp(max=w - 1)]
        blur4 = up + down + left4 + right4
        sharp = 5.0 * x - blur4
        x = col((1.0 - alpha).to(F32)) * x + col(alpha.to(F32)) * sharp
    if "sp_fraction" in p:
        hit = (p["sp_hit_u"] < p["sp_fraction"][:, None, None]) & flags[:, 4, None, None]
        salt = p["sp_salt_u"] < 0.5
        x = torch.where((hit & salt)[..., None], 255.0, torch.where((hit & ~salt)[..., None], 0.0, x))
    return torch.round(x).clamp(0, 255).to(torch.uint8)


# ------------------------------------------------------------------------------ colour
def rgb_to_hsv(rgb: torch.Tensor) -> torch.Tensor:
    """`colorsys.rgb_to_hsv` on (..., 3) tensors in [0, 1] (hue in turns)."""
    r, g, b = rgb.unbind(-1)
    maxc = torch.maximum(torch.maximum(r, g), b)
    minc = torch.minimum(torch.minimum(r, g), b)
    rng = maxc - minc
    gray = rng == 0
    safe = torch.where(gray, 1.0, rng)
    s = torch.where(gray, 0.0, rng / torch.where(maxc == 0, 1.0, maxc))
    rc, gc, bc = (maxc - r) / safe, (maxc - g) / safe, (maxc - b) / safe
    hh = torch.where(r == maxc, bc - gc, torch.where(g == maxc, 2.0 + rc - bc, 4.0 + gc - rc))
    hh = torch.where(gray, 0.0, torch.remainder(hh / 6.0, 1.0))
    return torch.stack([hh, s, maxc], -1)


def hsv_to_rgb(hsv: torch.Tensor) -> torch.Tensor:
    """`colorsys.hsv_to_rgb` on (..., 3) tensors (hue in turns, s and v in [0, 1])."""
    hh, s, v = hsv.unbind(-1)
    i = torch.floor(hh * 6.0)
    f = hh * 6.0 - i
    p, q, t = v * (1.0 - s), v * (1.0 - s * f), v * (1.0 - s * (1.0 - f))
    i = torch.remainder(i.to(torch.int64), 6)
    sel = lambda *vals: torch.stack(vals, -1).gather(-1, i[..., None])[..., 0]  # noqa: E731
    r = sel(v, q, p, p, t, v)
    g = sel(t, v, v, q, p, p)
    b = sel(p, p, t, v, v, q)
    out = torch.stack([r, g, b], -1)
    return torch.where((s == 0)[..., None], v[..., None].expand_as(out), out)


def hue_saturation_palette(palette: torch.Tensor, dh: torch.Tensor, ds: torch.Tensor) -> torch.Tensor:
    """`randomization.hue_saturation_palette` batched: palette (N, K, 3) RGB 0-255, hue shift dh (N,)
    turns, saturation factor ds (N,) -> (N, K, 3) RGB 0-255, same dtype (use float64 to match colorsys)."""
    hsv = rgb_to_hsv(palette / 255.0)
    hh = torch.remainder(hsv[..., 0] + dh[:, None], 1.0)
    s = (hsv[..., 1] * ds[:, None]).clamp(max=1.0)
    return hsv_to_rgb(torch.stack([hh, s, hsv[..., 2]], -1)) * 255.0
