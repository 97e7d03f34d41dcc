"""docs/images/aws_worlds_gallery.png: the five shared AWS worlds in the embedded renderer.

Per world (one column): the baked ground from above with the car and its field of view, then the
car camera at the route's start pose (waypoint 0, heading along the route) in colour and in the
160x120 gray the agent gets. No randomization.

Run:  DEEPRACER_SIMAPP_DIR=/path/to/deepracer-simapp python scripts/aws_world_gallery.py [--out docs/images]
"""
from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np

WORLDS = ["reinvent_base", "Oval_track", "Bowtie_track", "AWS_track", "Straight_track"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=Path("docs/images"))
    args = p.parse_args()
    from PIL import Image

    from deepracer_sim.batch_sim import BatchSim
    from deepracer_sim.cli import _camera_image, _label, _save_png, _topdown
    from deepracer_sim.config import SimConfig
    from deepracer_tracks.library import load_track

    warnings.simplefilter("ignore")
    columns = []
    for name in WORLDS:
        track = load_track(f"aws:{name}")
        xy, heading = track.pose_at(np.array([0.0]))
        pose = (float(xy[0, 0]), float(xy[0, 1]), float(heading[0]))
        gray_sim = BatchSim(track, 1, SimConfig(), seed=0)
        top = _topdown(gray_sim, pose, 320)
        if top.height > 240:
            top = top.resize((int(round(top.width * 240 / top.height)), 240), Image.BILINEAR)
        canvas = Image.new("RGB", (320, 240), (255, 255, 255))
        canvas.paste(top, ((320 - top.width) // 2, (240 - top.height) // 2))
        rgb = _camera_image(BatchSim(track, 1, SimConfig(color=True), seed=0), pose, 2)
        gray = _camera_image(gray_sim, pose, 2)
        tiles = [_label(canvas, f"aws:{name} (top-down)"), _label(rgb, "camera, colour"), _label(gray, "camera, 160x120 gray")]
        col = Image.new("RGB", (320, sum(t.height for t in tiles)), (255, 255, 255))
        y = 0
        for t in tiles:
            col.paste(t, (0, y))
            y += t.height
        columns.append(col)
    grid = Image.new("RGB", (sum(c.width for c in columns) + 4 * (len(columns) - 1), columns[0].height), (255, 255, 255))
    x = 0
    for c in columns:
        grid.paste(c, (x, 0))
        x += c.width + 4
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "aws_worlds_gallery.png"
    _save_png(grid, path)
    print(f"wrote {path} ({grid.width} x {grid.height})")


if __name__ == "__main__":
    main()
