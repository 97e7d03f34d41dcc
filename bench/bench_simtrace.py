"""Does writing simtraces slow training? Env steps/s of one DeepRacerVecEnv with and without the
simtrace recorder, interleaved in ONE run (same machine state), plus the per-iteration file write.

    python bench/bench_simtrace.py [--n-envs 4] [--steps 300] [--rounds 3]
    python bench/bench_simtrace.py --train [--rounds 2]

Prints steps/s for both, the ratio (with / without) and the time to write one iteration's CSV.
``--train``: short ``deepracer train`` runs in this one process, alternately without simtraces
(``TrainingLogs.attach`` replaced by a no-op, for this benchmark only) and with them; prints the
rollout env steps/s, the wall time per iteration and the ratios.
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


def train_bench(rounds: int) -> None:
    import statistics

    from deepracer_agent import aws_logs
    from deepracer_agent.config import load_config
    from deepracer_agent.train import train

    real_attach, real_end = aws_logs.TrainingLogs.attach, aws_logs.TrainingLogs.end_iteration
    spent = {"end_iteration_s": 0.0, "recorder_s": 0.0}
    batches: list = []

    def timed_end(self, iteration=None):
        t0 = time.perf_counter()
        try:
            return real_end(self, iteration)
        finally:
            spent["end_iteration_s"] += time.perf_counter() - t0

    def traced_attach(self, envs):
        batches.extend(e.batch for e in envs)
        return real_attach(self, envs)
    aws_logs.TrainingLogs.end_iteration = timed_end
    args = ["n_envs=4", "ppo.n_steps=128", "hyperparameters.num_epochs=1", "hyperparameters.batch_size=64",
            "model_metadata.neural_network=DEEP_CONVOLUTIONAL_NETWORK_DEEP", "stop.max_iterations=4",
            "torch_threads=1", "checkpoints.keep_last=1"]
    res: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    share: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(rounds):
            for traced in (False, True):
                aws_logs.TrainingLogs.attach = traced_attach if traced else (lambda self, envs: None)
                t0, e0 = time.perf_counter(), spent["end_iteration_s"]
                result = train(load_config(None, args), f"{tmp}/run{k}{int(traced)}", progress_bar=False, log=None)
                if traced:
                    wall = time.perf_counter() - t0
                    rec = sum(b.timing["simtrace"] for b in batches)
                    batches.clear()
                    share.append((rec + spent["end_iteration_s"] - e0) / wall)
                rows = result.metrics
                rows = rows[1:]          # iteration 1 holds the numba/torch warm-up
                sps = statistics.median(r["env_steps_per_s"] for r in rows)
                per_iter = (rows[-1]["wall_time_s"] - rows[0]["wall_time_s"]) / (len(rows) - 1)
                res[traced].append((sps, per_iter))
    aws_logs.TrainingLogs.attach, aws_logs.TrainingLogs.end_iteration = real_attach, real_end
    (a_sps, a_it), (b_sps, b_it) = [tuple(statistics.median(v[j] for v in res[t]) for j in (0, 1)) for t in (False, True)]
    print(f"training, n_envs 4, 4 x 128 steps per iteration, {rounds} rounds each (median, iterations 2-4)")
    print(f"without simtrace: rollout {a_sps:7.1f} env steps/s, {a_it:6.2f} s per iteration")
    print(f"with simtrace:    rollout {b_sps:7.1f} env steps/s, {b_it:6.2f} s per iteration")
    print(f"ratio (with / without): steps/s {b_sps / a_sps:.3f}, time per iteration {b_it / a_it:.3f}")
    print(f"inside the traced runs: recorder + iteration files = {100 * statistics.median(share):.2f}% "
          f"of the run's wall time (runs: {', '.join(f'{100 * x:.2f}%' for x in share)})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", action="store_true", help="short training runs instead of env steps")
    ap.add_argument("--n-envs", type=int, default=4)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    if args.train:
        train_bench(max(args.rounds, 1))
        return
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
