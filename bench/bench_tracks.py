"""Benchmark: batched track queries per simulator step (deepracer_tracks).

One "call" = what the simulator does every step for N cars: `Track.query` on the N car positions
(projection, progress, distance, closest waypoints, ...) plus `Track.on_track` on the 4N wheel
contact points. Cars sit near the centre line (normal 0.2 m lateral noise), wheels around them.
Also times the one-off costs: building the lookup tables at the first query and a 1 cm texture.

    python bench/bench_tracks.py [--repeats 300]
"""
from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np

from deepracer_tracks.library import load_track
from deepracer_tracks.texture import render_texture

OFFICIAL = Path(__file__).resolve().parents[1] / ".." / "shared" / "tracks"


def time_call(fn, repeats: int) -> float:
    fn()
    best = []
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(repeats):
            fn()
        best.append((time.perf_counter() - t0) / repeats)
    return min(best)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=300)
    args = ap.parse_args()
    names = ["reinvent2018_like", "technical"]
    if (OFFICIAL / "AWS_track.npy").is_file():
        names.append(str(OFFICIAL / "AWS_track.npy"))
    print(f"machine: {platform.processor() or platform.machine()}, numpy {np.__version__}")
    print(f"{'track':<22}{'W':>5}{'build s':>9}{'1 car us':>10}{'64 cars us':>12}{'1000 cars us':>14}{'texture 1cm s':>15}")
    rng = np.random.default_rng(0)
    for name in names:
        track = load_track(name)
        track = type(track)(track.centre, track.inner, track.outer, track.closed, track.name, validate=False)
        xy, heading = track.pose_at(rng.uniform(0, track.length_m, 1000))
        xy += rng.normal(0.0, 0.2, xy.shape)
        offsets = np.array([[0.082, 0.08], [0.082, -0.08], [-0.082, 0.08], [-0.082, -0.08]])
        c, s = np.cos(heading), np.sin(heading)
        wheels = xy[:, None, :] + np.stack([c[:, None] * offsets[:, 0] - s[:, None] * offsets[:, 1],
                                            s[:, None] * offsets[:, 0] + c[:, None] * offsets[:, 1]], axis=-1)
        t0 = time.perf_counter()
        track.query(xy[:1])
        track.on_track(wheels[:1])
        build = time.perf_counter() - t0
        res = []
        for n in (1, 64, 1000):
            p, w = xy[:n], wheels[:n]
            res.append(1e6 * time_call(lambda: (track.query(p), track.on_track(w)), max(10, args.repeats // (1 + n // 100))))
        t0 = time.perf_counter()
        render_texture(track, metres_per_pixel=0.01)
        tex = time.perf_counter() - t0
        print(f"{track.name:<22}{track.n_waypoints:>5}{build:>9.3f}{res[0]:>10.0f}{res[1]:>12.0f}{res[2]:>14.0f}{tex:>15.2f}")


if __name__ == "__main__":
    main()
