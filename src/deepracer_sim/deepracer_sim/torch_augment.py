"""Torch port of the paper's per-frame image augmentations (`randomization.augmentation_flags`,
`hue_saturation_palette`, `augmentation_params` / `augment_image`), batched over cars.

Training-side only (imports torch), used by `torch_sim.TorchBatchSim.render`. Every draw is made
for every car at once from one torch generator, so augmented frames are statistically (not
bitwise) equal to the CPU's, whose draws come from per-car numpy generators. The pixel math is the
CPU's, operation for operation in the same dtypes: for the same draws (`augment_frames` takes
them as tensors) both paths give identical pixels (tested). Cars whose flag is off for an
augmentation are left out of it (subset=True, the simulator's default: work ~ probability) or get
it as the identity (a zero shift, keep = 1, alpha = 0, no salt-and-pepper hit, or `torch.where`),
so their pixels are untouched either way.
"""
from __future__ import annotations

import torch

from .randomization import (AUGMENTATIONS, BRIGHTNESS_FACTOR, CONTRAST_FACTOR, HUE_SHIFT_TURNS, SATURATION_FACTOR,
                            SHADOW_KEEP, SHARPEN_ALPHA, AugmentationOption)

__all__ = ["AUGMENTATIONS", "draw_flags", "draw_params", "draw_hue_saturation", "augment_frames", "hue_saturation_palette",
           "rgb_to_hsv", "hsv_to_rgb"]

F32, F64 = torch.float32, torch.float64


def draw_flags(cfg: AugmentationOption, n: int, gen: torch.Generator, device) -> torch.Tensor:
    """(n, 5) bool, columns `AUGMENTATIONS`: each on with cfg.probability where its toggle is on."""
    u = torch.rand((n, len(AUGMENTATIONS)), generator=gen, device=device, dtype=F64)
    flags = u < cfg.probability
    for j, a in enumerate(AUGMENTATIONS):      # toggles as column writes: no host -> device copy per frame
        if not getattr(cfg, a):
            flags[:, j] = False
    return flags


def _uniform(lo: float, hi: float, n: int, gen: torch.Generator, device) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=gen, device=device, dtype=F64)


def draw_params(cfg: AugmentationOption, n: int, height: int, width: int, gen: torch.Generator,
                device, pixel_draws: bool = True) -> dict[str, torch.Tensor]:
    """Per-car draws of the enabled augmentations (keys and ranges of `randomization.augmentation_params`):
    (n,) float64 tensors, shift (n,) int64, shadow_left (n,) bool, and with pixel_draws sp_hit_u /
    sp_salt_u (n, H, W) float32 (else `augment_frames` draws them for the hit cars only). Drawn
    for every car, flagged or not."""
    p: dict[str, torch.Tensor] = {}
    if cfg.random_color:
        p["brightness"] = _uniform(*BRIGHTNESS_FACTOR, n, gen, device)
        p["contrast"] = _uniform(*CONTRAST_FACTOR, n, gen, device)
    if cfg.translation:
        max_px = max(1, int(round(cfg.max_translation_fraction * width)))
        p["shift"] = torch.randint(-max_px, max_px + 1, (n,), generator=gen, device=device)
    if cfg.shadow:
        p["x_top"] = _uniform(0.0, width, n, gen, device)
        p["x_bottom"] = _uniform(0.0, width, n, gen, device)
        p["keep"] = _uniform(*SHADOW_KEEP, n, gen, device)
        p["shadow_left"] = torch.rand(n, generator=gen, device=device, dtype=F64) < 0.5
    if cfg.sharpen:
        p["alpha"] = _uniform(*SHARPEN_ALPHA, n, gen, device)
    if cfg.salt_and_pepper:
        p["sp_fraction"] = _uniform(0.0, cfg.salt_and_pepper_fraction, n, gen, device)
        if pixel_draws:
            p["sp_hit_u"] = torch.rand((n, height, width), generator=gen, device=device, dtype=F32)
            p["sp_salt_u"] = torch.rand((n, height, width), generator=gen, device=device, dtype=F32)
    return p


def draw_hue_saturation(n: int, gen: torch.Generator, device) -> tuple[torch.Tensor, torch.Tensor]:
    """(hue shift in turns, saturation factor), (n,) float64 each: `randomization.hue_saturation_palette`'s draws."""
    return _uniform(*HUE_SHIFT_TURNS, n, gen, device), _uniform(*SATURATION_FACTOR, n, gen, device)


def _col(a: torch.Tensor) -> torch.Tensor:
    return a[:, None, None, None]          # (N,) -> (N, 1, 1, 1)


