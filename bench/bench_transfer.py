"""Transfer benchmarks (issue 16): the demo on the reality-gap suite, and the paper's Table II in sim2sim.

    python bench/bench_transfer.py demo [--before] [--run-dir DIR] [--time-cap-s 600] [--trials 6]
    python bench/bench_transfer.py table2 [--rows baseline,action_noise,...] [--steps 4096] [--trials 6]
                                          [--cells CELL ...] [--device cuda-sb3] [--robust] [--workers 2]
    python bench/bench_transfer.py table2-correlate        # merge rows run as separate processes
    python bench/bench_transfer.py correlate RUN_DIR [--trials 6]
    python bench/bench_transfer.py invariance RUN_DIR_OR_CHECKPOINT...   # how alike a policy acts under T

1. demo: ``deepracer demo`` (today's config; ``--before``: the same with ``sim={}``, i.e. the
   config before issue 16's randomization and resting attitude), its wall time, then
   ``deepracer transfer`` on the selected checkpoint (25 cells x 6 trials). Target: >= 5/6 in every
   cell, demo wall time <= 1.5x the ``--before`` one.
2. table2: each row of the paper's Table II trained with the same fixed step budget (no early stop,
   no in-training evaluation) from the demo's learning settings with no randomization and forward
   driving, then the transfer suite on its last checkpoint. Rows: see ``ROWS``.
3. correlate: ``deepracer transfer RUN --correlate --robust-randomize all one`` (Fig. 6): the plain,
   the all-on randomized and the one-family-per-trial robust evaluations against the suite.

4. invariance: for each model, the mean KL between its action distribution on nominal frames (every
   third waypoint of the evaluation track, both the resting car's camera) and on the same poses
   under ``deepracer_agent.invariance``'s transforms (shift 12 rows, inverted) and under the suite's
   pitch +-5 deg and ``concrete`` renders, and how often the car's action (the argmax) stays the same.

Results are printed and written as JSON next to the run folders (``runs/bench-transfer-*``).
Run ONE at a time on a shared machine, with ``nice -n 10``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: The paper's Table II rows as overrides of the Table II base (see BASE).
ROWS: dict[str, list[str]] = {
    "baseline": [],
    "action_noise": ["sim.randomization.action_noise.enabled=true"],
    "reverse": ["episode.direction=alternate"],
    "both": ["sim.randomization.action_noise.enabled=true", "episode.direction=alternate"],
    "l2": ["regularisation.l2=1.0e-4"],
    "dropout": ["regularisation.dropout=0.3"],
    **{name: ["sim.randomization.augmentation.enabled=true"]
       + [f"sim.randomization.augmentation.{a}={'true' if a == flag else 'false'}"
          for a in ("random_color", "translation", "shadow", "sharpen", "salt_and_pepper")]
       for name, flag in (("colour_aug", "random_color"), ("translation", "translation"), ("shadow", "shadow"),
                          ("sharpen", "sharpen"), ("pepper", "salt_and_pepper"))},
    "all_image_aug": ["sim.randomization.augmentation.enabled=true"],
    "best_combo": ["sim.randomization.action_noise.enabled=true", "episode.direction=alternate",
                   "sim.randomization.augmentation.enabled=true", "sim.randomization.augmentation.random_color=true"],
}
#: Table II base: the demo's learning settings, no randomization, level camera, forward driving,
#: a fixed budget and no early stop or in-training evaluation.
BASE = ["sim={}", "episode.direction=forward", "stop.max_wall_time_s=null", "stop.target_eval_completion=null",
        "evaluation.start_after_steps=100000000", "checkpoints.keep_last=2"]


def _suite(target: Path, trials: int, cells: list[str] | None, out: Path | None = None, workers: int = 2) -> dict:
    from deepracer_agent.transfer import suite_cells, transfer

    grid = suite_cells()
    if cells:
        grid = [c for c in grid if c.name in cells]
    t0 = time.perf_counter()
    res = transfer([target], grid, trials=trials, workers=workers, seed=0, out_dir=out, log=None)
    table = res["table"][0] if res["table"] else {"cells": {}, "laps": 0, "trials": 0}
    return {"suite_s": round(time.perf_counter() - t0, 1), "laps": table["laps"], "trials": table["trials"],
            "cells": {k: f"{a}/{b}" for k, (a, b) in table["cells"].items()},
            "cells_at_least_5_of_6": sum(a * 6 >= 5 * b for a, b in table["cells"].values()),
            "n_cells": len(table["cells"]), "errors": res["errors"]}


def bench_demo(args: argparse.Namespace) -> dict:
    from deepracer_common.cli import main as deepracer

    name = "before" if args.before else "after"
    run = Path(args.run_dir or REPO / "runs" / f"bench-transfer-demo-{name}")
    argv = ["demo", "--run-dir", str(run), "--time-cap-s", str(args.time_cap_s)]
    if args.before:
        argv += ["sim={}"]
    t0 = time.perf_counter()
    rc = deepracer(argv)
    wall = time.perf_counter() - t0
    status = json.loads((run / "status.json").read_text()) if (run / "status.json").is_file() else {}
    result = {"config": name, "demo_rc": rc, "demo_wall_s": round(wall, 1), "status": status,
              "load_average_after": os.getloadavg()}
    result |= _suite(run, args.trials, None)
    return result


def bench_table2(args: argparse.Namespace) -> dict:
    from deepracer_agent.config import load_config, shipped_config
    from deepracer_agent.train import complete_checkpoints, train

    rows = args.rows.split(",") if args.rows else list(ROWS)
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        raise SystemExit(f"bench_transfer: unknown rows {unknown}; known: {', '.join(ROWS)}")
    out = {}
    for row in rows:
        run = Path(args.runs) / f"bench-transfer-table2-{row}"
        extra = [f"stop.max_steps={args.steps}", f"device={args.device}", f"seed={args.seed}"]
        cfg = load_config(shipped_config("demo"), BASE + extra + ROWS[row])
        t0 = time.perf_counter()
        train(cfg, run, progress_bar=False, log=None)
        train_s = time.perf_counter() - t0
        last = complete_checkpoints(run, verify=False)[-1][0]
        out[row] = {"overrides": ROWS[row], "steps": args.steps, "device": args.device, "seed": args.seed,
                    "train_s": round(train_s, 1), "checkpoint": str(last), "load_average": os.getloadavg()}
        out[row] |= _suite(last, args.trials, args.cells, run, workers=args.workers)
        if args.robust:
            out[row]["robust"] = _robust_scores(last, run, args.workers)
        (run / "bench_table2.json").write_text(json.dumps({row: out[row]}, indent=1, default=str))
        print(json.dumps({row: out[row]}, default=str), flush=True)
    return out


#: Fig. 6 over the Table II rows: the robust evaluations scored on each row's last checkpoint
#: (name -> (``evaluate(randomize=...)``, trials)): the selection's own (nominal), every
#: randomization on at its default strength, and one condition family per trial.
ROBUST_VARIANTS = {"nominal": (False, 10), "all": ("all", 20), "one": ("one", 18)}


def _robust_scores(checkpoint: Path, run: Path, workers: int) -> dict:
    """``laps/trials`` per ROBUST_VARIANTS entry, through ``transfer.robust_scores`` (the run folder,
    ``robust_randomized/``, ``robust_one/``, as ``deepracer transfer --correlate`` keeps them)."""
    from deepracer_agent.transfer import robust_scores

    scores = {}
    for name, (randomize, trials) in ROBUST_VARIANTS.items():
        success = robust_scores(run, [checkpoint], trials, workers, 0, randomize, None)[str(checkpoint)]
        scores[name] = f"{round(success * trials)}/{trials}"
    return scores


def bench_table2_correlate(args: argparse.Namespace) -> dict:
    """Merge the rows' ``bench_table2.json`` (one ``table2`` process per row) into the Table II
    table and Fig. 6's Spearman correlations (each robust variant vs the suite total)."""
    from deepracer_agent.transfer import spearman

    rows = {}
    for f in sorted(Path(args.runs).glob("bench-transfer-table2-*/bench_table2.json")):
        rows |= json.loads(f.read_text())
    names = [r for r in ROWS if r in rows]
    suite = [rows[r]["laps"] for r in names]
    out: dict = {"rows": {r: {"suite": f"{rows[r]['laps']}/{rows[r]['trials']}",
                              "cells_at_least_5_of_6": rows[r]["cells_at_least_5_of_6"],
                              "train_s": rows[r]["train_s"], **rows[r].get("robust", {})} for r in names}}
    for variant in ROBUST_VARIANTS:
        if all(variant in rows[r].get("robust", {}) for r in names):
            xs = [int(rows[r]["robust"][variant].split("/")[0]) for r in names]
            out[f"spearman_{variant}_vs_suite"] = round(spearman(xs, suite), 3)
    return out


