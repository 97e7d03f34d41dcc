"""What ``deepracer train`` does after each training iteration, as stable-baselines3-style callbacks.

:func:`deepracer_agent.train.train` runs the iteration loop (rollout + PPO update, one metrics row)
and hands an :class:`IterationState` to the callbacks in two steps:

1. :meth:`TrainCallback.on_iteration_end`, in order: work that ADDS to the iteration's metrics row;
2. the loop writes the row to ``metrics.csv`` / ``metrics.jsonl`` (THE record of the iteration);
3. :meth:`TrainCallback.on_row_written`, in order: work that needs the row on disk; a callback
   returning False stops training (as SB3's ``BaseCallback._on_step``).

The default list, in this order:

- :class:`CheckpointCallback`: writes ``checkpoints/iter_NNNNNN.zip`` (step 1) and commits it with its
  sidecar only after the row is written (step 3), so a complete checkpoint always has its metrics
  row; then retention (``checkpoints.keep_last``);
- :class:`EvaluationCallback`: the quick robust evaluation (``evaluation.*``) when a robust-evaluation
  stop target is set (step 1);
- :class:`ProgressCallback`: the progress plot, the log line and the progress bar (step 3);
- :class:`CurriculumCallback`: ``curriculum.randomize_after_eval``: turns the randomization on once the
  nominal robust evaluation reaches it (step 3; the training loop then builds the new simulators);
- :class:`StopCallback`: the stop conditions (``stop.*``, ``term_cond_*``), first one met wins (step 3).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .run_folder import PROGRESS_PLOT, commit_checkpoint, prune_checkpoints

__all__ = ["IterationState", "TrainCallback", "CheckpointCallback", "EvaluationCallback", "ProgressCallback",
           "CurriculumCallback", "StopCallback", "default_callbacks", "stop_reason", "plain_row", "evaluation_due",
           "robust_eval_fields", "curriculum_passed", "curriculum_message", "counted_for_stop"]


@dataclass
class IterationState:
    """The training run as the callbacks see it after an iteration (they may add to ``row``)."""

    cfg: Any                          # TrainConfig
    run_dir: Path
    model: Any                        # the SB3 PPO model
    track: Any                        # the evaluation track
    iteration: int = 0
    row: dict[str, Any] = field(default_factory=dict)           # this iteration's metrics
    rows: list[dict[str, Any]] = field(default_factory=list)    # every row so far (resume included)
    episodes_total: int = 0
    last_checkpoint: Path | None = None
    eval_rate: float | None = None
    stop_reason: str = ""
    log: Callable[[str], None] | None = print
    save_checkpoint: Callable[..., Path] | None = None           # train.save_checkpoint
    update_time_s: float = 0.0
    #: The curriculum's first phase: the config without ``sim.randomization`` the cars train and the
    #: quick evaluation runs with (None: the full config, randomization on).
    nominal_cfg: Any = None


class TrainCallback:
    """Base class: override :meth:`on_iteration_end` and/or :meth:`on_row_written`."""

    def on_iteration_end(self, state: IterationState) -> None:
        """Before the metrics row is written: may add fields to ``state.row``."""

    def on_row_written(self, state: IterationState) -> bool:
        """After the metrics row is written; return False to stop training."""
        return True


class CheckpointCallback(TrainCallback):
    """Write the iteration's checkpoint (atomic), commit it (sidecar) once its metrics row exists,
    then drop old ones (``checkpoints.keep_last``)."""

    def __init__(self) -> None:
        self._pending: tuple[Path, dict[str, Any]] | None = None

    def on_iteration_end(self, state: IterationState) -> None:
        assert state.save_checkpoint is not None
        t0 = time.perf_counter()
        row = state.row
        info = {"iteration": state.iteration, "steps": row["steps"], "wall_time_s": row["wall_time_s"],
                "episodes_total": state.episodes_total}
        self._pending = (state.save_checkpoint(state.model, state.run_dir, info, state.cfg, commit=False), info)
        row["save_time_s"] = round(time.perf_counter() - t0, 3)

    def on_row_written(self, state: IterationState) -> bool:
        if self._pending is not None:
            path, info = self._pending
            commit_checkpoint(path, info)          # complete only now: its metrics row exists
            state.last_checkpoint, self._pending = path, None
            prune_checkpoints(state.run_dir, state.cfg.checkpoints.keep_last)
        return True


# ------------------------------------------------- the in-training evaluation rules (both trainers)
def evaluation_due(cfg: Any, iteration: int, steps: int) -> bool:
    """Whether iteration ``iteration`` (``steps`` env steps so far) ends with a quick robust
    evaluation: only when ``stop.target_eval_completion`` or ``curriculum.randomize_after_eval``
    needs one, every ``evaluation.every_iterations``, from ``evaluation.start_after_steps`` on."""
    ev = cfg.evaluation
    wanted = cfg.stop.target_eval_completion is not None or cfg.curriculum.randomize_after_eval is not None
    return wanted and iteration % ev.every_iterations == 0 and steps >= ev.start_after_steps


def robust_eval_fields(model: Any, cfg: Any, track: Any, seed: int) -> dict[str, Any]:
    """One quick robust evaluation (`evaluate.quick_robust_eval`, ``cfg``'s ``evaluation.*`` and ``sim``;
    ``model`` needs only ``.policy``) as the metrics row's eval_* fields (eval_time_s in seconds)."""
    from .evaluate import quick_robust_eval

    t0 = time.perf_counter()
    summary = quick_robust_eval(model, cfg, track, seed=seed)
    return {"eval_completion_rate": summary["success_rate"], "eval_mean_progress": summary["mean_completion"],
            "eval_mean_lap_time_s": summary["mean_lap_time_s"], "eval_time_s": round(time.perf_counter() - t0, 3)}


