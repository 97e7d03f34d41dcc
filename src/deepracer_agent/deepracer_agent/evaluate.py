"""``deepracer evaluate``: naive and robust evaluation of checkpoints, DeepRacer's per-trial metrics.

    deepracer evaluate RUN_DIR_OR_CHECKPOINTS_OR_MODELS... [--trials 10] [--naive-only] [--no-naive]
                       [--tracks NAME_OR_NPY ...] [--randomize [all|one]] [--action-noise 0.1]
                       [--workers 2] [--seed 0] [--watch] [--out DIR] [--window 3]

Evaluation modes (the paper's Section V):

- **naive**: one trial, start at waypoint 0 in the track's own direction, no action noise, argmax
  actions.
- **robust**: ``--trials`` trials (10 by default). Trial k starts ``k / trials`` of the lap further
  on; odd trials drive the track reversed (``--one-direction`` turns that off); every step, with
  probability ``--action-noise`` (0.1), the chosen action is replaced by a uniformly random one
  (discrete: one of the action list; continuous: uniform over the normalised ``[-1, 1]^2`` box,
  i.e. over the metadata's steering and speed ranges: the same perturbation as the discrete
  list's, so both spaces pass the same robustness test). ``--tracks`` adds other tracks (each gets
  its own trials).
- ``--randomize`` (= ``--randomize all``): every option of the simulator's domain randomization
  (lighting, shadows, colours, texture, camera pose, sensor noise, augmentations, latency,
  dynamics, motion blur, actuation) on at its default strength, in every trial (naive too).
- ``--randomize one``: ONE condition family per robust trial, at the transfer suite's strength
  (the suite's own design, in 10-20 trials): robust trial k gets family ``k mod 9`` of
  :data:`ONE_FAMILIES`, every other randomization off (the run's training randomization too),
  drawn per trial from the simulator's per-car, per-episode streams, uniformly over ranges that
  span the suite's cells (never its fixed extremes, never its held-out tracks or palettes):

  ============  =================================================================
  family        randomization (uniform per trial)
  ============  =================================================================
  ``pitch``     camera pitch +-5 deg (``camera_pose.pitch_rad`` 0.0873)
  ``height``    camera height +-2 cm (``camera_pose.height_m`` 0.02)
  ``fov``       horizontal FOV +-10 % (``camera_pose.fov_rad`` 0.113 = 10 % of 1.13 rad)
  ``lighting``  brightness and contrast each x U(0.6, 1.4), gamma 1
  ``noise``     Gaussian pixel noise sigma 8 gray levels (new every frame)
  ``blur``      vertical motion blur U(0, 3) rows
  ``latency``   0, 1 or 2 frames of command latency
  ``speed``     speed x U(0.8, 1.2)
  ``steering``  steering bias U(-3, +3) deg (0.0524 rad)
  ============  =================================================================

  Nine (odd) families: with an even trial count the trials of a family alternate forwards and
  reversed (trials k and k + 9 differ in direction); 18 trials give each family 2, one each way;
  with fewer than 9 trials only the first families are drawn. Not covered: the fisheye lens and
  the suite's held-out tracks and palettes (they stay the suite's own test). The naive trial stays
  as without ``--randomize``. Each family is its own work unit (mode ``robust``), folded into the
  checkpoint's one robust score; ``evaluation.csv``'s ``randomization`` column names the family
  (``all`` for ``--randomize``, empty without).

Per-trial metrics use AWS's names: ``completion_percentage`` (0-100), ``elapsed_time_in_milliseconds``
(simulated time), ``episode_status`` (lap_complete, off_track, immobilized, reversed, time_up),
``off_track_count``, ``crash_count`` (always 0: no obstacles), ``immobilized_count``,
``reversed_count``, ``reset_count``. AWS's evaluation puts a car back on the track after an
off-track and keeps its clock running; THIS evaluation ends the trial at the first off-track
(``reset_count`` is always 0, ``off_track_count`` 0 or 1), which is the stricter test the paper's
success rate counts. A trial succeeds when ``episode_status == "lap_complete"``.

Outputs, in the run folder (or ``--out``): ``evaluation.csv`` (one row per trial), ``evaluation.md``
(a Markdown table, one row per checkpoint), ``evaluation.png`` (success per checkpoint, naive vs
robust: the paper's Fig. 6), and the checkpoint-selection result (:mod:`deepracer_agent.selection`):
``selected_checkpoint.json`` + ``best.zip``. Each checkpoint x mode x track also gets the logs the
community tools read (:mod:`deepracer_agent.aws_logs`): ``evaluation-<stamp>/evaluation-simtrace/
0-iteration.csv`` (episode = trial), ``evaluation-<stamp>/info.json`` (which checkpoint, mode and
track) and ``metrics/evaluation/evaluation-<stamp>.json`` (AWS's ``{"metrics": [...]}``).

Work is split into units (one checkpoint x mode x track, all its trials batched in one simulator)
run by ``--workers`` spawned processes, each loading the checkpoint on the CPU with one torch
thread. The result of a trial depends only on the checkpoint, the trial and ``--seed`` (not on the
number of workers). A checkpoint that cannot be loaded is reported by path and skipped.
``--watch`` keeps running beside a training run and scores each new complete checkpoint as it
appears, until the run's ``status.json`` says finished (and everything is scored) or ``--idle-timeout``.

Exported models are evaluated too: a model artifact (folder or .tar.gz of ``deepracer export``) or
an AWS/DRfC model (``model.pb`` + ``model_metadata.json``, e.g. ``pb-only-model.tar.gz``), run on
OpenVINO f32 with the model's own action space and frame stack; the rest of the settings come from
the ``config.resolved.yaml`` beside it, if any, else the defaults. Models are scored in the tables
but take no part in the checkpoint selection.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import math
import multiprocessing
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from deepracer_common.fileio import atomic_write_text

TRIAL_FIELDS = ("checkpoint", "iteration", "mode", "track", "trial", "start_fraction", "direction",
                "action_noise", "completion_percentage", "elapsed_time_in_milliseconds", "episode_status",
                "off_track_count", "crash_count", "immobilized_count", "reversed_count", "reset_count",
                "steps", "lap_time_s")
#: evaluation.csv's columns: the trial's, and which randomization it ran under (``all``, a family of
#: :data:`ONE_FAMILIES`, or empty).
EVAL_FIELDS = TRIAL_FIELDS + ("randomization",)
EVAL_CSV = "evaluation.csv"
EVAL_MD = "evaluation.md"
EVAL_PNG = "evaluation.png"


class EvaluateError(RuntimeError):
    """Evaluation cannot proceed; the message names the path or option at fault."""


@dataclass(frozen=True)
class TrialSpec:
    """One evaluation trial: where it starts (fraction of the lap, along the driven direction), which
    way round, and how much action noise (probability of a random action per step)."""

    index: int
    start_fraction: float
    reversed: bool
    action_noise: float


def naive_trials() -> list[TrialSpec]:
    """The naive evaluation: one trial from waypoint 0, forwards, no noise."""
    return [TrialSpec(0, 0.0, False, 0.0)]


def robust_trials(n: int = 10, action_noise: float = 0.1, both_directions: bool = True) -> list[TrialSpec]:
    """``n`` trials with starts spread evenly over the lap; odd ones reversed if ``both_directions``."""
    return [TrialSpec(k, k / n, bool(both_directions and k % 2 == 1), float(action_noise)) for k in range(n)]


def eval_max_steps(track: Any, metadata: Any, dt_s: float = 1.0 / 15.0, factor: float = 3.0) -> int:
    """Step limit of a trial: ``factor`` times a lap at the slowest speed of the action space."""
    if metadata.is_discrete:
        v_min = min(a.speed_m_s for a in metadata.actions)
    else:
        v_min = max(metadata.speed_range_m_s[0], 0.1)
    return int(min(10_000, math.ceil(factor * track.length_m / (max(v_min, 0.05) * dt_s))))


def run_trials(act: Callable[[np.ndarray], np.ndarray], specs: Sequence[TrialSpec], track: Any, metadata: Any,
               sim_config: Any = None, episode: dict | None = None, frame_stack: int = 1, seed: int = 0,
               max_steps: int | None = None, trace: Any = None) -> list[dict[str, Any]]:
    """Run ``specs`` on ``track`` as cars of ONE batched simulator; returns one metrics dict per trial.

    ``trace`` (a :class:`~deepracer_agent.simtrace.SimtraceLog`) receives each trial's simtrace,
    episode number = the trial's position in ``specs``.

    ``act(obs (N, 120, 160, k) uint8) -> actions (N,)`` (discrete) or ``(N, 2)`` (continuous) is the
    deterministic policy. Noise for trial k comes from its own generator seeded by ``(seed, k)``.
    """
    from .batch import DeepRacerBatch
    from deepracer_sim.episode import EpisodeConfig

    n = len(specs)
    ep = dict(episode or {})
    ep.update(start="round_robin", direction="forward",
              max_steps=int(max_steps or eval_max_steps(track, metadata)))
    batch = DeepRacerBatch(track, n_cars=n, metadata=metadata, reward=None, episode=EpisodeConfig.from_dict(ep),
                           sim_config=sim_config, frame_stack=frame_stack, seed=seed, compute_reward=False)
    rev = np.array([s.reversed for s in specs], dtype=bool)
    start_s = np.array([s.start_fraction for s in specs]) * batch.track.length_m
    # Explicit per-trial starts: the episode rules' chooser answers with this trial list.
    batch.rules.choose_starts = lambda count: (rev[:count].copy(), start_s[:count].copy())
    if trace is not None:
        from .simtrace import attach

        attach(batch, trace).episode_of_car = list(range(n))
    obs = batch.reset_all()
    rngs = [np.random.default_rng([int(seed), int(s.index)]) for s in specs]
    noise = np.array([s.action_noise for s in specs])
    results: list[dict[str, Any] | None] = [None] * n
    done = np.zeros(n, dtype=bool)
    discrete = metadata.is_discrete
    while not done.all():
        actions = np.array(act(obs), copy=True)
        for i in np.flatnonzero(noise > 0):
            if rngs[i].random() < noise[i]:      # a uniformly random action, discrete or continuous
                actions[i] = rngs[i].integers(metadata.n_actions) if discrete else rngs[i].uniform(-1.0, 1.0, 2)
        obs, _, terminated, truncated, infos = batch.step(actions)
        for i in np.flatnonzero((terminated | truncated) & ~done):
            done[i] = True
            info = infos[i]
            status = info["episode_status"]
            elapsed_ms = int(round(info["steps"] * batch.dt_s * 1000))
            results[i] = {
                "trial": specs[i].index, "start_fraction": round(specs[i].start_fraction, 4),
                "direction": "reversed" if specs[i].reversed else "forward",
                "action_noise": specs[i].action_noise,
                "completion_percentage": round(float(min(max(info["progress"], 0.0), 100.0)), 2),
                "elapsed_time_in_milliseconds": elapsed_ms, "episode_status": status,
                "off_track_count": int(status == "off_track"), "crash_count": 0,
                "immobilized_count": int(status == "immobilized"), "reversed_count": int(status == "reversed"),
                "reset_count": 0, "steps": int(info["steps"]),
                "lap_time_s": round(elapsed_ms / 1000.0, 3) if status == "lap_complete" else None,
            }
    return [r for r in results if r is not None]


def policy_actor(policy: Any) -> Callable[[np.ndarray], np.ndarray]:
    """Deterministic (argmax / mean) actions of an SB3 policy for channel-last observations."""
    import torch

    def act(obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            actions, _ = policy.predict(obs, deterministic=True)
        return np.asarray(actions)
    return act


def summarize(trials: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """success_rate (0-1), laps, trials, mean completion (%), mean lap time (s, lapped trials only)."""
    laps = [t for t in trials if t["episode_status"] == "lap_complete"]
    return {"trials": len(trials), "laps": len(laps),
            "success_rate": len(laps) / len(trials) if trials else 0.0,
            "mean_completion": float(np.mean([t["completion_percentage"] for t in trials])) if trials else 0.0,
            "mean_lap_time_s": float(np.mean([t["lap_time_s"] for t in laps])) if laps else None}


def quick_robust_eval(model: Any, cfg: Any, track: Any, seed: int = 0, trace: Any = None,
                      trials_out: list | None = None) -> dict[str, Any]:
    """In-process robust evaluation of a model being trained (``cfg.evaluation`` settings); the
    policy is put in eval mode for the trials and back in train mode afterwards. ``trace``: a
    :class:`~deepracer_agent.simtrace.SimtraceLog` for the trials' simtrace; ``trials_out``: a list
    that receives the per-trial metrics."""
    ev = cfg.evaluation
    policy = model.policy
    was_training = policy.training
    policy.set_training_mode(False)
    try:
        trials = run_trials(policy_actor(policy), robust_trials(ev.trials, ev.action_noise, ev.both_directions),
                            track, cfg.metadata(), sim_config=cfg.sim_config(), episode=cfg.episode,
                            frame_stack=cfg.hyperparameters.stack_size, seed=seed, max_steps=ev.max_steps,
                            trace=trace)
    finally:
        policy.set_training_mode(was_training)
    if trials_out is not None:
        trials_out.extend(trials)
    return summarize(trials)


# ---------------------------------------------------------------------------------- workers
@dataclass(frozen=True)
class WorkUnit:
    """All trials of one checkpoint x mode x track (run batched in one simulator)."""

    checkpoint: str
    iteration: int | None
    mode: str
    track: str
    specs: tuple[TrialSpec, ...]
    config: dict          # the run's resolved TrainConfig as a dict
    randomize: bool
    seed: int
    max_steps: int | None = None
    trace_root: str | None = None     # write the unit's simtrace + metrics JSON into this run folder
    trace_stamp: str | None = None    # ... as evaluation-<trace_stamp>/ (aws_logs)
    sim_overrides: dict | None = None   # merged over the run's ``sim`` section (deep_merge), e.g. a transfer cell
    family: str | None = None           # ``--randomize one``: the family of ONE_FAMILIES in sim_overrides

    @property
    def randomization(self) -> str | None:
        """What the unit randomizes: ``"all"``, a family name, or None."""
        return self.family or ("all" if self.randomize else None)


# ------------------------------------------------------------------------- --randomize one
#: ``--randomize one``'s condition families: name -> the ``sim.randomization`` sections it sets (the
#: options' per-car, per-episode uniform draws, ranges spanning the transfer suite's cells).
#: Every section a family does not name is switched off (:func:`family_sim_overrides`); each family
#: gives every parameter of its section, so none of the run's training settings leaks in.
ONE_FAMILIES: dict[str, dict[str, dict[str, Any]]] = {
    "pitch": {"camera_pose": {"pitch_rad": 0.0873, "height_m": 0.0, "fov_rad": 0.0, "fisheye_probability": 0.0}},
    "height": {"camera_pose": {"pitch_rad": 0.0, "height_m": 0.02, "fov_rad": 0.0, "fisheye_probability": 0.0}},
    "fov": {"camera_pose": {"pitch_rad": 0.0, "height_m": 0.0, "fov_rad": 0.113, "fisheye_probability": 0.0}},
    "lighting": {"lighting": {"brightness": 0.4, "contrast": 0.4, "gamma": 0.0, "invert_probability": 0.0}},
    "noise": {"sensor_noise": {"sigma": 8.0}},
    "blur": {"motion_blur": {"max_px": 3.0}},
    "latency": {"latency": {"frames": 2, "min_frames": 0}},
    "speed": {"actuation": {"speed_scale": 0.2, "steering_bias_rad": 0.0}},
    "steering": {"actuation": {"speed_scale": 0.0, "steering_bias_rad": 0.0524}},
}
RANDOMIZE_MODES = ("all", "one")


def randomize_mode(randomize: bool | str | None) -> str | None:
    """``evaluate``'s ``randomize`` as None (off), ``"all"`` or ``"one"``: False/None -> None,
    True -> ``"all"``; anything else raises EvaluateError."""
    if randomize is None or randomize is False:
        return None
    if randomize is True:
        return "all"
    if isinstance(randomize, str) and randomize in RANDOMIZE_MODES:
        return randomize
    raise EvaluateError(f"randomize: expected False, True, 'all' or 'one', got {randomize!r}")


def family_sim_overrides(name: str) -> dict[str, Any]:
    """The ``sim`` overrides of family ``name``: its sections on (every parameter given), every other
    randomization section off."""
    from deepracer_sim.config import RandomizationConfig

    if name not in ONE_FAMILIES:
        raise EvaluateError(f"randomization family {name!r}: unknown (known: {', '.join(ONE_FAMILIES)})")
    defaults = RandomizationConfig().to_dict()
    section = {key: {"enabled": False} for key in defaults}
    for key, params in ONE_FAMILIES[name].items():
        section[key] = {**defaults[key], **params, "enabled": True}
    return {"randomization": section}


def family_of_trial(index: int) -> str:
    """The family robust trial ``index`` gets under ``--randomize one``: ``index mod len(ONE_FAMILIES)``."""
    names = list(ONE_FAMILIES)
    return names[int(index) % len(names)]


def robust_units(checkpoint: str, iteration: int | None, track: str, specs: Sequence[TrialSpec], config: dict,
                 randomize: bool | str | None, seed: int, max_steps: int | None = None) -> list[WorkUnit]:
    """The robust evaluation's work units for one checkpoint x track: one unit with every trial, or,
    ``randomize="one"``, one unit per family (in :data:`ONE_FAMILIES` order) with the trials it gets
    (:func:`family_of_trial`); a family no trial gets has no unit."""
    mode = randomize_mode(randomize)
    if mode != "one":
        return [WorkUnit(checkpoint, iteration, "robust", track, tuple(specs), config, mode == "all", seed,
                         max_steps)]
    units = []
    for name in ONE_FAMILIES:
        mine = tuple(s for s in specs if family_of_trial(s.index) == name)
        if mine:
            units.append(WorkUnit(checkpoint, iteration, "robust", track, mine, config, False, seed, max_steps,
                                  sim_overrides=family_sim_overrides(name), family=name))
    return units


def _load_policy(path: str) -> Any:
    """The checkpoint's policy in eval mode, rebuilt from its config (nothing unpickled)."""
    from .checkpoint import make_policy

    return make_policy(path, device="cpu")


