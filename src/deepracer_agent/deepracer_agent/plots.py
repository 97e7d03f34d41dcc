"""Plots of a run: progress against wall time (the paper's Fig. 5) and success per checkpoint,
naive against robust evaluation (the paper's Fig. 6). Matplotlib with the Agg backend (no display);
files are written atomically (deepracer_common.fileio).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from deepracer_common.fileio import atomic_path


def _figure():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100)


def _floats(rows: Sequence[Mapping[str, Any]], key: str) -> list[float]:
    out = []
    for row in rows:
        value = row.get(key)
        try:
            out.append(float(value) if value not in (None, "") else float("nan"))
        except (TypeError, ValueError):
            out.append(float("nan"))
    return out


def plot_training(rows: Sequence[Mapping[str, Any]], path: str | Path, title: str = "training") -> Path:
    """Mean episode progress (%) and lap-completion rate of the training episodes, and the robust
    evaluation's completion rate where one ran, against wall-clock minutes (one point per iteration)."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(7, 4))
    minutes = [t / 60.0 for t in _floats(rows, "wall_time_s")]
    ax.plot(minutes, _floats(rows, "mean_progress"), "-o", ms=3, label="training episodes: mean progress (%)")
    ax.plot(minutes, [100 * v for v in _floats(rows, "lap_completion_rate")], "-s", ms=3,
            label="training episodes: laps completed (%)")
    evals = [(m, 100 * v) for m, v in zip(minutes, _floats(rows, "eval_completion_rate")) if v == v]
    if evals:
        ax.plot(*zip(*evals), "D", ms=6, label="robust evaluation: trials lapped (%)")
    ax.set_xlabel("wall-clock time (min)")
    ax.set_ylabel("%")
    ax.set_ylim(-2, 102)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    _save(fig, Path(path))
    plt.close(fig)
    return Path(path)


def plot_evaluation(summary: Sequence[Mapping[str, Any]], path: str | Path, title: str = "evaluation") -> Path:
    """Success (% of trials that lapped) per checkpoint, naive against robust; ``summary`` rows have
    ``iteration`` (or ``checkpoint``), ``mode`` ("naive"/"robust") and ``success_rate`` (0-1)."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(7, 4))
    for mode, marker in (("naive", "o"), ("robust", "s")):
        pts = [(r.get("iteration"), 100.0 * float(r["success_rate"])) for r in summary if r.get("mode") == mode]
        pts = sorted((int(i), v) for i, v in pts if i not in (None, ""))
        if pts:
            ax.plot(*zip(*pts), f"-{marker}", ms=4, label=mode)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("checkpoint (training iteration)")
    ax.set_ylabel("trials completing a lap (%)")
    ax.set_ylim(-2, 102)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title(title)
    fig.tight_layout()
    _save(fig, Path(path))
    plt.close(fig)
    return Path(path)
