"""Env throughput: DeepRacerVecEnv steps/s at N = 1 and 64 with the default reward, vs the raw BatchSim.

For each N, cars drive random actions from the default action space (so episodes end and cars
auto-reset, as in early training). Printed, in ms per batch step (all N cars):
- raw sim:   BatchSim.step + BatchSim.render alone (the floor for any env step)
- phases of DeepRacerBatch.step from its own timers: sim step, track queries + episode rules,
  params (building N AWS dicts), reward (N calls of the default centre-line reward), render,
  resets (reset_cars incl. its re-render, amortised per step)
- params+reward / raw: the contract's cost relative to the raw sim step (target < 30 %)
- env steps/s: car-steps per second through DeepRacerVecEnv.step (N / time per VecEnv step)

Usage: python bench/bench_env.py [--steps 300] [--n 1 64] [--track reinvent2018_like]
"""
from __future__ import annotations

import argparse
import time

import numpy as np


def bench(n: int, steps: int, track: str) -> dict[str, float]:
    from deepracer_agent.vec_env import DeepRacerVecEnv

    rng = np.random.default_rng(0)
    venv = DeepRacerVecEnv(track, n_envs=n, seed=0)
    venv.reset()
    for _ in range(20):  # warm-up (numba, caches)
        venv.step(rng.integers(0, venv.action_space.n, size=n))
    batch = venv.batch
    batch.timing.clear()
    start = time.perf_counter()
    for _ in range(steps):
        venv.step(rng.integers(0, venv.action_space.n, size=n))
    vec_s = (time.perf_counter() - start) / steps
    t = {k: v / steps * 1e3 for k, v in batch.timing.items() if k != "steps"}

    sim = batch.sim
    steer, speed = np.zeros(n), np.full(n, 0.5)
    sim.step(steer, speed), sim.render()
    start = time.perf_counter()
    for _ in range(steps):
        sim.step(steer, speed)
        sim.render()
    raw_ms = (time.perf_counter() - start) / steps * 1e3
    return {"raw_ms": raw_ms, **t, "share": (t["params"] + t["reward"]) / raw_ms,
            "vec_ms": vec_s * 1e3, "steps_per_s": n / vec_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--n", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--track", default="reinvent2018_like")
    args = parser.parse_args()
    print(f"bench_env: track {args.track}, {args.steps} timed VecEnv steps per N, random actions")
    cols = ["raw_ms", "sim_step", "track_and_rules", "params", "reward", "render", "reset", "vec_ms"]
    print(f"{'N':>4} " + " ".join(f"{c:>15}" for c in cols) + f" {'params+rew/raw':>15} {'env steps/s':>12}")
    for n in args.n:
        r = bench(n, args.steps, args.track)
        print(f"{n:>4} " + " ".join(f"{r.get(c, 0.0):>15.3f}" for c in cols)
              + f" {100 * r['share']:>14.1f}% {r['steps_per_s']:>12.0f}")


if __name__ == "__main__":
    main()
