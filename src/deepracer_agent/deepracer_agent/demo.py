"""``deepracer demo`` (what ``make demo`` runs): train, evaluate, select, export, on this CPU.

    deepracer demo [--run-dir DIR] [--time-cap-s 600] [--workers 2] [--config demo] [key.sub=value ...]

1. Train on the default track (``reinvent2018_like``) with the default action space (the paper's 10
   actions) and reward (AWS's centre-line example), config ``deepracer_agent/configs/demo.yaml``,
   until the quick robust evaluation run after each iteration passes (at least 9 of 10 trials
   complete a lap: noisy actions, starts spread over the lap, both directions) or the time cap.
2. Evaluate the kept checkpoints (naive + robust, ``--workers`` processes) and print the table.
3. Select a checkpoint with the rule of :mod:`deepracer_agent.selection` and export it with
   :mod:`deepracer_agent.export` to ``run_dir/artifact`` (+ ``artifact.tar.gz``): the model the
   car's inference node loads; beside it ``pb-only-model.tar.gz`` (the TF frozen graph a stock AWS
   DeepRacer car uploads), ``openvino-model.tar.gz`` and ``artifact_aws_model/`` (console/DRfC layout).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .config import ConfigError, load_config, shipped_config

COMMAND_HELP = "train on the default track until robust evaluation passes, then evaluate and export"  # `deepracer --help`


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="deepracer demo", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run-dir", help="run folder (default: runs/demo-<timestamp>)")
    p.add_argument("--time-cap-s", type=float, default=600.0, help="training wall-clock cap in seconds (default 600)")
    p.add_argument("--workers", type=int, default=2, help="evaluation processes (default 2)")
    p.add_argument("--trials", type=int, default=10, help="robust evaluation trials (default 10)")
    p.add_argument("--config", default="demo", help="shipped config name or YAML path (default: demo)")
    p.add_argument("--no-export", action="store_true", help="skip exporting the selected checkpoint")
    p.add_argument("overrides", nargs="*", metavar="key.sub=value")
    return p


def main(argv: list[str] | None = None) -> int:
    from .commands.train import resolve_config_arg
    from .train import TrainError, train

    args = build_parser().parse_args(argv)
    run_dir = Path(args.run_dir or Path("runs") / time.strftime("demo-%Y%m%d-%H%M%S"))
    try:
        cfg_path = resolve_config_arg(args.config) or shipped_config("demo")
        cfg = load_config(cfg_path, [f"stop.max_wall_time_s={args.time_cap_s}",
                                     f"evaluation.trials={args.trials}", *args.overrides])
    except ConfigError as exc:
        print(f"deepracer demo: {exc}", file=sys.stderr)
        return 2
    target = cfg.stop.target_eval_completion
    stops = (f"when robust evaluation laps in >= {target:.0%} of {cfg.evaluation.trials} trials or "
             if target is not None else "")        # a config without the target: its other stop conditions
    if cfg.stop.max_steps is not None:
        stops += f"after {cfg.stop.max_steps} steps or "
    print(f"deepracer demo: training on '{cfg.track}' with reward '{Path(cfg.reward_file).stem}', "
          f"{cfg.metadata().n_actions} actions, {cfg.n_envs} cars, on the CPU.\n"
          f"  Stops {stops}after {args.time_cap_s:g} s. Run folder: {run_dir}\n"
          f"  One line per training iteration; the bar counts environment steps.", flush=True)
    t0 = time.perf_counter()
    try:
        result = train(cfg, run_dir)
    except (ConfigError, TrainError) as exc:
        print(f"deepracer demo: {exc}", file=sys.stderr)
        return 2
    passed = result.eval_completion_rate is not None and target is not None and result.eval_completion_rate >= target
    print(f"\ntraining: {result.iterations} iterations, {result.steps} steps, {result.wall_time_s:.0f} s "
          f"-> {'PASSED' if passed else 'did not pass'} the robust evaluation during training "
          f"({result.stop_reason})\n\nevaluating the kept checkpoints (naive + {args.trials} robust trials each)...",
          flush=True)

    from .evaluate import EVAL_CSV, EVAL_MD, EVAL_PNG, evaluate

    ev = evaluate([run_dir], trials=args.trials, workers=args.workers, seed=cfg.seed)
    print()
    print((run_dir / EVAL_MD).read_text(encoding="utf-8"))
    sel = ev["selection"]
    from .run_folder import PROGRESS_PLOT

    print(f"plots:   {run_dir / PROGRESS_PLOT} (progress vs wall time), {run_dir / EVAL_PNG} (naive vs robust)")
    print(f"tables:  {run_dir / EVAL_MD}, {run_dir / EVAL_CSV}, {run_dir / 'metrics.csv'}")
    if sel is None:
        print("no checkpoint could be evaluated", file=sys.stderr)
        return 1
    print(f"selected checkpoint: {sel.path} -> {run_dir / 'best.zip'}\n  ({sel.reason})")
    if not args.no_export:
        from .export import ExportError, export_checkpoint

        try:
            art = export_checkpoint(run_dir / "best.zip", out=run_dir / "artifact", force=True, seed=cfg.seed)
            print(f"model artifact for the car: {art.folder} (and {art.archive})")
            if art.aws:
                print(f"for a stock AWS DeepRacer car: upload {art.aws['pb_only']} in the car's web console "
                      "(Models > Upload); README: 'Put a model trained here on a stock AWS DeepRacer car'")
        except ExportError as exc:
            print(f"export failed: {exc}", file=sys.stderr)
            return 1
    print(f"\ndone in {time.perf_counter() - t0:.0f} s; robust success of the selected checkpoint: "
          f"{sel.success_rate:.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
