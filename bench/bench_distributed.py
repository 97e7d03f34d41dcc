"""Decoupled training benchmark: bytes per step on the wire, experience throughput and trainer
utilisation against the number of rollout workers, and progress against wall time (the paper's
Fig. 5) as a plot.

    python bench/bench_distributed.py                       # 1 and 2 workers, 120 s each
    python bench/bench_distributed.py --workers 1 2 4 8 --seconds 180    # a bigger machine
    python bench/bench_distributed.py --workers 1 2 4 8 --seconds 75 --trainer-device cuda \
        --trainer-threads 4 --k-per-worker 8 --skip-wire                 # the H200 machine (BENCHMARKS.md)

``--k-per-worker`` scales K with the workers (``DistributedConfig.k_per_worker``: an update waits for
max(K, k x active workers) episodes); without it K is fixed and, with many workers, episodes age past
``--max-policy-lag`` versions and are dropped as stale. ``--runtime smoke`` runs the same cluster with
the tiny stand-in env (CI runs it so: ``test_bench_distributed.py``).

Every run is a real local set (``LocalCluster``): a private redis-server, the trainer and N worker
processes with the DeepRacer runtime (embedded simulator, DEEP_CONVOLUTIONAL_NETWORK_SHALLOW),
each process limited to one torch thread so N workers use N cores.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def wire_sizes(steps: int = 300) -> list[dict]:
    """Encode real camera episodes (random actions) with each compression; bytes and time per step."""
    from deepracer_agent.distributed import wire
    from deepracer_agent.distributed.runtime import DeepRacerRuntime, WorkerSettings

    env = DeepRacerRuntime({"episode": {"max_steps": 100}}).make_env(WorkerSettings(seed=0))
    rng = np.random.default_rng(0)
    records, n = [], 0
    while n < steps:
        obs, _ = env.reset()
        frames, done = [], False
        while not done:
            frames.append(np.moveaxis(obs, -1, 0))   # channel-first, as the worker stores it
            obs, _, term, trunc, _ = env.step(env.action_space.sample())
            done = term or trunc
        t = len(frames)
        records.append(wire.EpisodeRecord("bench", f"e{len(records)}", 0, {
            "obs": np.stack(frames), "actions": rng.integers(0, 10, t), "rewards": rng.random(t, np.float32),
            "values": rng.random(t, np.float32), "log_probs": rng.random(t, np.float32)}))
        n += t
    out = []
    for method, level in [("none", 1), ("zlib", 1), ("zlib", 6)] + ([("lz4", 0)] if "lz4" in wire.available_compressions() else []):
        t0 = time.perf_counter()
        blobs = [wire.encode(r, method, level=level) for r in records]
        t1 = time.perf_counter()
        for b in blobs:
            wire.decode(b)
        t2 = time.perf_counter()
        out.append({"compression": f"{method}" + (f"(level {level})" if method == "zlib" else ""),
                    "bytes_per_step": sum(map(len, blobs)) / n, "encode_us_per_step": 1e6 * (t1 - t0) / n,
                    "decode_us_per_step": 1e6 * (t2 - t1) / n, "steps": n})
    return out


def run_workers(n: int, seconds: float, root: Path, training: dict, k: int, trainer_device: str = "cpu",
                trainer_threads: int = 1, k_per_worker: int | None = None, max_policy_lag: int = 1,
                runtime: str | None = None) -> dict:
    from deepracer_agent.distributed.config import DistributedConfig
    from deepracer_agent.distributed.local import LocalCluster

    extra = {"runtime": runtime} if runtime else {}
    cfg = DistributedConfig(store=str(root / f"w{n}" / "store"), run_dir=str(root / f"w{n}" / "run"),
                            training=training, num_episodes_between_training=k, max_wall_time_s=seconds,
                            workers=[{"seed": 100 + i} for i in range(n)], trainer_device=trainer_device,
                            k_per_worker=k_per_worker, max_policy_lag=max_policy_lag, **extra)
    threads = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    t0 = time.monotonic()
    trainer_threads_env = {"OMP_NUM_THREADS": str(trainer_threads), "MKL_NUM_THREADS": str(trainer_threads)}
    with LocalCluster(cfg, workers=n, env=threads, trainer_env=trainer_threads_env) as cluster:
        rc = cluster.wait_trainer(timeout_s=seconds + 120)
    wall = time.monotonic() - t0
    run = Path(cfg.run_dir)
    rows = [json.loads(l) for l in (run / "trainer_metrics.jsonl").read_text().splitlines()] \
        if (run / "trainer_metrics.jsonl").exists() else []
    pushed = sum(len(p.read_text().split()) for p in run.glob("pushed_*.txt"))
    last = rows[-1] if rows else {}
    steps_used = sum(r["steps"] for r in rows)
    steps_per_episode = steps_used / max(sum(r["episodes"] for r in rows), 1)
    lags: dict[str, int] = {}
    for r in rows:
        for lag, count in (r.get("policy_lag") or {}).items():
            lags[lag] = lags.get(lag, 0) + int(count)
    return {"workers": n, "trainer_rc": rc, "wall_s": round(wall, 1), "versions": len(rows),
            "episodes_pushed": pushed, "episodes_used": sum(r["episodes"] for r in rows),
            "steps_used": steps_used, "steps_per_s": round(steps_used / max(last.get("wall_s", 1), 1e-9), 1),
            "produced_steps_per_s": round(pushed * steps_per_episode / seconds, 1),
            "trainer_utilisation": last.get("utilisation"), "dropped_stale": last.get("dropped_stale", 0),
            "stale_share": round(last.get("dropped_stale", 0) / max(pushed, 1), 4),
            "k_last": last.get("episodes"), "policy_lag_used": dict(sorted(lags.items())),
            "mean_update_s": round(float(np.mean([r["update_s"] for r in rows])), 3) if rows else None,
            "curve": [(r["wall_s"], r["mean_progress"], r["mean_return"]) for r in rows]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--seconds", type=float, default=120.0, help="trainer wall time per worker count")
    p.add_argument("--episodes-between-training", type=int, default=8)
    p.add_argument("--max-steps", type=int, default=150, help="episode step limit")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--plot", default="bench/distributed_progress.png")
    p.add_argument("--json", default=None, help="write all results here")
    p.add_argument("--skip-wire", action="store_true")
    p.add_argument("--trainer-device", default="cpu", help="cpu, cuda or auto")
    p.add_argument("--trainer-threads", type=int, default=1, help="torch threads of the trainer process")
    p.add_argument("--k-per-worker", type=int, default=None,
                   help="update every max(K, this x active workers) episodes (default: K fixed)")
    p.add_argument("--max-policy-lag", type=int, default=1)
    p.add_argument("--runtime", choices=("deepracer", "smoke"), default="deepracer",
                   help="smoke: the tiny stand-in env and MLP (a quick check of the whole path, e.g. in CI)")
    args = p.parse_args(argv)
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, python {platform.python_version()}")
    results: dict = {}
    if not args.skip_wire:
        results["wire"] = wire_sizes()
        print("\nbytes per step on the wire (one 120x160 uint8 frame + action/reward/value/log-prob):")
        print("| compression | bytes/step | encode us/step | decode us/step |\n|---|---|---|---|")
        for r in results["wire"]:
            print(f"| {r['compression']} | {r['bytes_per_step']:.0f} | {r['encode_us_per_step']:.0f} | "
                  f"{r['decode_us_per_step']:.0f} |")
    runtime = None
    training: dict = {"episode": {"max_steps": args.max_steps},
                      "hyperparameters": {"num_epochs": args.epochs, "batch_size": 64}}
    if args.runtime == "smoke":
        runtime = "deepracer_agent.distributed.runtime:SmokeRuntime"
        training = {"episode_steps": min(args.max_steps, 20), "step_delay_s": 0.002}
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-distributed-") as tmp:
        for n in args.workers:
            r = run_workers(n, args.seconds, Path(tmp), training, args.episodes_between_training,
                            args.trainer_device, args.trainer_threads, args.k_per_worker, args.max_policy_lag,
                            runtime)
            runs.append(r)
            if args.json:   # after every worker count: a run cut short keeps what it measured
                Path(args.json).write_text(json.dumps(dict(results, runs=runs), indent=1))
            print(f"\n{n} worker(s): {r['versions']} versions, {r['episodes_used']} episodes used "
                  f"({r['episodes_pushed']} pushed, {r['dropped_stale']} dropped stale), "
                  f"{r['steps_per_s']} steps/s into the trainer, utilisation {r['trainer_utilisation']}, "
                  f"K {r['k_last']}, lags used {r['policy_lag_used']}", flush=True)
    results["runs"] = runs
    print(f"\ntrainer on {args.trainer_device} with {args.trainer_threads} thread(s); workers 1 thread each; "
          f"K {args.episodes_between_training}, k_per_worker {args.k_per_worker}, max_policy_lag {args.max_policy_lag}")
    print("| workers | K (last) | versions | episodes pushed / used / dropped stale (share) | steps/s produced (approx.) | "
          "steps/s into trainer | x vs 1st | trainer utilisation | lags used |")
    print("|---|---|---|---|---|---|---|---|---|")
    base = runs[0]["steps_per_s"] if runs else 0.0
    for r in runs:
        print(f"| {r['workers']} | {r['k_last']} | {r['versions']} | {r['episodes_pushed']} / {r['episodes_used']} / "
              f"{r['dropped_stale']} ({100 * r['stale_share']:.1f} %) | {r['produced_steps_per_s']} | {r['steps_per_s']} | "
              f"{r['steps_per_s'] / base if base else float('nan'):.2f} | {r['trainer_utilisation']} | "
              f"{r['policy_lag_used']} |")
    if args.plot:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(6, 4))
        for r in runs:
            xs = [c[0] for c in r["curve"]]
            ys = [c[1] if c[1] is not None else np.nan for c in r["curve"]]
            ax.plot(xs, ys, marker="o", ms=3, label=f"{r['workers']} worker(s)")
        ax.set_xlabel("wall time (s)")
        ax.set_ylabel("mean episode progress (%)")
        ax.set_title("Decoupled PPO: progress vs wall time")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        Path(args.plot).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.plot, dpi=100)
        print(f"\nplot: {args.plot}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