def deep_merge(base: dict, over: dict) -> dict:
    """A copy of ``base`` with ``over`` merged in (nested mappings merged, other values replaced)."""
    import copy

    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


_POLICY_CACHE: dict[str, Any] = {}


def is_artifact(path: str | Path) -> bool:
    """True for an exported model (artifact folder/.tar.gz, or an AWS/DRfC model.pb folder/archive),
    False for an SB3 checkpoint .zip."""
    from deepracer_inference.artifact import is_artifact_path

    return is_artifact_path(path)


class ArtifactActor:
    """An exported model (ours or AWS's) as the deterministic actor of :func:`run_trials`, on
    OpenVINO f32 (one thread): argmax for discrete spaces, the normalised mean for continuous ones."""

    def __init__(self, path: str | Path) -> None:
        from deepracer_inference.engine import Policy

        self.policy = Policy.from_path(path, engine="openvino", num_threads=1)
        self.metadata = self.policy.metadata
        self.frame_stack = self.policy.artifact.frame_stack

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        return self.policy.act_stacked(obs)


def run_unit(unit: WorkUnit) -> dict[str, Any]:
    """Worker entry point: ``{"unit": ..., "trials": [...]}`` or ``{"unit": ..., "error": "..."}``."""
    import torch

    from deepracer_tracks.library import load_track

    from .config import TrainConfig

    torch.set_num_threads(1)
    artifact = is_artifact(unit.checkpoint)
    try:
        act = _POLICY_CACHE.get(unit.checkpoint)
        if act is None:
            _POLICY_CACHE.clear()
            act = _POLICY_CACHE[unit.checkpoint] = (ArtifactActor(unit.checkpoint) if artifact
                                                    else policy_actor(_load_policy(unit.checkpoint)))
    except Exception as exc:  # noqa: BLE001 - a corrupt checkpoint is reported, not fatal
        what = "model" if artifact else "checkpoint"
        detail = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
        return {"unit": unit, "error": f"{unit.checkpoint}: cannot load {what} ({detail})"}
    cfg = TrainConfig.from_dict(unit.config)
    sim = cfg.sim_config()
    if unit.sim_overrides:
        from deepracer_sim.config import SimConfig

        sim = SimConfig.from_dict(deep_merge(cfg.sim, unit.sim_overrides))
    if unit.randomize:
        sim = _randomized(sim)
    if artifact:  # the model's own action space and frame stack, whatever the config says
        metadata, frame_stack = act.metadata, act.frame_stack
    else:
        metadata, frame_stack = cfg.metadata(), cfg.hyperparameters.stack_size
    try:
        from .simtrace import SimtraceLog

        track = load_track(unit.track)
        trace = SimtraceLog(None) if unit.trace_root else None
        trials = run_trials(act, unit.specs, track, metadata, sim_config=sim,
                            episode=cfg.episode, frame_stack=frame_stack, seed=unit.seed,
                            max_steps=unit.max_steps, trace=trace)
        if trace is not None:
            from .aws_logs import write_evaluation

            write_evaluation(unit.trace_root, unit.trace_stamp, trace, trials,
                             {"checkpoint": unit.checkpoint, "iteration": unit.iteration, "mode": unit.mode,
                              "track": unit.track, "seed": unit.seed, "trials": len(trials),
                              "randomization": unit.randomization})
    except Exception as exc:  # noqa: BLE001 - e.g. a policy whose spaces do not fit the run
        return {"unit": unit, "error": f"{unit.checkpoint}: evaluation failed on {unit.track} "
                                       f"({type(exc).__name__}: {exc})"}
    return {"unit": unit, "trials": trials}


