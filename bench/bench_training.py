"""Training benchmarks (issue 6): time to competence, speed, generalisation.

    python bench/bench_training.py competence [--device cpu|cuda] [--cap 600] [--run-dir DIR] [--config demo|continuous|sac]
    python bench/bench_training.py competence --seeds 0 1 2 3 4 [--cap 1500]   # serial; median and worst
    python bench/bench_training.py speed      [--device cpu|cuda] [--cap 900]
    python bench/bench_training.py generalisation [--cap 900]
    python bench/bench_training.py all

1. competence: the demo config (default track, the paper's 10 actions, AWS centre-line reward) from
   scratch until the in-training robust evaluation (10 trials: 10 % random actions, starts spread over
   the lap, both directions) laps in >= 9/10 trials. Target < 120 s on the 2-core CPU.
   ``--config continuous`` / ``--config sac``: the same with continuous PPO / SAC (issue 22).
2. speed: grip-limited dynamic model, actions up to 2.33 m/s, progress-per-step reward, re:Invent 2018
   (/work/shared/tracks/reinvent_base.npy); stop when robust evaluation laps >= 9/10 with a mean lap
   time < 9 s. Target < 15 min on the CPU (< 60 s on a GPU).
3. generalisation: train on some built-in tracks in turn, then robust-evaluate the selected
   checkpoint on the built-in tracks it never saw and on the official tracks in /work/shared/tracks.

Each prints the learning curve (one line per iteration), where the time went (environment steps/s,
update samples/s, evaluation and checkpoint time) and the result. Runs go to runs/bench-*.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_TRACKS = REPO / ".." / "shared" / "tracks"


def _load() -> None:
    os.environ.setdefault("MPLBACKEND", "Agg")


def where_time_went(rows: list[dict]) -> dict:
    """Totals over the iterations: env steps/s during rollouts, PPO update samples/s, eval and save time."""
    roll = sum(r["rollout_time_s"] or 0 for r in rows)
    upd = sum(r["update_time_s"] or 0 for r in rows)
    ev = sum(r.get("eval_time_s") or 0 for r in rows)
    save = sum(r.get("save_time_s") or 0 for r in rows)
    steps = rows[-1]["steps"] if rows else 0
    total = rows[-1]["wall_time_s"] if rows else 0.0
    return {"wall_s": total, "rollout_s": round(roll, 1), "update_s": round(upd, 1), "eval_s": round(ev, 1),
            "save_s": round(save, 1), "env_steps": steps,
            "env_steps_per_s_in_rollouts": round(steps / roll, 1) if roll else None,
            "overall_steps_per_s": round(steps / total, 1) if total else None}


def print_curve(rows: list[dict]) -> None:
    print("iter  steps  wall_s  train_progress%  train_laps%  eval_laps%  eval_lap_s  env_steps/s  update_s")
    for r in rows:
        ev = r.get("eval_completion_rate")
        lap = r.get("eval_mean_lap_time_s")
        print(f"{r['iteration']:4d} {r['steps']:6d} {r['wall_time_s']:7.1f} {r['mean_progress'] or 0:15.1f} "
              f"{100 * (r['lap_completion_rate'] or 0):11.1f} {'' if ev is None else f'{100 * ev:10.0f}':>10} "
              f"{'' if lap is None else f'{lap:10.2f}':>10} {r['env_steps_per_s'] or 0:12.0f} {r['update_time_s']:9.1f}")


def run(name: str, overrides: list[str], run_dir: Path, config: str = "demo") -> dict:
    from deepracer_agent.config import load_config, shipped_config
    from deepracer_agent.train import train

    cfg = load_config(shipped_config(config), overrides)
    load = os.getloadavg()
    t0 = time.perf_counter()
    result = train(cfg, run_dir, progress_bar=False)
    wall = time.perf_counter() - t0
    print(f"\n== {name}: {result.stop_reason}; {result.iterations} iterations, {result.steps} steps, "
          f"{result.wall_time_s:.1f} s of training ({wall:.1f} s with setup); load average before: "
          f"{load[0]:.1f}, after: {os.getloadavg()[0]:.1f}")
    print_curve(result.metrics)
    spent = where_time_went(result.metrics)
    print("where the time went:", json.dumps(spent))
    return {"result": result, "time": spent, "config": cfg}


def competent(result) -> bool:
    """True when the run stopped because the in-training robust evaluation reached its target."""
    return result.stop_reason.startswith("robust evaluation reached")


def seed_summary(rows: list[dict]) -> dict:
    """Median and worst time to competence over seeds; rows: ``{seed, competent, steps, wall_s}``.

    A seed that did not reach competence within the cap counts as worse than every competent one
    (its steps/seconds are lower bounds); then the worst is reported as ``None`` (not reached).
    """
    import statistics

    ok = [r for r in rows if r["competent"]]
    out: dict = {"seeds": len(rows), "competent": len(ok)}
    if len(ok) * 2 > len(rows):  # the median is a competent run only when more than half reached it
        steps = sorted(r["steps"] for r in rows if r["competent"]) + [float("inf")] * (len(rows) - len(ok))
        wall = sorted(r["wall_s"] for r in rows if r["competent"]) + [float("inf")] * (len(rows) - len(ok))
        out["median_steps"] = statistics.median(steps)
        out["median_wall_s"] = round(statistics.median(wall), 1)
    else:
        out["median_steps"] = out["median_wall_s"] = None
    full = len(ok) == len(rows)
    out["worst_steps"] = max(r["steps"] for r in rows) if full and rows else None
    out["worst_wall_s"] = round(max(r["wall_s"] for r in rows), 1) if full and rows else None
    return out


def competence(args: argparse.Namespace) -> None:
    base = [f"device={args.device}", f"stop.max_wall_time_s={args.cap}", *args.set]
    if not args.seeds:
        run_dir = Path(args.run_dir or REPO / "runs" / f"bench-competence-{args.device}-{int(time.time())}")
        run(f"time to competence ({args.config})", base, run_dir, config=args.config)
        return
    root = Path(args.run_dir or REPO / "runs" / f"bench-competence-seeds-{args.device}-{int(time.time())}")
    rows = []
    for seed in args.seeds:  # serially: one heavy job at a time
        load = os.getloadavg()[0]
        out = run(f"time to competence ({args.config}), seed {seed}", [*base, f"seed={seed}"], root / f"seed{seed}",
                  config=args.config)
        res = out["result"]
        rows.append({"seed": seed, "competent": competent(res), "steps": res.steps,
                     "wall_s": round(res.wall_time_s, 1), "iterations": res.iterations,
                     "load_before": round(load, 1), "load_after": round(os.getloadavg()[0], 1)})
        print("seed result:", json.dumps(rows[-1]), flush=True)
    print("\nseed  competent  steps  training_s  load_before  load_after")
    for r in rows:
        print(f"{r['seed']:4d} {str(r['competent']):>10} {r['steps']:6d} {r['wall_s']:11.1f} "
              f"{r['load_before']:12.1f} {r['load_after']:11.1f}")
    print("summary:", json.dumps(seed_summary(rows)))


SPEED_METADATA = {
    "action_space": [{"steering_angle": a, "speed": s} for a in (-30.0, -15.0, 0.0, 15.0, 30.0)
                     for s in (1.0, 1.67, 2.33)],
    "action_space_type": "discrete", "neural_network": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
}


def speed(args: argparse.Namespace) -> None:
    track = SHARED_TRACKS / "reinvent_base.npy"
    if not track.is_file():
        print(f"speed: skipped, {track} not found")
        return
    run_dir = Path(args.run_dir or REPO / "runs" / f"bench-speed-{args.device}-{int(time.time())}")
    overrides = [f"device={args.device}", f"stop.max_wall_time_s={args.cap}", f"track={track.resolve()}",
                 "reward_file=progress_per_step", "sim.dynamics=dynamic",
                 f"model_metadata={json.dumps(SPEED_METADATA)}", "stop.target_eval_lap_time_s=9.0",
                 "checkpoints.keep_last=10", *args.set]
    out = run("speed (dynamic model, <= 2.33 m/s, progress per step)", overrides, run_dir)
    from deepracer_agent.evaluate import evaluate

    ev = evaluate([run_dir], trials=10, workers=2, log=None)
    sel = ev["selection"]
    robust = [r for r in ev["summary"] if r["mode"] == "robust" and r["checkpoint"] == sel.path]
    print(f"selected {Path(sel.path).name}: robust {sel.success_rate:.0%}, mean lap "
          f"{robust[0]['mean_lap_time_s'] if robust else None} s; training time {out['result'].wall_time_s:.0f} s")


def generalisation(args: argparse.Namespace) -> None:
    from deepracer_tracks.library import builtin_names

    train_on = ["reinvent2018_like", "technical", "wide_beginner"]
    unseen = [t for t in builtin_names() if t not in train_on]
    official = sorted(str(p.resolve()) for p in SHARED_TRACKS.glob("*.npy")) if SHARED_TRACKS.is_dir() else []
    run_dir = Path(args.run_dir or REPO / "runs" / f"bench-generalisation-{int(time.time())}")
    overrides = [f"device={args.device}", f"stop.max_wall_time_s={args.cap}", f"train_tracks={json.dumps(train_on)}",
                 *args.set]
    run(f"generalisation: train on {train_on}", overrides, run_dir)
    from deepracer_agent.evaluate import evaluate

    ev = evaluate([run_dir], trials=10, workers=2, log=None, naive=False)
    sel = ev["selection"]
    print(f"selected {Path(sel.path).name} (robust {sel.success_rate:.0%} on {train_on[0]}); on other tracks:")
    ev2 = evaluate([sel.path], trials=10, workers=2, log=None, naive=False, tracks=unseen + official,
                   out_dir=run_dir / "generalisation")
    for r in ev2["summary"]:
        print(f"  {Path(r['track']).name:28s} {r['laps']}/{r['trials']} laps, mean completion {r['mean_completion']:.1f}%")


def main() -> int:
    _load()
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("which", nargs="?", default="competence", choices=("competence", "speed", "generalisation", "all"))
    p.add_argument("--device", default="cpu")
    p.add_argument("--cap", type=float, default=None, help="wall-clock cap (s)")
    p.add_argument("--run-dir")
    p.add_argument("--config", default="demo",
                   help="competence: the shipped config (demo; continuous: continuous PPO; sac: SAC)")
    p.add_argument("--set", nargs="*", default=[], metavar="key=value", help="extra config overrides (e.g. seed=1)")
    p.add_argument("--seeds", nargs="*", type=int, default=[], metavar="SEED",
                   help="competence only: run these seeds one after the other, then print median and worst")
    args = p.parse_args()
    caps = {"competence": 600, "speed": 900, "generalisation": 900}
    for name in (("competence", "speed", "generalisation") if args.which == "all" else (args.which,)):
        a = argparse.Namespace(**vars(args))
        a.cap = args.cap or caps[name]
        if args.which == "all":
            a.run_dir = None
        globals()[name](a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
