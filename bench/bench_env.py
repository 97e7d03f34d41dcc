"""Env throughput: DeepRacerVecEnv steps/s at N = 1 and 64 with the default reward, vs the raw BatchSim.

Prints, per N:
- raw sim step:   BatchSim.step + BatchSim.render (what any env step must do at least), ms per batch step
- env, no reward: DeepRacerBatch.step with compute_reward=False (rules, track queries, frame stack)
- env + reward:   the full env step (params for every car + the AWS centre-line reward)
- params+reward share = (env + reward - env, no reward) / raw sim step   (target < 30%)
- env steps/s = N car-steps per second through DeepRacerVecEnv (auto-reset included)

Usage: python bench/bench_env.py [--steps 200] [--n 1 64] [--track reinvent2018_like]
"""
from __future__ import annotations

import argparse
import time

import numpy as np


def _time(fn, steps: int) -> float:
    """Seconds per call of fn, after a short warm-up."""
    for _ in range(5):
        fn()
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - start) / steps


def bench(n: int, steps: int, track: str) -> dict[str, float]:
    from deepracer_agent.batch import DeepRacerBatch
    from deepracer_agent.vec_env import DeepRacerVecEnv

    rng = np.random.default_rng(0)
    # Low speeds and a long step limit: cars stay on track a while, so resets do not dominate.
    episode = {"max_steps": 10_000}

    batch = DeepRacerBatch(track, n_cars=n, episode=episode, seed=0, compute_reward=False)
    batch.reset_all()
    sim = batch.sim
    steer = np.zeros(n)
    speed = np.full(n, 0.5)

    def raw() -> None:
        sim.step(steer, speed)
        sim.render()

    raw_s = _time(raw, steps)

    def run_batch(b: DeepRacerBatch) -> float:
        b.reset_all()

        def one() -> None:
            _, _, term, trunc, _ = b.step(rng.integers(0, b.metadata.n_actions, size=n))
            done = np.flatnonzero(term | trunc)
            if len(done):
                b.reset_cars(done)
        return _time(one, steps)

    no_reward_s = run_batch(batch)
    with_reward_s = run_batch(DeepRacerBatch(track, n_cars=n, episode=episode, seed=0))

    venv = DeepRacerVecEnv(track, n_envs=n, episode=episode, seed=0)
    venv.reset()
    vec_s = _time(lambda: venv.step(rng.integers(0, venv.action_space.n, size=n)), steps)
    return {"raw_ms": raw_s * 1e3, "no_reward_ms": no_reward_s * 1e3, "with_reward_ms": with_reward_s * 1e3,
            "share": (with_reward_s - no_reward_s) / raw_s, "vec_ms": vec_s * 1e3, "steps_per_s": n / vec_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--n", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--track", default="reinvent2018_like")
    args = parser.parse_args()
    print(f"bench_env: track {args.track}, {args.steps} timed batch steps per measurement")
    print(f"{'N':>4} {'raw sim ms':>11} {'env no-rew ms':>14} {'env+rew ms':>11} "
          f"{'params+reward / raw':>20} {'VecEnv ms':>10} {'env steps/s':>12}")
    for n in args.n:
        r = bench(n, args.steps, args.track)
        print(f"{n:>4} {r['raw_ms']:>11.3f} {r['no_reward_ms']:>14.3f} {r['with_reward_ms']:>11.3f} "
              f"{100 * r['share']:>19.1f}% {r['vec_ms']:>10.3f} {r['steps_per_s']:>12.0f}")


if __name__ == "__main__":
    main()