def _randomized(sim: Any) -> Any:
    """``sim`` with every randomization option of deepracer_sim turned on (its default strengths)."""
    from deepracer_sim.config import SimConfig

    data = sim.to_dict()
    for key, value in data["randomization"].items():
        if isinstance(value, dict) and "enabled" in value:
            value["enabled"] = True
    return SimConfig.from_dict(data)


def run_units(units: Sequence[WorkUnit], workers: int, on_result: Callable[[dict], None] | None = None) -> list[dict]:
    """Run work units, in ``workers`` spawned processes (1: in this process); results in unit order."""
    if workers <= 1 or len(units) <= 1:
        import torch

        threads = torch.get_num_threads()       # run_unit uses 1 thread (same numbers as a worker)
        out = []
        try:
            for unit in units:
                res = run_unit(unit)
                if on_result:
                    on_result(res)
                out.append(res)
        finally:
            torch.set_num_threads(threads)
        return out
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(processes=min(workers, len(units))) as pool:
        out = []
        for res in pool.imap(run_unit, units):
            if on_result:
                on_result(res)
            out.append(res)
    return out


# ---------------------------------------------------------------------------------- run folders
def collect_trials(units: Sequence[WorkUnit], workers: int, log: Callable[[str], None] | None,
                   describe: Callable[[WorkUnit, dict[str, Any]], str]) -> tuple[list[dict[str, Any]], list[str]]:
    """Run ``units`` and gather one row per trial (checkpoint, iteration, mode, track + the trial's
    metrics) and the distinct error lines of units that could not run (a corrupt checkpoint, say).

    :param describe: the progress line after a unit's checkpoint name, from the unit and its
        :func:`summarize` dict; used only when ``log`` is given.
    """
    errors: list[str] = []
    rows: list[dict[str, Any]] = []

    def on_result(res: dict[str, Any]) -> None:
        unit = res["unit"]
        if "error" in res:
            if res["error"] not in errors:
                errors.append(res["error"])
                if log:
                    log(f"skipped: {res['error']}")
            return
        for t in res["trials"]:
            rows.append({"checkpoint": unit.checkpoint, "iteration": unit.iteration, "mode": unit.mode,
                         "track": unit.track, **t, "randomization": unit.randomization})
        if log:
            log(f"{Path(unit.checkpoint).name} {describe(unit, summarize(res['trials']))}")

    run_units(units, workers, on_result)
    return rows, errors


