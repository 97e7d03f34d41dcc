"""`deepracer sim ...`: simulator tools. `snapshot` writes a PNG gallery of what the car sees.

    deepracer sim snapshot --track reinvent2018_like --out docs/images [--at-pct 3] [--seed 0]

Writes into --out:
  sim_topdown.png            the track from above with the car and its camera's field of view
  sim_camera.png             the plain camera view (160x120 gray, what the agent gets), scaled up
  sim_camera_rgb.png         the same view in colour (before the grayscale conversion)
  sim_camera_fisheye.png     the URDF's wide-angle (equidistant fisheye) camera
  sim_random_<option>.png    the camera view with one randomization option on, for every option
  sim_gallery.png            all camera views in one labelled grid
Each file is written to a temporary name and renamed, so a failed run leaves no half-written PNG.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

from deepracer_common.fileio import atomic_path

COMMAND_HELP = "simulator tools: snapshot gallery"  # `deepracer --help`

__all__ = ["main", "snapshot"]


def _save_png(image, path: Path) -> None:
    from PIL import Image

    img = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image))
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG", optimize=True)


def _camera_image(sim, car_pose, scale: int):
    from PIL import Image

    sim.reset([0], *car_pose)
    img = sim.render()[0]
    pil = Image.fromarray(img)
    return pil.resize((pil.width * scale, pil.height * scale), Image.NEAREST)


def _topdown(sim, pose, width_px: int):
    """Colour texture of the track (north up) with the car footprint and the camera's FOV wedge."""
    from PIL import Image, ImageDraw

    tex = sim.texture
    img = Image.fromarray(np.ascontiguousarray(tex.image[::-1]))       # rows grow with +y -> flip
    scale = width_px / img.width
    img = img.resize((width_px, max(1, int(round(img.height * scale)))), Image.BILINEAR)
    draw = ImageDraw.Draw(img)
    m = tex.metres_per_pixel / scale
    x0, y0 = tex.origin_xy
    h = img.height

    def px(xy):
        return [((x - x0) / m, h - (y - y0) / m) for x, y in xy]

    x, y, yaw = pose
    c, s = math.cos(yaw), math.sin(yaw)
    rays = sim.base_rays
    # FOV wedge: lens to 1.5 m along the left and right image edges
    half = rays.horizontal_fov_rad / 2.0 if rays.model == "pinhole" else min(rays.horizontal_fov_rad / 2.0, 1.4)
    lx, ly = x + c * rays.origin[0] - s * rays.origin[1], y + s * rays.origin[0] + c * rays.origin[1]
    wedge = [(lx, ly)] + [(lx + 1.5 * math.cos(yaw + a), ly + 1.5 * math.sin(yaw + a)) for a in (half, -half)]
    draw.polygon(px(wedge), outline=(255, 60, 60))
    # car footprint from the wheel contacts, slightly enlarged
    wc = sim.vehicle.wheel_contacts_m * 1.3
    corners = [wc[0], wc[1], wc[3], wc[2]]
    draw.polygon(px([(x + c * a - s * b, y + s * a + c * b) for a, b in corners]), fill=(230, 30, 30))
    return img


def _label(img, text: str):
    from PIL import Image, ImageDraw

    out = Image.new("RGB", (img.width, img.height + 14), (255, 255, 255))
    out.paste(img.convert("RGB"), (0, 14))
    ImageDraw.Draw(out).text((3, 1), text, fill=(0, 0, 0))
    return out


def snapshot(track_name: str, out_dir: Path, at_pct: float = 3.0, seed: int = 0, scale: int = 2,
             topdown_px: int = 480) -> list[Path]:
    """Write the gallery (see the module docstring); returns the paths written."""
    import dataclasses

    from PIL import Image

    from deepracer_tracks.library import load_track

    from .batch_sim import BatchSim
    from .config import SimConfig
    from .randomization import RandomizationConfig

    track = load_track(track_name)
    out_dir.mkdir(parents=True, exist_ok=True)
    xy, heading = track.pose_at(np.array([track.length_m * at_pct / 100.0]))
    pose = (float(xy[0, 0]), float(xy[0, 1]), float(heading[0]))
    written: list[Path] = []

    def save(img, name: str) -> None:
        path = out_dir / name
        _save_png(img, path)
        written.append(path)

    base = BatchSim(track, 1, SimConfig(), seed=seed)
    save(_topdown(base, pose, topdown_px), "sim_topdown.png")
    views: list[tuple[str, object]] = []
    plain = _camera_image(base, pose, scale)
    save(plain, "sim_camera.png")
    views.append(("plain", plain))
    rgb = _camera_image(BatchSim(track, 1, SimConfig(color=True), seed=seed), pose, scale)
    save(rgb, "sim_camera_rgb.png")
    views.append(("rgb", rgb))
    fish = _camera_image(BatchSim(track, 1, SimConfig(camera_model="fisheye"), seed=seed), pose, scale)
    save(fish, "sim_camera_fisheye.png")
    views.append(("fisheye", fish))
    everything = RandomizationConfig.everything()
    for f in dataclasses.fields(RandomizationConfig):
        name = f.name
        if name in ("action_noise", "latency", "dynamics"):
            continue                                    # they change motion, not the image
        cfg = everything.only(name)
        if name == "augmentation":                      # show the augmentations: force them on
            cfg = dataclasses.replace(cfg, augmentation=dataclasses.replace(cfg.augmentation, probability=0.6))
        img = _camera_image(BatchSim(track, 1, SimConfig(randomization=cfg), seed=seed), pose, scale)
        save(img, f"sim_random_{name}.png")
        views.append((name, img))
    all_on = _camera_image(BatchSim(track, 1, SimConfig(randomization=everything), seed=seed), pose, scale)
    views.append(("everything", all_on))
    tiles = [_label(img, name) for name, img in views]
    cols = 4
    rows = math.ceil(len(tiles) / cols)
    tw, th = tiles[0].width, tiles[0].height
    grid = Image.new("RGB", (cols * tw, rows * th), (255, 255, 255))
    for i, t in enumerate(tiles):
        grid.paste(t, ((i % cols) * tw, (i // cols) * th))
    save(grid, "sim_gallery.png")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="deepracer sim", description="Embedded simulator tools.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("snapshot", help="write PNGs of camera views (plain and randomized) and a top-down view")
    p.add_argument("--track", default=None, help="built-in track name or .npy path (default: the default track)")
    p.add_argument("--out", required=True, type=Path, help="output folder (created if missing)")
    p.add_argument("--at-pct", type=float, default=3.0, help="car position along the lap, percent (default 3)")
    p.add_argument("--seed", type=int, default=0, help="randomization seed (default 0)")
    p.add_argument("--scale", type=int, default=2, help="integer upscale of the 160x120 views (default 2)")
    args = parser.parse_args(argv)

    from deepracer_tracks.library import DEFAULT_TRACK
    from deepracer_tracks.track import TrackError

    if not 0.0 <= args.at_pct <= 100.0:
        print(f"deepracer sim snapshot: --at-pct must be in [0, 100], got {args.at_pct}", file=sys.stderr)
        return 2
    if args.scale < 1 or args.scale > 8:
        print(f"deepracer sim snapshot: --scale must be in 1..8, got {args.scale}", file=sys.stderr)
        return 2
    try:
        paths = snapshot(args.track or DEFAULT_TRACK, args.out, at_pct=args.at_pct, seed=args.seed,
                         scale=args.scale)
    except (TrackError, OSError) as exc:
        print(f"deepracer sim snapshot: {exc}", file=sys.stderr)
        return 1
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
