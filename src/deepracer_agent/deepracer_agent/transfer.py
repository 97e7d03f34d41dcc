"""``deepracer transfer``: the reality-gap suite (the paper's Table II), and Fig. 6 as evidence.

    deepracer transfer RUN_DIR_OR_CHECKPOINT_OR_ARTIFACT... [--trials 6] [--grid suite|quick|FILE.yaml]
                       [--cells NAME ...] [--all-checkpoints] [--action-noise 0.1] [--workers 2]
                       [--seed 0] [--out DIR] [--correlate [--robust-randomize [all] [one]]]

Every checkpoint (or exported artifact) drives ``--trials`` trials in each CELL of a grid of
held-out conditions. The trials are those of the robust evaluation (starts spread over the lap, odd
trials reversed, ``--action-noise`` random actions); a trial succeeds when it laps. A cell is one
condition, all other things nominal: the car resting on its wheels (``camera_mount.attitude:
resting``, lens 13.6 deg down), no randomization (the run's training randomization is switched off),
the run's evaluation track unless the cell names another. The default grid (``suite``, 25 cells):

- ``nominal``; held-out tracks ``track:oval``, ``track:tape_corridor``; held-out imagery
  ``scene:white_lines`` (white centre line, light-gray borders), ``scene:blue_floor`` (blue carpet,
  gray walls), ``scene:concrete`` (light road, dark lines, pale background);
- camera pose: pitch -5/+5 deg, height -2/+2 cm, FOV -10/+10 %, the fisheye lens;
- imaging: brightness -40/+40 %, contrast -40/+40 %, pixel noise sigma 8, 3-row motion blur;
- actuation: 1 and 2 frames of latency, speed -20/+20 %, steering bias -3/+3 deg.

Held out of every shipped training config (``HELD_OUT_TRACKS``, ``HELD_OUT_SCENES``;
:func:`check_held_out` and a test enforce it for ``deepracer_agent/configs``): the tracks ``oval``
and ``tape_corridor`` and the three scene palettes. Colour randomization in training draws colours
around the default style; the held-out palettes are fixed points it is never set to.

Outputs (run folder or ``--out``): ``transfer.csv`` (one row per trial, the evaluation's columns with
``mode`` = the cell), ``transfer.md`` (success out of N per cell, one row per checkpoint) and
``transfer.png`` (heatmap). ``--correlate`` (the paper's Fig. 6): the run's robust-evaluation
success per checkpoint (``evaluation.csv``, evaluated now where missing) against its transfer-suite
success, Spearman's rank correlation in ``transfer_correlation.md`` / ``.png``. ``--robust-randomize``
(= ``all``) also scores a robust evaluation with every randomization of the simulator on (kept in
``robust_randomized/``), ``--robust-randomize one`` one with one condition family per trial at the
suite's strength (``deepracer evaluate --randomize one``, kept in ``robust_one/``), ``all one`` both;
each gets its column and its Spearman line beside the plain one.

The work runs through :mod:`deepracer_agent.evaluate` (its work units, processes and per-trial seeds):
a result depends only on the checkpoint, the cell, the trial and ``--seed``.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from deepracer_common.fileio import atomic_write_text

from .evaluate import (EVAL_CSV, RANDOMIZE_MODES, TRIAL_FIELDS, EvaluateError, WorkUnit, _iteration_of, collect_trials,
                       deep_merge, is_artifact, randomize_mode, read_trials, robust_trials, run_config_for, summary_rows)

TRANSFER_CSV = "transfer.csv"
TRANSFER_MD = "transfer.md"
TRANSFER_PNG = "transfer.png"
CORRELATION_MD = "transfer_correlation.md"
CORRELATION_PNG = "transfer_correlation.png"
DEFAULT_TRIALS = 6
#: ``--correlate``: where each robust variant's evaluation is kept (under the run folder; "" = the
#: run's own evaluation.csv) and its label in transfer_correlation.md.
ROBUST_VARIANTS: dict[str | None, tuple[str, str]] = {
    None: ("", "plain"),
    "all": ("robust_randomized", "randomized"),
    "one": ("robust_one", "one family per trial"),
}

#: Tracks no shipped training config may train on (the suite's held-out tracks).
HELD_OUT_TRACKS = ("oval", "tape_corridor")
#: Scene palettes (SimConfig ``scene``) no shipped training config may use.
HELD_OUT_SCENES: dict[str, dict[str, str]] = {
    "white_lines": {"centre": "#f5f5f5", "border": "#c8c8c8"},
    "blue_floor": {"floor": "#2a4a9a", "wall_a": "#8a8a8a", "wall_b": "#5a5a5a"},
    "concrete": {"road": "#a0a0a0", "border": "#303030", "centre": "#202020", "floor": "#707050",
                 "background_a": "#e8e8e8"},
}
#: Nominal conditions of every cell: the car standing on its wheels.
NOMINAL_SIM: dict[str, Any] = {"camera_mount": {"attitude": "resting"}}


class TransferError(EvaluateError):
    """The suite cannot run; the message names the path, cell or option at fault."""


@dataclass(frozen=True)
class Cell:
    """One condition of the grid: ``sim`` is merged over the nominal SimConfig; ``track`` (None: the
    run's evaluation track)."""

    name: str
    group: str
    sim: dict = field(default_factory=dict)
    track: str | None = None


def suite_cells() -> list[Cell]:
    """The default grid (see the module docstring)."""
    cells = [Cell("nominal", "nominal")]
    cells += [Cell(f"track:{t}", "track", track=t) for t in HELD_OUT_TRACKS]
    cells += [Cell(f"scene:{name}", "scene", {"scene": dict(colours)}) for name, colours in HELD_OUT_SCENES.items()]
    for d in (-5, 5):
        cells.append(Cell(f"pitch{d:+d}deg", "camera", {"camera_mount": {"pitch_offset_deg": float(d)}}))
    for d in (-2, 2):
        cells.append(Cell(f"height{d:+d}cm", "camera", {"camera_mount": {"height_offset_m": d / 100.0}}))
    for d in (-10, 10):
        cells.append(Cell(f"fov{d:+d}%", "camera", {"camera_mount": {"fov_scale": 1.0 + d / 100.0}}))
    cells.append(Cell("fisheye", "camera", {"camera_model": "fisheye"}))
    for d in (-40, 40):
        cells.append(Cell(f"brightness{d:+d}%", "imaging", {"imaging": {"brightness": 1.0 + d / 100.0}}))
    for d in (-40, 40):
        cells.append(Cell(f"contrast{d:+d}%", "imaging", {"imaging": {"contrast": 1.0 + d / 100.0}}))
    cells.append(Cell("noise8", "imaging", {"imaging": {"noise_sigma": 8.0}}))
    cells.append(Cell("blur3", "imaging", {"imaging": {"motion_blur_px": 3.0}}))
    for k in (1, 2):
        cells.append(Cell(f"latency{k}", "actuation", {"actuation": {"latency_frames": k}}))
    for d in (-20, 20):
        cells.append(Cell(f"speed{d:+d}%", "actuation", {"actuation": {"speed_scale": 1.0 + d / 100.0}}))
    for d in (-3, 3):
        cells.append(Cell(f"steer{d:+d}deg", "actuation", {"actuation": {"steering_bias_deg": float(d)}}))
    return cells


def quick_cells() -> list[Cell]:
    """A 3-cell grid for smoke tests: nominal, pitch +5 deg, 2 frames of latency."""
    by_name = {c.name: c for c in suite_cells()}
    return [by_name["nominal"], by_name["pitch+5deg"], by_name["latency2"]]


def load_grid(spec: str) -> list[Cell]:
    """``suite``, ``quick`` or a YAML file: a list of ``{name, group?, sim?, track?}`` mappings."""
    if spec == "suite":
        return suite_cells()
    if spec == "quick":
        return quick_cells()
    import yaml

    path = Path(spec).expanduser()
    if not path.is_file():
        raise TransferError(f"--grid {spec}: not 'suite', 'quick' or a YAML file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise TransferError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, list) or not data:
        raise TransferError(f"{path}: expected a non-empty list of cells ({{name, sim, track}} mappings)")
    cells = []
    for i, item in enumerate(data):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise TransferError(f"{path}: cell {i}: expected a mapping with a 'name' string")
        unknown = set(item) - {"name", "group", "sim", "track"}
        if unknown:
            raise TransferError(f"{path}: cell {item['name']!r}: unknown keys {sorted(unknown)} (known: name, group, sim, track)")
        cells.append(Cell(item["name"], str(item.get("group", "custom")), dict(item.get("sim") or {}), item.get("track")))
    return cells


def cell_sim_overrides(cell: Cell, run_sim: dict) -> dict:
    """What the cell sets over the run's ``sim`` section: every training randomization off, the
    nominal mount/imaging/actuation/scene, then the cell's condition."""
    from deepracer_sim.config import SimConfig, SimConfigError

    off = {name: {"enabled": False} for name in SimConfig().randomization.to_dict()}
    neutral = {k: v for k, v in SimConfig().to_dict().items() if k in ("camera_mount", "imaging", "actuation", "scene")}
    over = deep_merge(deep_merge({"randomization": off, **neutral}, NOMINAL_SIM), cell.sim)
    try:
        SimConfig.from_dict(deep_merge(run_sim, over))
    except SimConfigError as exc:
        raise TransferError(f"cell {cell.name!r}: sim.{exc}") from None
    return over


def check_held_out(cfg: Any, source: str = "config") -> None:
    """Raise TransferError if a training config trains on a held-out track or scene palette."""
    tracks = [cfg.track] if not cfg.train_tracks else list(cfg.train_tracks)
    for t in tracks:
        if Path(str(t)).stem in HELD_OUT_TRACKS:
            raise TransferError(f"{source}: trains on {t!r}, a track the transfer suite holds out "
                                f"({', '.join(HELD_OUT_TRACKS)})")
    scene = {k: v for k, v in (cfg.sim.get("scene") or {}).items() if v is not None}
    for name, colours in HELD_OUT_SCENES.items():
        if scene and all(scene.get(k) == v for k, v in colours.items()):
            raise TransferError(f"{source}: sim.scene is the held-out palette {name!r}")


# ---------------------------------------------------------------------------------- targets
def resolve_targets(targets: Sequence[str | Path], all_checkpoints: bool = False) -> tuple[Path, list[Path]]:
    """(output folder, models): a run folder gives its selected checkpoint (``best.zip`` /
    ``selected_checkpoint.json``), or every complete checkpoint with ``all_checkpoints`` (or when
    nothing is selected yet); checkpoint zips and artifact folders / .tar.gz are taken as given."""
    from .evaluate import find_checkpoints
    from .selection import SELECTED_JSON

    out_dir: Path | None = None
    models: list[Path] = []
    for target in targets:
        path = Path(target).expanduser()
        if is_artifact(path):
            models.append(path)
            out_dir = out_dir or (path.parent if path.is_dir() else path.parent)
            continue
        if path.is_dir() and not all_checkpoints and (path / SELECTED_JSON).is_file():
            try:
                sel = json.loads((path / SELECTED_JSON).read_text(encoding="utf-8"))
                chosen = Path(sel["path"])
            except (OSError, ValueError, KeyError) as exc:
                raise TransferError(f"{path / SELECTED_JSON}: unreadable ({exc})") from None
            if not chosen.is_file():
                chosen = path / "best.zip"
            if not chosen.is_file():
                raise TransferError(f"{path}: the selected checkpoint {sel['path']} is gone (use --all-checkpoints)")
            models.append(chosen)
            out_dir = out_dir or path
            continue
        found_dir, ckpts = find_checkpoints([path])
        models += ckpts
        out_dir = out_dir or found_dir
    if out_dir is None:
        raise TransferError("nothing to evaluate: give a run folder, checkpoints or an artifact")
    return out_dir, list(dict.fromkeys(models))


def _config_for(model: Path) -> dict[str, Any]:
    if is_artifact(model):
        run = model.parent
        from .run_folder import RESOLVED_CONFIG

        if (run / RESOLVED_CONFIG).is_file():
            return run_config_for(run)
        from .config import TrainConfig

        data = TrainConfig().to_dict()
        if model.is_dir():
            data["model_metadata"] = str(model / "model_metadata.json")
        return TrainConfig.from_dict(data).to_dict()
    return run_config_for(model.parent.parent if model.parent.name == "checkpoints" else model.parent, model)


# ---------------------------------------------------------------------------------- running
def transfer(targets: Sequence[str | Path], cells: Sequence[Cell] | None = None, trials: int = DEFAULT_TRIALS,
             action_noise: float = 0.1, all_checkpoints: bool = False, workers: int = 2, seed: int = 0,
             out_dir: str | Path | None = None, max_steps: int | None = None,
             log: Callable[[str], None] | None = print) -> dict[str, Any]:
    """Run the suite; writes transfer.csv/.md/.png. Returns {"out_dir", "rows", "table", "errors"}."""
    cells = list(cells if cells is not None else suite_cells())
    if len({c.name for c in cells}) != len(cells):
        raise TransferError("grid: cell names must be unique")
    found_dir, models = resolve_targets(targets, all_checkpoints)
    out = Path(out_dir).expanduser() if out_dir is not None else found_dir
    out.mkdir(parents=True, exist_ok=True)
    specs = tuple(robust_trials(trials, action_noise, True))
    units: list[WorkUnit] = []
    for model in models:
        cfg = _config_for(model)
        for cell in cells:
            units.append(WorkUnit(str(model), _iteration_of(model), cell.name, str(cell.track or cfg["track"]), specs,
                                  cfg, False, seed, max_steps, sim_overrides=cell_sim_overrides(cell, cfg["sim"])))
    if cells:
        from deepracer_tracks.library import load_track

        for t in {u.track for u in units}:
            try:
                load_track(t)
            except (OSError, ValueError) as exc:
                raise TransferError(f"track {t!r}: {exc}") from None
    rows, errors = collect_trials(units, workers, log,
                                  lambda u, s: f"{u.mode:18s} {s['laps']}/{s['trials']} laps, "
                                               f"mean completion {s['mean_completion']:.0f}%")
    table = write_outputs(out, rows, cells, errors)
    return {"out_dir": out, "rows": rows, "table": table, "errors": errors}


def success_table(rows: Sequence[dict[str, Any]], cells: Sequence[Cell]) -> list[dict[str, Any]]:
    """One entry per model: {"checkpoint", "iteration", "cells": {name: (laps, trials)}, "laps", "trials"}."""
    out: dict[str, dict[str, Any]] = {}
    for r in summary_rows(rows):
        entry = out.setdefault(r["checkpoint"], {"checkpoint": r["checkpoint"], "iteration": r["iteration"],
                                                 "cells": {}, "laps": 0, "trials": 0})
        entry["cells"][r["mode"]] = (r["laps"], r["trials"])
        entry["laps"] += r["laps"]
        entry["trials"] += r["trials"]
    return list(out.values())


def write_outputs(out: Path, rows: Sequence[dict[str, Any]], cells: Sequence[Cell], errors: Sequence[str] = ()) -> list[dict]:
    """transfer.csv, transfer.md, transfer.png; returns the success table."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=TRIAL_FIELDS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for row in rows:
        w.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in TRIAL_FIELDS})
    atomic_write_text(out / TRANSFER_CSV, buf.getvalue())
    table = success_table(rows, cells)
    atomic_write_text(out / TRANSFER_MD, markdown(table, cells, errors))
    try:
        plot_heatmap(table, cells, out / TRANSFER_PNG, title=f"{out.name}: transfer suite (laps out of trials)")
    except Exception as exc:  # noqa: BLE001 - the table matters more than the plot
        print(f"deepracer transfer: warning: could not draw {TRANSFER_PNG}: {exc}", file=sys.stderr)
    return table


def markdown(table: Sequence[dict[str, Any]], cells: Sequence[Cell], errors: Sequence[str] = ()) -> str:
    """Cells as rows (grouped), models as columns: 'laps/trials' per cell, plus a total and the worst cell."""
    names = [Path(e["checkpoint"]).name for e in table]
    lines = ["| group | cell | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for c in cells:
        vals = []
        for e in table:
            laps, n = e["cells"].get(c.name, (None, None))
            vals.append("-" if laps is None else (f"{laps}/{n}" if laps * 6 >= 5 * n else f"**{laps}/{n}**"))
        lines.append(f"| {c.group} | {c.name} | " + " | ".join(vals) + " |")
    lines.append("| | **total** | " + " | ".join(f"{e['laps']}/{e['trials']}" for e in table) + " |")
    worst = []
    for e in table:
        rates = [(l / n, name) for name, (l, n) in e["cells"].items() if n]
        worst.append(f"{min(rates)[1]} ({min(rates)[0]:.0%})" if rates else "-")
    lines.append("| | worst cell | " + " | ".join(worst) + " |")
    passed = [all(l * 6 >= 5 * n for l, n in e["cells"].values()) for e in table]
    lines.append("| | >= 5/6 in every cell | " + " | ".join("yes" if p else "no" for p in passed) + " |")
    lines += ["", "Bold: below 5 of 6. Nominal = the car resting on its wheels (lens 13.6 deg down), no "
              "randomization; each cell changes one condition (see `deepracer transfer --help`)."]
    if errors:
        lines += ["", "Skipped:"] + [f"- {e}" for e in errors]
    return "\n".join(lines) + "\n"


def plot_heatmap(table: Sequence[dict[str, Any]], cells: Sequence[Cell], path: Path, title: str) -> Path:
    """Heatmap: cells (rows) x models (columns), colour = success fraction, text = laps/trials."""
    from .plots import _figure, _save

    plt = _figure()
    data = np.full((len(cells), max(1, len(table))), np.nan)
    for j, e in enumerate(table):
        for i, c in enumerate(cells):
            if c.name in e["cells"]:
                laps, n = e["cells"][c.name]
                data[i, j] = laps / n if n else np.nan
    fig, ax = plt.subplots(figsize=(max(5.0, 2.2 + 0.9 * len(table)), 1.2 + 0.32 * len(cells)))
    im = ax.imshow(data, cmap="RdYlGn", vmin=0.0, vmax=1.0, aspect="auto")
    for j, e in enumerate(table):
        for i, c in enumerate(cells):
            if c.name in e["cells"]:
                laps, n = e["cells"][c.name]
                ax.text(j, i, f"{laps}/{n}", ha="center", va="center", fontsize=7)
    ax.set_yticks(range(len(cells)), [c.name for c in cells], fontsize=7)
    labels = [(f"it {e['iteration']}" if e["iteration"] is not None else Path(e["checkpoint"]).name) for e in table]
    ax.set_xticks(range(len(table)), labels, fontsize=7, rotation=45, ha="right")
    fig.colorbar(im, ax=ax, fraction=0.05, label="laps / trials")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    _save(fig, Path(path))
    plt.close(fig)
    return Path(path)


# ---------------------------------------------------------------------------------- Fig. 6
def rank(values: Sequence[float]) -> np.ndarray:
    """Ranks 1..n, ties get the mean of the ranks they span."""
    v = np.asarray(values, dtype=np.float64)
    order = np.argsort(v, kind="mergesort")
    ranks = np.empty(len(v))
    i = 0
    while i < len(v):
        j = i
        while j + 1 < len(v) and v[order[j + 1]] == v[order[i]]:
            j += 1
        ranks[order[i:j + 1]] = 0.5 * (i + j) + 1.0
        i = j + 1
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation (Pearson on tie-averaged ranks); NaN if either side is constant
    or there are fewer than 2 points."""
    if len(x) != len(y):
        raise ValueError(f"spearman: {len(x)} x values but {len(y)} y values")
    if len(x) < 2:
        return float("nan")
    rx, ry = rank(x), rank(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    den = math.sqrt(float((rx * rx).sum() * (ry * ry).sum()))
    return float((rx * ry).sum() / den) if den > 0 else float("nan")


def robust_scores(run_dir: Path, checkpoints: Sequence[Path], trials: int, workers: int, seed: int,
                  randomize: bool | str, log: Callable[[str], None] | None) -> dict[str, float]:
    """Robust-evaluation success per checkpoint: from the run's evaluation.csv (missing ones are
    evaluated now), or, ``randomize`` True / ``"all"``, a robust evaluation with every randomization
    of the sim on, kept in ``run_dir/robust_randomized/``, or, ``"one"``, one with one condition
    family per trial (``evaluate(randomize="one")``), kept in ``run_dir/robust_one/``."""
    from .evaluate import evaluate

    sub = ROBUST_VARIANTS[randomize_mode(randomize)][0]
    folder = run_dir / sub if sub else run_dir
    have = {r["checkpoint"] for r in read_trials(folder / EVAL_CSV) if r["mode"] == "robust"}
    todo = [c for c in checkpoints if str(c) not in have]
    if todo:
        evaluate(todo, trials=trials, naive=False, robust=True, randomize=randomize, workers=workers, seed=seed,
                 out_dir=folder, skip_done=True, log=log)
    scores: dict[str, list[int]] = {}
    for r in read_trials(folder / EVAL_CSV):
        if r["mode"] == "robust":
            scores.setdefault(r["checkpoint"], []).append(int(r["episode_status"] == "lap_complete"))
    return {c: float(np.mean(v)) for c, v in scores.items()}


def correlate(out: Path, table: Sequence[dict[str, Any]], robust: dict[str, dict[str, float]]) -> dict[str, float]:
    """transfer_correlation.md / .png: robust score vs transfer success per checkpoint; returns rho per variant."""
    from .plots import _figure, _save

    rhos: dict[str, float] = {}
    lines = ["| checkpoint | " + " | ".join(f"robust ({v})" for v in robust) + " | transfer suite |",
             "|---|" + "---|" * (len(robust) + 1)]
    for e in table:
        cells = [f"{robust[v].get(e['checkpoint'], float('nan')):.0%}" for v in robust]
        lines.append(f"| {Path(e['checkpoint']).name} | " + " | ".join(cells) + f" | {e['laps']}/{e['trials']} |")
    lines.append("")
    plt = _figure()
    fig, ax = plt.subplots(figsize=(6, 4))
    for variant, scores in robust.items():
        pts = [(scores[e["checkpoint"]], e["laps"] / e["trials"]) for e in table if e["checkpoint"] in scores and e["trials"]]
        rho = spearman([p[0] for p in pts], [p[1] for p in pts]) if pts else float("nan")
        rhos[variant] = rho
        txt = "undefined (a side is constant)" if math.isnan(rho) else f"{rho:+.2f}"
        lines.append(f"Spearman rank correlation, robust ({variant}) vs transfer suite, {len(pts)} checkpoints: **{txt}**")
        if pts:
            ax.plot([100 * p[0] for p in pts], [100 * p[1] for p in pts], "o", label=f"robust ({variant}): rho {txt}")
    ax.set_xlabel("robust evaluation: trials lapped (%)")
    ax.set_ylabel("transfer suite: trials lapped (%)")
    ax.set_xlim(-2, 102)
    ax.set_ylim(-2, 102)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(f"{out.name}: does robust evaluation predict transfer?", fontsize=9)
    fig.tight_layout()
    _save(fig, out / CORRELATION_PNG)
    plt.close(fig)
    atomic_write_text(out / CORRELATION_MD, "\n".join(lines) + "\n")
    return rhos


# ---------------------------------------------------------------------------------- CLI
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="deepracer transfer", description=__doc__.split("\n\n")[1],
                                epilog="Cells of the default grid: " + ", ".join(c.name for c in suite_cells()))
    p.add_argument("targets", nargs="+", metavar="RUN_DIR_OR_CHECKPOINT_OR_ARTIFACT")
    p.add_argument("--trials", type=int, default=DEFAULT_TRIALS, help=f"trials per cell (default {DEFAULT_TRIALS})")
    p.add_argument("--grid", default="suite", help="suite (default), quick, or a YAML list of cells")
    p.add_argument("--cells", nargs="+", help="only these cells of the grid")
    p.add_argument("--all-checkpoints", action="store_true", help="every checkpoint of a run, not only the selected one")
    p.add_argument("--action-noise", type=float, default=0.1, help="probability of a random action per step")
    p.add_argument("--workers", type=int, default=2, help="parallel processes (default 2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-steps", type=int, help="step limit per trial (default: 3 laps at the slowest action speed)")
    p.add_argument("--out", help="output folder (default: the run folder)")
    p.add_argument("--correlate", action="store_true",
                   help="Fig. 6: robust-evaluation success vs transfer success per checkpoint (implies --all-checkpoints)")
    p.add_argument("--robust-trials", type=int, default=10, help="--correlate: robust trials where missing (default 10)")
    p.add_argument("--robust-randomize", nargs="*", choices=RANDOMIZE_MODES, metavar="{all,one}",
                   help="--correlate: also score a robust evaluation with the simulator's randomization: all "
                        "(the default when given alone: every option on, in robust_randomized/), one (one "
                        "condition family per trial at the suite's strength, in robust_one/), or both")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.trials < 1 or args.workers < 1 or args.robust_trials < 1:
        print("deepracer transfer: --trials, --workers and --robust-trials must be >= 1", file=sys.stderr)
        return 2
    if not 0.0 <= args.action_noise <= 1.0:
        print(f"deepracer transfer: --action-noise must be in [0, 1], got {args.action_noise}", file=sys.stderr)
        return 2
    try:
        cells = load_grid(args.grid)
        if args.cells:
            known = {c.name: c for c in cells}
            missing = [n for n in args.cells if n not in known]
            if missing:
                raise TransferError(f"--cells: unknown cell(s) {missing}; this grid has: {', '.join(known)}")
            cells = [known[n] for n in args.cells]
        result = transfer(args.targets, cells, trials=args.trials, action_noise=args.action_noise,
                          all_checkpoints=args.all_checkpoints or args.correlate, workers=args.workers,
                          seed=args.seed, out_dir=args.out, max_steps=args.max_steps)
        out = result["out_dir"]
        print()
        print((out / TRANSFER_MD).read_text(encoding="utf-8"))
        print(f"wrote {out / TRANSFER_CSV}, {out / TRANSFER_MD}, {out / TRANSFER_PNG}")
        if args.correlate:
            run_dirs = [Path(t) for t in args.targets if Path(t).is_dir()]
            if len(run_dirs) != 1:
                raise TransferError("--correlate needs exactly one run folder")
            ckpts = [Path(e["checkpoint"]) for e in result["table"]]
            variants: list[str | None] = [None]
            if args.robust_randomize is not None:   # given alone: all
                variants += list(dict.fromkeys(args.robust_randomize or ["all"]))
            robust = {ROBUST_VARIANTS[v][1]: robust_scores(run_dirs[0], ckpts, args.robust_trials, args.workers,
                                                           args.seed, v or False, print) for v in variants}
            correlate(out, result["table"], robust)
            print((out / CORRELATION_MD).read_text(encoding="utf-8"))
            print(f"wrote {out / CORRELATION_MD}, {out / CORRELATION_PNG}")
    except (EvaluateError, ValueError, OSError) as exc:
        print(f"deepracer transfer: {exc}", file=sys.stderr)
        return 2
    return 1 if result["errors"] and not result["rows"] else 0


if __name__ == "__main__":
    sys.exit(main())