def _iteration_of(path: Path) -> int | None:
    from .run_folder import CHECKPOINT_RE

    m = CHECKPOINT_RE.match(path.name)
    return int(m.group(1)) if m else None


def find_checkpoints(targets: Sequence[str | Path]) -> tuple[Path, list[Path]]:
    """(output folder, checkpoint zips) for run folders and/or checkpoint paths."""
    from .run_folder import CHECKPOINT_DIR, complete_checkpoints

    out_dir: Path | None = None
    ckpts: list[Path] = []
    for target in targets:
        path = Path(target).expanduser()
        if path.exists() and is_artifact(path):   # an exported model: ours or AWS's
            ckpts.append(path)
            out_dir = out_dir or path.parent
        elif path.is_dir():
            found = [p for p, _ in complete_checkpoints(path, verify=False)]
            if not found:  # a folder of zips without sidecars (e.g. copied checkpoints)
                folder = path / CHECKPOINT_DIR if (path / CHECKPOINT_DIR).is_dir() else path
                found = sorted(folder.glob("*.zip"))
            if not found:
                raise EvaluateError(f"{path}: no checkpoints found (expected {CHECKPOINT_DIR}/iter_*.zip)")
            ckpts += found
            out_dir = out_dir or path
        elif path.is_file():
            ckpts.append(path)
            out_dir = out_dir or (path.parent.parent if path.parent.name == CHECKPOINT_DIR else path.parent)
        else:
            raise EvaluateError(f"{path}: no such run folder or checkpoint")
    if out_dir is None:
        raise EvaluateError("nothing to evaluate: give a run folder or checkpoint paths")
    return out_dir, list(dict.fromkeys(ckpts))


