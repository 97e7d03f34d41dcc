"""Renderer speed on imported AWS worlds vs a built-in track, in one run (one core).

For the built-in default track and each AWS world: `bench_sim.run` (step + render + queries, best
of 5 windows) at N cars, gray 160x120, default config; the ratio column is the built-in track's
render frames/s over the world's (target: <= 1.5). Runs alternate built-in / world so that load
changes on a shared machine hit both.

Run:  DEEPRACER_SIMAPP_DIR=/path/to/deepracer-simapp python bench/bench_aws_worlds.py [--seconds 2] [--cars 16]
      [--worlds reinvent_base Oval_track ...]
"""
from __future__ import annotations

import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_sim import run  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--cars", type=int, default=16)
    p.add_argument("--worlds", nargs="*", default=["reinvent_base", "Oval_track", "Bowtie_track", "AWS_track",
                                                  "Straight_track"])
    args = p.parse_args()
    from deepracer_sim.config import SimConfig
    from deepracer_tracks.library import DEFAULT_TRACK, load_track

    warnings.simplefilter("ignore")
    builtin = load_track(DEFAULT_TRACK)
    print(f"{args.cars} cars, gray 160x120, NUMBA_NUM_THREADS={os.environ['NUMBA_NUM_THREADS']}, "
          f"{os.cpu_count()} CPUs visible")
    print(f"{'track':<22} {'frames/s':>9} {'render us/car':>14} {'render frames/s':>16} {'built-in render f/s':>20} {'ratio':>6}")
    for name in args.worlds:
        world = load_track(f"aws:{name}")
        b = run(builtin, args.cars, args.seconds, SimConfig())
        w = run(world, args.cars, args.seconds, SimConfig())
        b_fps, w_fps = 1e6 / b["render_us_per_car"], 1e6 / w["render_us_per_car"]
        print(f"{'aws:' + name:<22} {w['fps']:>9.0f} {w['render_us_per_car']:>14.1f} {w_fps:>16.0f} {b_fps:>20.0f} "
              f"{b_fps / w_fps:>6.2f}", flush=True)
    print(f"(built-in track: {builtin.name})")


if __name__ == "__main__":
    main()
