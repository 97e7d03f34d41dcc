"""GPU trainer: training wall time to competence on the demo task (issue 18).

    python bench/bench_gpu_competence.py --device cuda --seconds 15 --workers 15
    python bench/bench_gpu_competence.py --variant small:n_envs=128,hyperparameters.batch_size=512 \
        --variant base: --seconds 15          # several settings, each its own run (one process)

Each variant trains ``--config`` (default: the ``demo_gpu`` preset) plus its overrides with
``deepracer train``'s code path (``device=cuda``: deepracer_agent.torch_train) for ``--seconds`` of
training wall time, writing a checkpoint about every second (``checkpoints.every_s``). Then the
checkpoints of all variants are scored by ``deepracer evaluate``'s robust evaluation (the same
function: 10 trials, starts spread over the lap, odd ones reversed, 10 % random actions, the
numba CPU simulator), in ``--workers`` processes. Time to competence = the training wall time
(``wall_time_s`` of the checkpoint's metrics row: from the first rollout, checkpoints included)
of the first checkpoint with >= 9/10 robust laps (``--max-lap-time-s``: laps at most that long, for
the racing preset); "stable" = the first checkpoint from which three
in a row are (the selection rule's window of 3).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path


def parse_variant(text: str) -> tuple[str, list[str]]:
    """``name:key=value,key=value`` -> (name, ["key=value", ...]); ``name:`` = no overrides."""
    name, _, rest = text.partition(":")
    return name, [kv for kv in rest.split(",") if kv]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default="demo_gpu", help="training config: a shipped name or a YAML path")
    p.add_argument("--device", default="cuda", help="cuda, or cpu-torch (the same trainer on the CPU)")
    p.add_argument("--variant", action="append", default=[], metavar="NAME:K=V,K=V",
                   help="a run with these overrides (repeatable; default: one run of the config as is)")
    p.add_argument("--set", action="append", default=[], metavar="K=V", help="overrides for every variant")
    p.add_argument("--seconds", type=float, default=15.0, help="training wall time per variant")
    p.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 1), help="evaluation processes")
    p.add_argument("--trials", type=int, default=10)
    p.add_argument("--target", type=float, default=0.9, help="robust success rate that counts as competence")
    p.add_argument("--max-lap-time-s", type=float, default=None,
                   help="racing: a trial counts only if it laps in at most this many seconds")
    p.add_argument("--out", default="runs/bench_gpu_competence", help="run folders and the evaluation go here")
    p.add_argument("--json", default=None, help="write the results here")
    p.add_argument("--no-eval", action="store_true", help="train only")
    args = p.parse_args(argv)

    from deepracer_agent.config import load_config, shipped_config
    from deepracer_agent.evaluate import evaluate
    from deepracer_agent.train import train

    config_path = args.config if args.config.endswith((".yaml", ".yml")) else str(shipped_config(args.config))
    variants = [parse_variant(v) for v in args.variant] or [("base", [])]
    out = Path(args.out)
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, python {platform.python_version()}", flush=True)
    results: dict = {"config": config_path, "device": args.device, "seconds": args.seconds, "variants": []}

    def save() -> None:
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=1))

    for name, overrides in variants:
        over = [f"device={args.device}", f"stop.max_wall_time_s={args.seconds}", *args.set, *overrides]
        run_dir = out / name
        t0 = time.perf_counter()
        res = train(load_config(config_path, over), run_dir, progress_bar=False, log=None)
        rows = res.metrics
        v = {"name": name, "overrides": over, "run_dir": str(run_dir), "iterations": res.iterations,
             "steps": res.steps, "process_wall_s": round(time.perf_counter() - t0, 2),
             "train_wall_s": rows[-1]["wall_time_s"] if rows else None,
             "rollout_s": round(sum(r["rollout_time_s"] for r in rows), 2),
             "update_s": round(sum(r["update_time_s"] for r in rows), 2),
             "env_steps_per_s_rollout": rows[-1]["env_steps_per_s"] if rows else None,
             "train_lap_rate": [(r["wall_time_s"], r["lap_completion_rate"]) for r in rows]}
        results["variants"].append(v)
        print(f"{name}: {res.iterations} iterations, {res.steps} steps in {v['train_wall_s']} s "
              f"(rollout {v['rollout_s']} s, update {v['update_s']} s); last training lap rate "
              f"{rows[-1]['lap_completion_rate'] if rows else None}", flush=True)
        save()
    if args.no_eval:
        return 0

    t0 = time.perf_counter()
    ev = evaluate([v["run_dir"] for v in results["variants"]], trials=args.trials, naive=False, robust=True,
                  workers=args.workers, out_dir=out / "evaluation", simtrace=False, log=None)
    results["eval_wall_s"] = round(time.perf_counter() - t0, 1)
    by_ckpt: dict[str, list[dict]] = {}
    for r in ev["rows"]:
        by_ckpt.setdefault(str(r["checkpoint"]), []).append(r)
    for v in results["variants"]:
        scored = []
        for ckpt in sorted(Path(v["run_dir"], "checkpoints").glob("iter_*.zip")):
            trials = by_ckpt.get(str(ckpt), [])
            if not trials:
                continue
            side = json.loads(ckpt.with_suffix(".json").read_text())
            times = [float(t["lap_time_s"]) for t in trials if t.get("lap_time_s") not in (None, "")]
            laps = (len(times) if args.max_lap_time_s is None
                    else sum(x <= args.max_lap_time_s for x in times))
            scored.append({"checkpoint": ckpt.name, "wall_time_s": side.get("wall_time_s"), "steps": side.get("steps"),
                           "laps": laps, "laps_any_time": len(times), "trials": len(trials),
                           "mean_lap_time_s": round(sum(times) / len(times), 2) if times else None,
                           "max_lap_time_s": max(times) if times else None})
        v["robust"] = scored
        first = next((s for s in scored if s["laps"] >= args.target * s["trials"]), None)
        v["time_to_competence_s"] = first["wall_time_s"] if first else None
        v["steps_to_competence"] = first["steps"] if first else None
        v["first_competent"] = first["checkpoint"] if first else None
        ok = [s["laps"] >= args.target * s["trials"] for s in scored]
        stable = next((i for i in range(len(ok) - 2) if all(ok[i:i + 3])), None)
        v["stable_from_s"] = scored[stable]["wall_time_s"] if stable is not None else None
        print(f"\n{v['name']}: robust laps per checkpoint (training wall s: laps/trials) "
              + ", ".join(f"{s['wall_time_s']}: {s['laps']}/{s['trials']}"
                        + (f" ({s['laps_any_time']} laps, mean {s['mean_lap_time_s']} s)" if args.max_lap_time_s else "")
                        for s in scored))
        print(f"{v['name']}: time to competence {v['time_to_competence_s']} s "
              f"({v['steps_to_competence']} steps, {v['first_competent']}); 3 in a row from {v['stable_from_s']} s",
              flush=True)
    print(f"\nevaluation: {len(ev['rows'])} trials in {results['eval_wall_s']} s")
    save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