def run_config_for(out_dir: Path, checkpoint: Path | None = None) -> dict[str, Any]:
    """The resolved config of the run (``config.resolved.yaml``), else the config the checkpoint was
    trained with (embedded in it), else defaults with the ``model_metadata.json`` found beside the
    checkpoint / in its run folder."""
    from .config import TrainConfig, load_config
    from .run_folder import RESOLVED_CONFIG

    for folder in (out_dir, *(([checkpoint.parent, checkpoint.parent.parent]) if checkpoint else [])):
        if (folder / RESOLVED_CONFIG).is_file():
            return load_config(folder / RESOLVED_CONFIG).to_dict()
    data = TrainConfig().to_dict()
    if checkpoint is not None:
        from .checkpoint import CheckpointError, read
        from .export import ExportError, find_metadata

        try:
            return read(checkpoint, arrays=False).train_config().to_dict()
        except CheckpointError:
            pass   # the worker reports why it cannot load the checkpoint
        try:
            found = find_metadata(checkpoint)
            if found is not None:
                data["model_metadata"] = str(found)
        except ExportError:
            pass
    return TrainConfig.from_dict(data).to_dict()


def read_trials(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def write_outputs(out_dir: Path, rows: list[dict[str, Any]], window: int = 3,
                  errors: Sequence[str] = ()) -> dict[str, Any]:
    """evaluation.csv / .md / .png and the selection; returns {"summary": [...], "selection": ...}."""
    from .plots import plot_evaluation
    from .selection import CheckpointScore, select_checkpoint, write_selection

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=EVAL_FIELDS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for row in rows:
        w.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in EVAL_FIELDS})
    atomic_write_text(out_dir / EVAL_CSV, buf.getvalue())

    summary = summary_rows(rows)
    scores = []
    for ckpt in dict.fromkeys(r["checkpoint"] for r in summary):
        robust = [r for r in summary if r["checkpoint"] == ckpt and r["mode"] == "robust"]
        if not robust or is_artifact(ckpt):   # selection picks training checkpoints (best.zip)
            continue
        trials = sum(r["trials"] for r in robust)
        laps = sum(r["laps"] for r in robust)
        lap_times = [r["mean_lap_time_s"] for r in robust if r["mean_lap_time_s"] is not None]
        scores.append(CheckpointScore(
            path=ckpt, iteration=robust[0]["iteration"], success_rate=laps / trials if trials else 0.0,
            mean_completion=float(np.mean([r["mean_completion"] for r in robust])),
            mean_lap_time_s=float(np.mean(lap_times)) if lap_times else None))
    selection = select_checkpoint(scores, window=window) if scores else None
    if selection is not None:
        write_selection(out_dir, selection)
    atomic_write_text(out_dir / EVAL_MD, markdown_table(summary, selection, errors))
    try:
        plot_evaluation(summary, out_dir / EVAL_PNG, title=f"{out_dir.name}: naive vs robust evaluation")
    except Exception as exc:  # noqa: BLE001 - the table matters more than the plot
        print(f"deepracer evaluate: warning: could not draw {EVAL_PNG}: {exc}", file=sys.stderr)
    return {"summary": summary, "selection": selection}


