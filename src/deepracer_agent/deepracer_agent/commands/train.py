"""``deepracer train``: PPO (stable-baselines3) on N cars of the embedded simulator, one run folder.

    deepracer train [--config FILE] [--run-dir DIR] [--resume] [key.sub=value ...]

The command line of :func:`deepracer_agent.train.train` (and of ``--decoupled``:
:func:`deepracer_agent.distributed.local.run_local`); the run folder is described there.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from deepracer_common.interrupts import interrupt_on_signals

from ..config import ConfigError, load_config
from ..run_folder import RESOLVED_CONFIG, TrainError
from ..train import train


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="deepracer train",
        description="Train a DeepRacer policy with PPO on the embedded simulator.",
        epilog="Overrides: dotted keys, YAML values, e.g. hyperparameters.lr=0.001 n_envs=8 "
               "stop.max_wall_time_s=600 track=oval reward_file=my_reward.py. "
               "Keys and defaults: see the 'Training and evaluation' section of the deepracer_agent README.")
    p.add_argument("--config", help="YAML config (default: the built-in defaults); 'demo' or 'default' "
                                    "name a config shipped with the package")
    p.add_argument("--run-dir", help="run folder (default: runs/<timestamp>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --run-dir from its last complete checkpoint")
    p.add_argument("--no-progress-bar", action="store_true", help="no tqdm bar (a line per iteration only)")
    p.add_argument("--decoupled", action="store_true",
                   help="the paper's decoupled training on this machine: a private redis-server on 127.0.0.1, "
                        "a trainer and --workers rollout workers as processes (deepracer_agent.distributed)")
    p.add_argument("--workers", type=int, default=2, help="rollout workers with --decoupled (default 2)")
    p.add_argument("--evaluator", action="store_true", help="with --decoupled: also score each new version")
    p.add_argument("--hyperparameters", metavar="JSON",
                   help="a DRfC/console hyperparameters.json, unchanged (deepracer_agent.drfc says what is used)")
    p.add_argument("--model-metadata", metavar="JSON",
                   help="a DRfC/console model_metadata.json, unchanged (deepracer_agent.drfc)")
    p.add_argument("overrides", nargs="*", metavar="key.sub=value")
    return p


def resolve_config_arg(value: str | None) -> Path | None:
    """``--config`` value: a file path, or the name of a shipped config (``demo``, ``default``)."""
    from ..config import shipped_config

    if value is None:
        return None
    path = Path(value).expanduser()
    if path.is_file() or value.endswith((".yaml", ".yml")) or "/" in value:
        return path
    return shipped_config(value)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    interrupt_on_signals()   # Ctrl-C, kill -INT (also from a background shell) and SIGTERM: checkpoint, then stop
    try:
        run_dir = Path(args.run_dir or Path("runs") / time.strftime("%Y%m%d-%H%M%S"))
        config_path = resolve_config_arg(args.config)
        if args.hyperparameters or args.model_metadata:
            from ..drfc import load_files

            args.overrides = load_files(args.hyperparameters, args.model_metadata) + list(args.overrides)
        if args.resume:
            if not args.run_dir:
                raise ConfigError("--resume needs --run-dir (the run to continue)")
            saved = run_dir / RESOLVED_CONFIG
            if not saved.is_file():
                raise ConfigError(f"--resume: {saved} not found (is {run_dir} a run folder?)")
            cfg = load_config(config_path or saved, args.overrides)
        else:
            cfg = load_config(config_path, args.overrides)
        if args.decoupled:
            if args.workers < 1:
                raise ConfigError(f"--workers: needs at least 1 rollout worker, got {args.workers}")
            from ..distributed.local import run_local

            print(f"deepracer train --decoupled: trainer + {args.workers} worker(s), run folder {run_dir}")
            return run_local(cfg, workers=args.workers, evaluator=args.evaluator, run_dir=run_dir)
        if args.workers != 2 or args.evaluator:
            raise ConfigError("--workers and --evaluator only apply with --decoupled")
        result = train(cfg, run_dir, resume=args.resume, progress_bar=not args.no_progress_bar)
    except (ConfigError, TrainError) as exc:
        print(f"deepracer train: {exc}", file=sys.stderr)
        return 2
    except MemoryError as exc:
        print(f"deepracer train: out of memory ({exc or 'MemoryError'}); use fewer cars (n_envs) or steps "
              f"(ppo.n_steps / ppo.max_n_steps)", file=sys.stderr)
        return 2
    print(f"run folder: {result.run_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