def bench_correlate(args: argparse.Namespace) -> dict:
    from deepracer_agent.transfer import main as transfer_main

    rc = transfer_main([str(args.run), "--correlate", "--robust-randomize", "all", "one", "--trials", str(args.trials)])
    return {"rc": rc, "report": (Path(args.run) / "transfer_correlation.md").read_text()}


def bench_invariance(args: argparse.Namespace) -> dict:
    import numpy as np
    import torch
    from deepracer_agent import checkpoint
    from deepracer_agent.config import TrainConfig, check_inputs
    from deepracer_agent.invariance import InvarianceOptions, action_distribution, policy_kl, transform_frames
    from deepracer_agent.train import build_model, make_env
    from deepracer_agent.evaluate import deep_merge
    from deepracer_agent.transfer import cell_sim_overrides, suite_cells
    from deepracer_sim.batch_sim import BatchSim
    from deepracer_sim.config import SimConfig

    cells = {c.name: c for c in suite_cells()}
    out: dict = {}
    for target in args.models:
        path = Path(target)
        path = path / "best.zip" if path.is_dir() else path
        ckpt = checkpoint.read(path)
        cfg = TrainConfig.from_dict(ckpt.config)
        track, reward = check_inputs(cfg)
        xy, heading = track.pose_at(track.waypoint_s_m[:-1:3])     # every third waypoint of the lap

        def frames(cell: str) -> torch.Tensor:
            """The poses rendered as the suite's cell renders them (its nominal car, its one condition)."""
            sim = SimConfig.from_dict(deep_merge(cfg.sim, cell_sim_overrides(cells[cell], cfg.sim)))
            batch = BatchSim(track, len(heading), sim, seed=0)
            batch.reset(list(range(len(heading))), xy[:, 0], xy[:, 1], heading)
            return torch.as_tensor(batch.render().reshape(len(heading), 1, 120, 160).astype(np.float32))

        nominal = frames("nominal")
        conditions = {
            "shift12": transform_frames(nominal, InvarianceOptions(1.0, 12, 0.0), torch.Generator().manual_seed(0)),
            "inverted": 255 - nominal,
            **{name: frames(name) for name in ("pitch-5deg", "pitch+5deg", "scene:concrete")},
        }
        policy = build_model(cfg, make_env(cfg, track, reward), None, load_from=ckpt).policy
        policy.set_training_mode(False)
        row: dict = {"frames": len(heading)}
        with torch.no_grad():
            base = action_distribution(policy, nominal)
            for name, x in conditions.items():
                other = action_distribution(policy, x)
                row[f"kl_{name}"] = round(float(policy_kl(base, other).mean()), 4)
                if hasattr(base, "probs"):
                    row[f"same_action_{name}"] = round(float((base.probs.argmax(1) == other.probs.argmax(1)).float().mean()), 3)
        out[str(path)] = row
    return out


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("MPLBACKEND", "Agg")
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="what", required=True)
    d = sub.add_parser("demo")
    d.add_argument("--before", action="store_true")
    d.add_argument("--run-dir")
    d.add_argument("--time-cap-s", type=float, default=600.0)
    d.add_argument("--trials", type=int, default=6)
    t = sub.add_parser("table2")
    t.add_argument("--rows")
    t.add_argument("--steps", type=int, default=4096)
    t.add_argument("--trials", type=int, default=6)
    t.add_argument("--cells", nargs="+")
    t.add_argument("--device", default="cpu", help="cpu, or cuda-sb3 (the same SB3 PPO, updates on the GPU)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--workers", type=int, default=2, help="evaluation processes")
    t.add_argument("--robust", action="store_true",
                   help="also score the robust evaluations of ROBUST_VARIANTS (Fig. 6 over the rows)")
    t.add_argument("--runs", default=str(REPO / "runs"), help="folder of the rows' run folders")
    tc = sub.add_parser("table2-correlate", help="merge per-row table2 results: the table and Fig. 6")
    tc.add_argument("--runs", default=str(REPO / "runs"))
    c = sub.add_parser("correlate")
    c.add_argument("run")
    c.add_argument("--trials", type=int, default=6)
    inv = sub.add_parser("invariance", help="how alike each model acts on transformed and held-out frames")
    inv.add_argument("models", nargs="+", help="run folders (their best.zip) or checkpoints")
    args = p.parse_args(argv)
    result = {"demo": bench_demo, "table2": bench_table2, "correlate": bench_correlate,
              "table2-correlate": bench_table2_correlate, "invariance": bench_invariance}[args.what](args)
    print(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