def summary_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per checkpoint x mode x track (trials folded by :func:`summarize`), in checkpoint order."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        trial = dict(row)
        trial["completion_percentage"] = float(trial["completion_percentage"])
        trial["lap_time_s"] = float(trial["lap_time_s"]) if trial.get("lap_time_s") not in (None, "") else None
        groups.setdefault((row["checkpoint"], row["mode"], row["track"]), []).append(trial)
    out = []
    for (ckpt, mode, track), trials in groups.items():
        it = trials[0].get("iteration")
        out.append({"checkpoint": ckpt, "iteration": int(it) if it not in (None, "") else None, "mode": mode,
                    "track": track, **summarize(trials)})
    out.sort(key=lambda r: (r["iteration"] if r["iteration"] is not None else -1, r["checkpoint"],
                            r["track"], r["mode"]))
    return out


def markdown_table(summary: Sequence[dict[str, Any]], selection: Any = None, errors: Sequence[str] = ()) -> str:
    """The evaluation table: one line per checkpoint x track, naive and robust side by side."""
    lines = ["| checkpoint | track | naive | robust laps | robust mean completion | robust mean lap time |",
             "|---|---|---|---|---|---|"]
    keys = list(dict.fromkeys((r["checkpoint"], r["track"]) for r in summary))
    for ckpt, track in keys:
        naive = next((r for r in summary if (r["checkpoint"], r["track"], r["mode"]) == (ckpt, track, "naive")), None)
        robust = next((r for r in summary if (r["checkpoint"], r["track"], r["mode"]) == (ckpt, track, "robust")), None)
        name = Path(ckpt).name + (" **(selected)**" if selection is not None and selection.path == ckpt else "")
        naive_txt = "-" if naive is None else ("lap" if naive["laps"] else f"{naive['mean_completion']:.0f}%")
        if robust is None:
            cells = ["-", "-", "-"]
        else:
            lap = robust["mean_lap_time_s"]
            cells = [f"{robust['laps']}/{robust['trials']}", f"{robust['mean_completion']:.1f}%",
                     "-" if lap is None else f"{lap:.2f} s"]
        lines.append(f"| {name} | {track} | {naive_txt} | " + " | ".join(cells) + " |")
    if errors:
        lines += ["", "Skipped:"] + [f"- {e}" for e in errors]
    return "\n".join(lines) + "\n"