def _color(x, on, brightness, contrast):
    n, h, w, c = x.shape
    # numpy: float32 sum (exact: integers below 2**24), / count in float64, rounded to float32
    mean = _col((x.to(F64).sum((1, 2, 3)) / (h * w * c)).to(F32))
    y = ((x - mean) * _col(contrast.to(F32)) + mean) * _col(brightness.to(F32))
    return y if on is None else torch.where(_col(on), y, x)


def shift_edge_repeat(x: torch.Tensor, dim: int, shift: torch.Tensor) -> torch.Tensor:
    """``x`` with batch item b (dim 0) moved by ``shift[b]`` integer pixels along ``dim`` (positive:
    towards higher indices), the edge pixel repeated into the space it leaves; any dtype. The one
    image shift of the workspace: the paper's translation augmentation and SAC's DrQ shift."""
    size = x.shape[dim]
    idx = (torch.arange(size, device=x.device)[None, :] - shift[:, None]).clamp(0, size - 1)     # (N, size)
    view = [x.shape[0]] + [1] * (x.ndim - 1)
    view[dim] = size
    return x.gather(dim, idx.reshape(view).expand(x.shape))


def _translate(x, on, shift):
    if on is not None:
        shift = torch.where(on, shift, 0)
    return shift_edge_repeat(x, 2, shift)


def _shadow(x, on, x_top, x_bottom, keep, shadow_left):
    n, h, w, c = x.shape
    rows = (torch.arange(h, dtype=F32, device=x.device) / max(h - 1, 1)).to(F64)
    boundary = x_top[:, None] + (x_bottom - x_top)[:, None] * rows[None, :]                    # (N, H) float64
    left = torch.arange(w, dtype=F32, device=x.device).to(F64)[None, None, :] < boundary[:, :, None]
    mask = torch.where(shadow_left[:, None, None], left, ~left)
    if on is not None:
        mask = mask & on[:, None, None]
    return torch.where(mask[..., None], x * _col(keep.to(F32)), x)


def _sharpen(x, on, alpha):
    if on is not None:
        alpha = torch.where(on, alpha, 0.0)
    pad = torch.cat([x[:, :1], x, x[:, -1:]], 1)
    pad = torch.cat([pad[:, :, :1], pad, pad[:, :, -1:]], 2)                                 # edge rows / cols repeated
    blur4 = pad[:, :-2, 1:-1] + pad[:, 2:, 1:-1] + pad[:, 1:-1, :-2] + pad[:, 1:-1, 2:]
    sharp = 5.0 * x - blur4
    return _col((1.0 - alpha).to(F32)) * x + _col(alpha.to(F32)) * sharp


def _salt_and_pepper(x, on, sp_fraction, sp_hit_u, sp_salt_u):
    hit = sp_hit_u < sp_fraction[:, None, None]
    if on is not None:
        hit = hit & on[:, None, None]
    salt = sp_salt_u < 0.5
    return torch.where((hit & salt)[..., None], 255.0, torch.where((hit & ~salt)[..., None], 0.0, x))


#: (flag column, function, draw keys), in the CPU's order
_OPS = ((0, _color, ("brightness", "contrast")), (1, _translate, ("shift",)),
        (2, _shadow, ("x_top", "x_bottom", "keep", "shadow_left")), (3, _sharpen, ("alpha",)),
        (4, _salt_and_pepper, ("sp_fraction", "sp_hit_u", "sp_salt_u")))


def augment_frames(img: torch.Tensor, flags: torch.Tensor, p: dict[str, torch.Tensor], subset: bool = False,
                   gen: torch.Generator | None = None) -> torch.Tensor:
    """`randomization.augment_image` for a batch: img (N, H, W, C) uint8, flags (N, 5) bool
    (columns `AUGMENTATIONS`), p the draws (`draw_params`; an augmentation without its first key
    is skipped). Returns a new (N, H, W, C) uint8 tensor.

    subset=False: every augmentation runs on the whole batch, as the identity where its flag is
    off (no host sync: fit for torch.compile / CUDA graphs). subset=True: each runs on its flagged
    cars only (one host sync for the flag counts; ~probability of the work); the salt-and-pepper
    uniforms missing from p are then drawn from `gen` for those cars only.
    """
    x = img.to(F32)
    n, h, w, _ = x.shape
    counts = flags.sum(0).tolist() if subset else None      # the one host sync of subset=True
    for k, fn, keys in _OPS:
        if keys[0] not in p:
            continue
        if not subset:
            x = fn(x, flags[:, k], *(p[key] for key in keys))
            continue
        m = int(counts[k])
        if m == 0:
            continue
        rows = torch.nonzero_static(flags[:, k], size=m)[:, 0]     # = nonzero(), without its sync
        args = []
        for key in keys:
            if key in p:
                args.append(p[key][rows])
            else:                          # sp_hit_u / sp_salt_u for the hit cars only
                args.append(torch.rand((m, h, w), generator=gen, device=x.device, dtype=F32))
        x[rows] = fn(x[rows], None, *args)
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
