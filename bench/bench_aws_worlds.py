"""Renderer speed on imported AWS worlds vs a built-in track, in one run (one core).

For each AWS world and the built-in default track, a BatchSim of N cars spread along the lap (gray
160x120, default config). The two renderers are timed in alternation, a block of `--frames`
renders each, for `--rounds` rounds; each side's figure is its fastest block (the least disturbed
on a shared machine), so load changes hit both sides alike. Ratio = built-in render frames/s /
world render frames/s (target: <= 1.5).

Run:  DEEPRACER_SIMAPP_DIR=/path/to/deepracer-simapp python bench/bench_aws_worlds.py [--cars 16]
      [--rounds 15] [--frames 10] [--worlds reinvent_base Oval_track ...]
"""
from __future__ import annotations

import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402


def _sim(track, n: int):
    from deepracer_sim.batch_sim import BatchSim

    sim = BatchSim(track, n_cars=n, seed=0)
    xy, heading = track.pose_at(np.linspace(0.0, track.length_m, n, endpoint=False))
    sim.reset(np.arange(n), xy[:, 0], xy[:, 1], heading)
    out = sim.render()
    return sim, out


def _block(sim, out, frames: int) -> float:
    t0 = time.perf_counter()
    for _ in range(frames):
        sim.render(out)
    return (time.perf_counter() - t0) / frames


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cars", type=int, default=16)
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--frames", type=int, default=10)
    p.add_argument("--worlds", nargs="*", default=["reinvent_base", "Oval_track", "Bowtie_track", "AWS_track",
                                                  "Straight_track"])
    args = p.parse_args()
    from deepracer_tracks.library import DEFAULT_TRACK, load_track

    warnings.simplefilter("ignore")
    builtin, b_out = _sim(load_track(DEFAULT_TRACK), args.cars)
    print(f"{args.cars} cars, gray 160x120, NUMBA_NUM_THREADS={os.environ['NUMBA_NUM_THREADS']}, "
          f"{os.cpu_count()} CPUs visible, load average {os.getloadavg()[0]:.1f}; built-in: {DEFAULT_TRACK}")
    print(f"{'track':<22} {'render us/car':>14} {'render frames/s':>16} {'built-in us/car':>16} "
          f"{'built-in frames/s':>18} {'ratio':>6}")
    for name in args.worlds:
        world, w_out = _sim(load_track(f"aws:{name}"), args.cars)
        b_best = w_best = float("inf")
        for _ in range(args.rounds):
            b_best = min(b_best, _block(builtin, b_out, args.frames))
            w_best = min(w_best, _block(world, w_out, args.frames))
        b_us, w_us = b_best / args.cars * 1e6, w_best / args.cars * 1e6
        print(f"{'aws:' + name:<22} {w_us:>14.1f} {1e6 / w_us:>16.0f} {b_us:>16.1f} {1e6 / b_us:>18.0f} "
              f"{w_us / b_us:>6.2f}", flush=True)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