def evaluate(targets: Sequence[str | Path], trials: int = 10, naive: bool = True, robust: bool = True,
             tracks: Sequence[str] | None = None, action_noise: float = 0.1, both_directions: bool = True,
             randomize: bool | str = False, workers: int = 2, seed: int = 0, out_dir: str | Path | None = None,
             window: int = 3, skip_done: bool = False, max_steps: int | None = None, log: Callable[[str], None] | None = print,
             simtrace: bool = True) -> dict[str, Any]:
    """Evaluate checkpoints and write the outputs (see the module docstring); ``simtrace``: also
    each unit's simtrace and AWS metrics JSON (:mod:`deepracer_agent.aws_logs`). ``randomize``:
    False (none), True or ``"all"`` (every option on, every trial), ``"one"`` (one family of
    :data:`ONE_FAMILIES` per robust trial). Returns ``{"out_dir", "rows", "summary", "selection",
    "errors"}``."""
    mode = randomize_mode(randomize)
    found_dir, ckpts = find_checkpoints(targets)
    out = Path(out_dir).expanduser() if out_dir is not None else found_dir
    out.mkdir(parents=True, exist_ok=True)
    existing = read_trials(out / EVAL_CSV)
    done = {(r["checkpoint"], r["mode"], r["track"]) for r in existing}
    units: list[WorkUnit] = []
    for ckpt in ckpts:
        if is_artifact(ckpt):  # the folder's run config if any (track, episode), else defaults
            cfg = run_config_for(ckpt.parent)
        else:
            cfg = run_config_for(ckpt.parent.parent if ckpt.parent.name == "checkpoints" else ckpt.parent, ckpt)
        for track in (tracks or [cfg["track"]]):
            for kind, specs in (("naive", naive_trials() if naive else []),
                                ("robust", robust_trials(trials, action_noise, both_directions) if robust else [])):
                if not specs:
                    continue
                key = (str(ckpt), kind, str(track))
                if skip_done and key in done:
                    continue
                if kind == "robust":
                    units += robust_units(str(ckpt), _iteration_of(ckpt), str(track), specs, cfg, mode, seed,
                                          max_steps)
                else:       # the naive trial: randomized only by --randomize all
                    units.append(WorkUnit(str(ckpt), _iteration_of(ckpt), kind, str(track), tuple(specs), cfg,
                                          mode == "all", seed, max_steps))
    if simtrace:
        from dataclasses import replace

        from .aws_logs import evaluation_stamps

        units = [replace(u, trace_root=str(out), trace_stamp=stamp)
                 for u, stamp in zip(units, evaluation_stamps(out, len(units)))]
    new_rows, errors = collect_trials(units, workers, log,
                                      lambda u, s: f"{u.mode:6s} {u.track}"
                                                   + (f" [{u.family}]" if u.family else "")
                                                   + f": {s['laps']}/{s['trials']} laps, "
                                                   f"mean completion {s['mean_completion']:.1f}%")
    replaced = {(u.checkpoint, u.mode, u.track) for u in units}
    rows = [r for r in existing if (r["checkpoint"], r["mode"], r["track"]) not in replaced] + new_rows
    result = write_outputs(out, rows, window=window, errors=errors)
    return {"out_dir": out, "rows": rows, "summary": result["summary"], "selection": result["selection"],
            "errors": errors}


