"""Does writing simtraces slow training? Env steps/s of one DeepRacerVecEnv with and without the
simtrace recorder, interleaved in ONE run (same machine state), plus the per-iteration file write.

    python bench/bench_simtrace.py [--n-envs 4] [--steps 300] [--rounds 3]

Prints steps/s for both, the ratio (with / without) and the time to write one iteration's CSV.
"""
from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from deepracer_agent.simtrace import SimtraceLog, attach
from deepracer_agent.vec_env import DeepRacerVecEnv


def run(env, steps: int, rng) -> float:
    env.reset()
    t0 = time.perf_counter()
    for _ in range(steps):
        env.step(rng.integers(0, env.action_space.n, size=env.num_envs))
    return steps * env.num_envs / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-envs", type=int, default=4)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    plain = DeepRacerVecEnv(n_envs=args.n_envs, seed=0)
    traced = DeepRacerVecEnv(n_envs=args.n_envs, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        log = SimtraceLog(tmp)
        attach(traced, log)
        run(plain, 30, np.random.default_rng(0))       # warm-up (numba compile, texture caches)
        run(traced, 30, np.random.default_rng(0))
        a, b = [], []
        for k in range(args.rounds):
            a.append(run(plain, args.steps, np.random.default_rng(k)))
            b.append(run(traced, args.steps, np.random.default_rng(k)))
        rows = len(log.rows)
        t0 = time.perf_counter()
        log.write_iteration(0)
        write_s = time.perf_counter() - t0
    timing = traced.batch.timing
    rec_us = 1e6 * timing["simtrace"] / timing["steps"]
    step_us = 1e6 * sum(v for k, v in timing.items() if k not in ("steps", "simtrace", "reset")) / timing["steps"]
    sa, sb = float(np.median(a)), float(np.median(b))
    print(f"n_envs {args.n_envs}, {args.steps} steps x {args.rounds} rounds (median)")
    print(f"without simtrace: {sa:8.1f} env steps/s")
    print(f"with simtrace:    {sb:8.1f} env steps/s   ratio {sb / sa:.3f}")
    print(f"recorder: {rec_us:.0f} us per batch step (the rest of a batch step: {step_us:.0f} us) "
          f"= {100 * rec_us / step_us:.1f}%")
    print(f"write one iteration file: {rows} rows in {1000 * write_s:.1f} ms")


if __name__ == "__main__":
    main()