def curriculum_passed(cfg: Any, row: dict[str, Any]) -> bool:
    """The curriculum's first phase ends with this row: its (nominal) robust evaluation reached
    ``curriculum.randomize_after_eval``."""
    after, rate = cfg.curriculum.randomize_after_eval, row.get("eval_completion_rate")
    return after is not None and rate is not None and rate >= after


def curriculum_message(cfg: Any, row: dict[str, Any], iteration: int) -> str:
    """The log line of the curriculum's switch after ``iteration``."""
    return (f"curriculum: nominal robust evaluation {row['eval_completion_rate']:.0%} >= "
            f"{cfg.curriculum.randomize_after_eval:.0%}: sim.randomization on from iteration {iteration + 1} "
            f"({', '.join(cfg.sim_config().randomization.enabled_names)})")


def counted_for_stop(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` as the stop conditions see it: a robust evaluation run without the config's randomization
    (the curriculum's first phase: ``row["randomized"]`` False) does not count for the target."""
    return row if row.get("randomized", True) else {**row, "eval_completion_rate": None}


class EvaluationCallback(TrainCallback):
    """Quick robust evaluation of the current policy when :func:`evaluation_due` (in the curriculum's
    first phase under the nominal config)."""

    def on_iteration_end(self, state: IterationState) -> None:
        cfg = state.cfg
        if not evaluation_due(cfg, state.iteration, state.model.num_timesteps):
            return
        state.row.update(robust_eval_fields(state.model, state.nominal_cfg or cfg, state.track, seed=cfg.seed))
        state.eval_rate = state.row["eval_completion_rate"]


def plain_row(row: dict[str, Any]) -> dict[str, Any]:
    """A metrics row as it is written: numpy scalars -> Python numbers, NaN/inf -> None."""
    return {k: _plain(v) for k, v in row.items()}


def _plain(value: Any) -> Any:
    """numpy scalars -> Python numbers (JSON); NaN/inf -> None."""
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


class ProgressCallback(TrainCallback):
    """``training_progress.png``, one log line and the progress bar."""

    def __init__(self, bar: Any = None) -> None:
        self.bar = bar

    def on_row_written(self, state: IterationState) -> bool:
        row, log = state.row, state.log
        try:
            from .plots import plot_training

            plot_training(state.rows, state.run_dir / PROGRESS_PLOT, title=f"{state.run_dir.name}: {state.cfg.track}")
        except Exception as exc:  # noqa: BLE001 - a plot failure must not stop training
            if log:
                log(f"warning: could not draw {PROGRESS_PLOT}: {exc}")
        if log:
            msg = (f"iter {state.iteration:4d}  steps {row['steps']:7d}  {row['wall_time_s']:7.1f}s  "
                   f"episodes {row['episodes']:3d}  progress {row['mean_progress'] or 0:5.1f}%  "
                   f"laps {100 * (row['lap_completion_rate'] or 0):5.1f}%  "
                   f"env {row['env_steps_per_s'] or 0:6.0f} steps/s  update {row['update_time_s'] or 0:5.1f}s")
            if row["eval_completion_rate"] is not None:
                msg += f"  robust eval {100 * row['eval_completion_rate']:.0f}% laps"
            (self.bar.write if self.bar is not None else log)(msg)
        if self.bar is not None:
            self.bar.set_postfix(steps_s=row["env_steps_per_s"], progress=f"{row['mean_progress'] or 0:.0f}%",
                                 laps=f"{100 * (row['lap_completion_rate'] or 0):.0f}%")
        return True


def stop_reason(cfg: Any, row: dict[str, Any], episodes_total: int, iteration: int) -> str:
    """The first stop condition ``row`` meets, in words ('' = keep training)."""
    s, hp = cfg.stop, cfg.hyperparameters
    if s.target_eval_completion is not None and row["eval_completion_rate"] is not None \
            and row["eval_completion_rate"] >= s.target_eval_completion:
        lap = row.get("eval_mean_lap_time_s")
        if s.target_eval_lap_time_s is None:
            return f"robust evaluation reached {row['eval_completion_rate']:.0%} (target {s.target_eval_completion:.0%})"
        if lap is not None and lap <= s.target_eval_lap_time_s:
            return (f"robust evaluation reached {row['eval_completion_rate']:.0%} with mean lap {lap:.2f} s "
                    f"(targets {s.target_eval_completion:.0%}, {s.target_eval_lap_time_s:g} s)")
    if s.max_steps is not None and row["steps"] >= s.max_steps:
        return f"max_steps {s.max_steps} reached"
    if s.max_wall_time_s is not None and row["wall_time_s"] >= s.max_wall_time_s:
        return f"max_wall_time_s {s.max_wall_time_s:g} reached"
    if s.max_iterations is not None and iteration >= s.max_iterations:
        return f"max_iterations {s.max_iterations} reached"
    if hp.term_cond_max_episodes is not None and episodes_total >= hp.term_cond_max_episodes:
        return f"term_cond_max_episodes {hp.term_cond_max_episodes} reached"
    if hp.term_cond_avg_score is not None and row["mean_reward"] is not None \
            and row["mean_reward"] >= hp.term_cond_avg_score:
        return f"term_cond_avg_score {hp.term_cond_avg_score:g} reached"
    return ""


class CurriculumCallback(TrainCallback):
    """``curriculum.randomize_after_eval``: in the first phase (``state.nominal_cfg`` set), a nominal
    robust evaluation at or above it ends the phase (``state.nominal_cfg`` = None; the training loop
    sees that and switches the cars' simulators to the full config)."""

    def on_row_written(self, state: IterationState) -> bool:
        if state.nominal_cfg is not None and curriculum_passed(state.cfg, state.row):
            state.nominal_cfg = None
            if state.log:
                state.log(curriculum_message(state.cfg, state.row, state.iteration))
        return True


class StopCallback(TrainCallback):
    """Stop at the first condition met (see :func:`stop_reason`), the row :func:`counted_for_stop`."""

    def on_row_written(self, state: IterationState) -> bool:
        state.stop_reason = stop_reason(state.cfg, counted_for_stop(state.row), state.episodes_total, state.iteration)
        return not state.stop_reason


def default_callbacks(bar: Any = None) -> list[TrainCallback]:
    """Checkpoint, evaluation, progress, curriculum, stop: what ``deepracer train`` runs after every iteration."""
    return [CheckpointCallback(), EvaluationCallback(), ProgressCallback(bar), CurriculumCallback(), StopCallback()]