def watch(run_dir: str | Path, poll_s: float = 2.0, idle_timeout_s: float = 600.0, **kwargs: Any) -> dict[str, Any]:
    """Score each new complete checkpoint of a (running) training run until it finishes."""
    from .run_folder import STATUS_FILE, complete_checkpoints

    run_dir = Path(run_dir)
    seen: set[str] = set()
    last_new = time.monotonic()
    result: dict[str, Any] = {}
    log = kwargs.get("log", print)
    while True:
        ckpts = [p for p, _ in complete_checkpoints(run_dir, verify=True)]
        new = [p for p in ckpts if str(p) not in seen]
        if new:
            result = evaluate(new, out_dir=run_dir, skip_done=True, **kwargs)
            seen.update(str(p) for p in new)
            last_new = time.monotonic()
            continue
        try:
            finished = json.loads((run_dir / STATUS_FILE).read_text(encoding="utf-8")).get("state") == "finished"
        except (OSError, ValueError):
            finished = False
        if finished or time.monotonic() - last_new > idle_timeout_s:
            if log:
                log("watch: training finished" if finished else f"watch: no new checkpoint for {idle_timeout_s:g}s")
            return result
        time.sleep(poll_s)


# ---------------------------------------------------------------------------------- CLI
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="deepracer evaluate",
                                description="Naive and robust evaluation of training checkpoints.")
    p.add_argument("targets", nargs="+", metavar="RUN_DIR_OR_CHECKPOINT_OR_MODEL",
                   help="run folders, SB3 checkpoints (.zip), model artifacts or AWS/DRfC models (folder or .tar.gz)")
    p.add_argument("--trials", type=int, default=10, help="robust trials per checkpoint and track (default 10)")
    p.add_argument("--naive-only", action="store_true", help="only the naive evaluation")
    p.add_argument("--no-naive", action="store_true", help="skip the naive evaluation")
    p.add_argument("--tracks", nargs="+", help="tracks (built-in names or .npy) instead of the run's track")
    p.add_argument("--action-noise", type=float, default=0.1, help="probability of a random action per step (robust)")
    p.add_argument("--one-direction", action="store_true", help="robust trials all in the track's own direction")
    p.add_argument("--randomize", nargs="?", const="all", default=False, choices=RANDOMIZE_MODES,
                   help="all (the default when given alone): every option of the simulator's domain randomization "
                        "on in every trial; one: one condition family per robust trial at the transfer suite's "
                        "strength (" + ", ".join(ONE_FAMILIES) + ")")
    p.add_argument("--workers", type=int, default=2, help="parallel processes (default 2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-steps", type=int, help="step limit per trial (default: 3 laps at the slowest action speed)")
    p.add_argument("--window", type=int, default=3, help="selection: consecutive checkpoints that must be good")
    p.add_argument("--out", help="output folder (default: the run folder)")
    p.add_argument("--watch", action="store_true", help="score new checkpoints of a running training run")
    p.add_argument("--idle-timeout", type=float, default=600.0, help="--watch: stop after this long without news (s)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.trials < 1 or args.workers < 1 or args.window < 1:
        print("deepracer evaluate: --trials, --workers and --window must be >= 1", file=sys.stderr)
        return 2
    if not 0.0 <= args.action_noise <= 1.0:
        print(f"deepracer evaluate: --action-noise must be in [0, 1], got {args.action_noise}", file=sys.stderr)
        return 2
    kwargs = dict(trials=args.trials, naive=not args.no_naive, robust=not args.naive_only, tracks=args.tracks,
                  action_noise=args.action_noise, both_directions=not args.one_direction,
                  randomize=args.randomize, workers=args.workers, seed=args.seed, window=args.window,
                  max_steps=args.max_steps)
    try:
        if args.tracks:
            from deepracer_tracks.library import load_track

            for t in args.tracks:
                load_track(t)
        if args.watch:
            if len(args.targets) != 1 or not Path(args.targets[0]).is_dir():
                raise EvaluateError("--watch needs exactly one run folder")
            result = watch(args.targets[0], idle_timeout_s=args.idle_timeout, **kwargs)
            if not result:
                return 0
        else:
            result = evaluate(args.targets, out_dir=args.out, **kwargs)
    except (EvaluateError, ValueError) as exc:
        print(f"deepracer evaluate: {exc}", file=sys.stderr)
        return 2
    out = result["out_dir"]
    print()
    print((out / EVAL_MD).read_text(encoding="utf-8"))
    sel = result["selection"]
    if sel is not None:
        print(f"selected checkpoint: {sel.path} ({sel.reason})")
    print(f"wrote {out / EVAL_CSV}, {out / EVAL_MD}, {out / EVAL_PNG}")
    return 1 if result["errors"] and not result["rows"] else 0


if __name__ == "__main__":
    sys.exit(main())
