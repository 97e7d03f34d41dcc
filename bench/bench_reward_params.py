"""Reward params isolation: what AWS's ``copy.deepcopy(params)`` would cost here vs. what we do.

AWS calls ``reward_function(copy.deepcopy(params))``. ``ParamsBuilder.build`` instead builds every
dict and every list in it anew per car and step (``waypoints`` a new list of immutable (x, y)
tuples), which is as safe. Per car and step, on one track, printed in microseconds:

- build (fresh lists):    ``ParamsBuilder.build`` for N cars / N (what the env does now)
- build, shared list:     the same dicts with ONE shared waypoint list (the old, unsafe way),
                          i.e. build minus the ``list(waypoints)`` copies
- + deepcopy:             shared-list build + ``copy.deepcopy`` of each dict (AWS's way)
- reward call overhead:   ``RewardFunction.__call__`` (time-limit watchdog armed/disarmed, result
                          checks) minus the bare function call, for a trivial reward
- geometry:               simapp's track_width / is_left_of_center (nearest border points), N cars

Usage: python bench/bench_reward_params.py [--n 1 4 64] [--track reinvent2018_like] [--repeat 2000]
"""
from __future__ import annotations

import argparse
import copy
import tempfile
import time
from pathlib import Path

import numpy as np


def _best(fn, repeat: int, rounds: int = 3) -> float:
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(repeat):
            fn()
        best = min(best, (time.perf_counter() - t0) / repeat)
    return best


def bench(track_name: str, n: int, repeat: int) -> dict[str, float]:
    from deepracer_agent.reward import CarState, ParamsBuilder, load_reward_function
    from deepracer_tracks.library import load_track

    track = load_track(track_name)
    builder = ParamsBuilder(track, track.reversed())
    rng = np.random.default_rng(0)
    s = rng.uniform(0, track.length_m, n)
    xy, h = track.pose_at(s)
    xy = xy + rng.normal(0, 0.1, (n, 2))
    query = track.query(xy)
    car = CarState(xy=xy, yaw_rad=h, steering_deg=np.zeros(n), speed_m_s=np.ones(n), progress_pct=np.zeros(n),
                   steps=np.ones(n, dtype=np.int64), all_wheels_on_track=np.ones(n, bool),
                   is_offtrack=np.zeros(n, bool), is_reversed=np.zeros(n, bool))
    shared = builder.waypoints()

    def build_shared():
        out = builder.build(car, query)
        for p in out:           # undo the per-call copies: what "one shared list" would have given
            p["waypoints"] = shared
        return out

    fresh_s = _best(lambda: builder.build(car, query), repeat)
    shared_s = _best(build_shared, repeat)
    copy_cost = _best(lambda: [list(shared) for _ in range(n)], repeat)   # the list copies alone
    deep_s = _best(lambda: [copy.deepcopy(p) for p in build_shared()], max(1, repeat // 10))
    geometry_s = _best(lambda: builder.geometry(xy, query, car.is_reversed), repeat)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trivial.py"
        path.write_text("def reward_function(params):\n    return 1.0\n")
        rf = load_reward_function(path)
        params = builder.build(car, query)[0]
        raw = rf.fn
        call_s = _best(lambda: rf(params), repeat * 10)
        bare_s = _best(lambda: raw(params), repeat * 10)
    us = 1e6
    return {"n": n, "waypoints": len(shared), "fresh_us": fresh_s / n * us,
            "shared_us": (shared_s - copy_cost) / n * us, "deepcopy_us": (deep_s - shared_s + copy_cost) / n * us,
            "copies_us": copy_cost / n * us, "call_overhead_us": (call_s - bare_s) * us,
            "geometry_us": geometry_s * us}


def main() -> None:
    import logging
    import warnings

    warnings.simplefilter("ignore")             # a loaded machine makes even a trivial reward "slow"
    logging.disable(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[1, 4, 64])
    parser.add_argument("--track", default="reinvent2018_like")
    parser.add_argument("--repeat", type=int, default=2000)
    args = parser.parse_args()
    print(f"track {args.track}; microseconds per car and step (geometry: per batch of N)")
    print("| N | waypoints | build, shared list | + list copies (now) | + deepcopy (AWS) | deepcopy / copies "
          "| reward call overhead | geometry (N cars) |")
    print("|---|---|---|---|---|---|---|---|")
    for n in args.n:
        r = bench(args.track, n, args.repeat)
        print(f"| {n} | {r['waypoints']} | {r['shared_us']:.2f} | {r['shared_us'] + r['copies_us']:.2f} "
              f"(copies {r['copies_us']:.2f}) | {r['shared_us'] + r['deepcopy_us']:.1f} "
              f"(deepcopy {r['deepcopy_us']:.1f}) | {r['deepcopy_us'] / max(r['copies_us'], 1e-9):.0f}x "
              f"| {r['call_overhead_us']:.2f} | {r['geometry_us']:.0f} |")


if __name__ == "__main__":
    main()
