"""``deepracer runs``: the runs in a folder, one run in detail, several runs' progress in one plot.

    deepracer runs list [FOLDER]              (default: runs/) one line per run folder under FOLDER
    deepracer runs show RUN                   one run: config, action space, progress, evaluation
    deepracer runs compare RUN... [--out PNG] progress curves of the runs in one plot

What SageMaker's experiment search gave the paper's users, from the files a run folder holds:

- track, reward: ``config.resolved.yaml`` (``track``, the reward file's name);
- action space: ``model_metadata.json`` (``discrete N`` with its steering and speed ranges, or
  ``continuous`` with the ranges);
- steps, iterations, state: the last ``metrics.jsonl`` row and ``status.json``;
- best robust score: the best checkpoint's robust lap rate in ``evaluation.csv`` (``deepracer
  evaluate``), else the best quick robust evaluation during training (``eval_completion_rate``);
- lap time: that checkpoint's mean robust lap time, else the fastest lapped training episode of
  ``metrics/TrainingMetrics.json`` (marked ``(training)``).

A folder counts as a run when it holds ``config.resolved.yaml`` or ``metrics.jsonl``; a run whose
files are missing or torn shows ``-`` for what cannot be read (never a traceback).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from collections.abc import Sequence

RUN_MARKERS = ("config.resolved.yaml", "metrics.jsonl")


class RunsError(ValueError):
    """A path given to ``deepracer runs`` is not a run folder; the message names it."""


@dataclass
class RunSummary:
    """What ``deepracer runs`` shows of one run (None: not known)."""

    path: Path
    track: str | None = None
    reward: str | None = None
    action_space: str | None = None
    steps: int | None = None
    iterations: int | None = None
    state: str | None = None
    best_robust: float | None = None        # fraction of robust trials that lapped (0-1)
    best_checkpoint: str | None = None
    lap_time_s: float | None = None
    lap_time_source: str | None = None      # "robust evaluation" | "training"

    @property
    def name(self) -> str:
        return self.path.name


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def describe_action_space(meta: Any) -> str | None:
    """``discrete 10 (steer -30..30 deg, 0.5..1 m/s)`` / ``continuous (steer -30..30 deg, 1..4 m/s)``."""
    if not isinstance(meta, dict):
        return None
    space = meta.get("action_space")
    try:
        if isinstance(space, list) and space:
            st = [float(a["steering_angle"]) for a in space]
            sp = [float(a["speed"]) for a in space]
            return f"discrete {len(space)} (steer {min(st):g}..{max(st):g} deg, {min(sp):g}..{max(sp):g} m/s)"
        if isinstance(space, dict):
            st, sp = space["steering_angle"], space["speed"]
            return (f"continuous (steer {float(st['low']):g}..{float(st['high']):g} deg, "
                    f"{float(sp['low']):g}..{float(sp['high']):g} m/s)")
    except (KeyError, TypeError, ValueError):
        return None
    return None


def is_run(path: Path) -> bool:
    return path.is_dir() and any((path / m).is_file() for m in RUN_MARKERS)


def summarize_run(run: str | Path) -> RunSummary:
    """A :class:`RunSummary` of one run folder (see the module docstring for where each value comes from)."""
    import yaml

    from .aws_logs import training_metrics_path
    from .evaluate import EVAL_CSV
    from .simtrace import read_metrics_json
    from .run_folder import METADATA_FILE, RESOLVED_CONFIG, STATUS_FILE, read_metrics

    run = Path(run)
    if not is_run(run):
        raise RunsError(f"{run}: not a run folder (no {' or '.join(RUN_MARKERS)})")
    s = RunSummary(run)
    try:
        cfg = yaml.safe_load((run / RESOLVED_CONFIG).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        cfg = None
    if isinstance(cfg, dict):
        s.track = str(cfg.get("track")) if cfg.get("track") is not None else None
        if cfg.get("reward_file") is not None:
            s.reward = Path(str(cfg["reward_file"])).stem
    s.action_space = describe_action_space(_json(run / METADATA_FILE))
    rows = read_metrics(run)
    if rows:
        s.steps = int(rows[-1].get("steps", 0))
        s.iterations = int(rows[-1].get("iteration", len(rows)))
    status = _json(run / STATUS_FILE)
    if isinstance(status, dict):
        s.state = status.get("state")
        if s.steps is None and status.get("steps") is not None:
            s.steps = int(status["steps"])
    _robust_score(s, run / EVAL_CSV, rows)
    if s.lap_time_s is None:
        laps = [m["elapsed_time_in_milliseconds"] for m in read_metrics_json(training_metrics_path(run))
                if isinstance(m, dict) and m.get("episode_status") == "Lap complete"]
        if laps:
            s.lap_time_s, s.lap_time_source = min(laps) / 1000.0, "training"
    return s


def _robust_score(s: RunSummary, eval_csv: Path, rows: list[dict[str, Any]]) -> None:
    """Best robust lap rate and its lap time: evaluation.csv, else the training's quick evaluations."""
    from .evaluate import read_trials, summary_rows

    try:
        summary = [r for r in summary_rows(read_trials(eval_csv)) if r["mode"] == "robust"]
    except (KeyError, TypeError, ValueError):
        summary = []
    if summary:
        best = max(summary, key=lambda r: (r["success_rate"], -(r["mean_lap_time_s"] or math.inf)))
        s.best_robust, s.best_checkpoint = best["success_rate"], Path(best["checkpoint"]).name
        if best["mean_lap_time_s"] is not None:
            s.lap_time_s, s.lap_time_source = float(best["mean_lap_time_s"]), "robust evaluation"
    else:
        rates = [(r["eval_completion_rate"], r) for r in rows if r.get("eval_completion_rate") is not None]
        if rates:
            rate, row = max(rates, key=lambda t: t[0])
            s.best_robust, s.best_checkpoint = float(rate), f"iter_{int(row['iteration']):06d}.zip"
            if row.get("eval_mean_lap_time_s") is not None:
                s.lap_time_s, s.lap_time_source = float(row["eval_mean_lap_time_s"]), "robust evaluation"


def find_runs(folder: str | Path) -> list[Path]:
    """Run folders at or below ``folder`` (sorted by name; a run's own subfolders are not searched)."""
    folder = Path(folder)
    if is_run(folder):
        return [folder]
    if not folder.is_dir():
        raise RunsError(f"{folder}: no such folder")
    out: list[Path] = []
    stack = sorted((p for p in folder.iterdir() if p.is_dir()), reverse=True)
    while stack:
        p = stack.pop()
        if is_run(p):
            out.append(p)
        elif len(p.relative_to(folder).parts) < 3:
            stack.extend(sorted((c for c in p.iterdir() if c.is_dir()), reverse=True))
    return sorted(out)


def _fmt(value: Any, kind: str = "") -> str:
    if value is None:
        return "-"
    if kind == "pct":
        return f"{100 * value:.0f}%"
    if kind == "s":
        return f"{value:.2f} s"
    return str(value)


def table(summaries: Sequence[RunSummary]) -> str:
    """The ``runs list`` table (Markdown, readable in a terminal)."""
    head = ["run", "track", "reward", "action space", "steps", "best robust", "lap time"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in summaries:
        lap = _fmt(s.lap_time_s, "s") + (" (training)" if s.lap_time_source == "training" else "")
        lines.append("| " + " | ".join([s.name, _fmt(s.track), _fmt(s.reward), _fmt(s.action_space), _fmt(s.steps),
                                        _fmt(s.best_robust, "pct"), lap]) + " |")
    return "\n".join(lines)


def show(s: RunSummary) -> str:
    from .run_folder import read_metrics

    lines = [f"run:           {s.path}", f"state:         {_fmt(s.state)}", f"track:         {_fmt(s.track)}",
             f"reward:        {_fmt(s.reward)}", f"action space:  {_fmt(s.action_space)}",
             f"iterations:    {_fmt(s.iterations)}", f"steps:         {_fmt(s.steps)}",
             f"best robust:   {_fmt(s.best_robust, 'pct')}" + (f" ({s.best_checkpoint})" if s.best_checkpoint else ""),
             f"lap time:      {_fmt(s.lap_time_s, 's')}" + (f" ({s.lap_time_source})" if s.lap_time_source else "")]
    rows = read_metrics(s.path)
    if rows:
        lines += ["", "last iterations: iteration  steps  mean progress  laps"]
        for r in rows[-5:]:
            lines.append(f"  {r.get('iteration'):>9}  {r.get('steps'):>6}  {_fmt_num(r.get('mean_progress')):>12}%  "
                         f"{_fmt_num(100 * r['lap_completion_rate'] if r.get('lap_completion_rate') is not None else None):>4}%")
    return "\n".join(lines)


def _fmt_num(value: Any) -> str:
    return "-" if value is None else f"{float(value):.1f}"


def compare_plot(runs: Sequence[Path], out: str | Path) -> Path:
    """Mean training-episode progress (%) against environment steps, one curve per run; robust
    evaluation lap rate (when recorded) dashed on a second axis. One PNG, written atomically."""
    from .plots import _figure, _floats, _save
    from .run_folder import read_metrics

    plt = _figure()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax2 = None
    for run in runs:
        rows = read_metrics(run)
        if not rows:
            continue
        steps = _floats(rows, "steps")
        line, = ax.plot(steps, _floats(rows, "mean_progress"), marker=".", label=run.name)
        evals = [(x, v) for x, v in zip(steps, _floats(rows, "eval_completion_rate"), strict=True)
                 if not math.isnan(v)]
        if evals:
            ax2 = ax2 or ax.twinx()
            ax2.plot([e[0] for e in evals], [100 * e[1] for e in evals], ls="--", color=line.get_color())
    ax.set_xlabel("environment steps")
    ax.set_ylabel("mean episode progress (%)")
    ax.set_ylim(0, 100)
    if ax2 is not None:
        ax2.set_ylabel("robust evaluation laps (%, dashed)")
        ax2.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title("deepracer runs compare: training progress")
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    _save(fig, out)
    plt.close(fig)
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="deepracer runs", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    ls = sub.add_parser("list", help="one line per run under FOLDER")
    ls.add_argument("folder", nargs="?", default="runs")
    sh = sub.add_parser("show", help="one run in detail")
    sh.add_argument("run")
    cp = sub.add_parser("compare", help="progress curves of several runs in one PNG")
    cp.add_argument("runs", nargs="+")
    cp.add_argument("--out", default="runs_compare.png", help="PNG to write (default runs_compare.png)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.cmd == "list":
            runs = find_runs(args.folder)
            if not runs:
                print(f"deepracer runs: no run folders under {args.folder}", file=sys.stderr)
                return 1
            print(table([summarize_run(r) for r in runs]))
        elif args.cmd == "show":
            print(show(summarize_run(args.run)))
        else:
            runs = [Path(r) for r in args.runs]
            summaries = [summarize_run(r) for r in runs]
            print(table(summaries))
            print(f"progress curves: {compare_plot(runs, args.out)}")
    except RunsError as exc:
        print(f"deepracer runs: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
