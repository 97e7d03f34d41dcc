"""What the roles build from the training config: the env of a worker, the PPO model, the
model_metadata.json and the evaluation of a version.

The trainer publishes ``training_config.json`` with every model version::

    {"runtime": "deepracer_agent.distributed.runtime:DeepRacerRuntime", "config": {...}}

``config`` is the training configuration (the same as ``deepracer train`` uses); workers and
evaluators read it from the store, so the trainer is the single source of the env, network and
action space. Per-worker settings (:class:`WorkerSettings`: track, randomization, seed) are
applied on top by each worker, the paper's "different simulation settings for each worker".
"""
from __future__ import annotations

import importlib
import os
from typing import Any

from .config import DEFAULT_RUNTIME, WorkerSettings

RUNTIMES_ENV = "DEEPRACER_RUNTIMES"   # extra runtimes (module:Class, comma separated) a worker may import



class RuntimeError_(ValueError):
    """The runtime named in a training config cannot be loaded; the message says why."""


class Runtime:
    """Interface. Subclasses get the training config dict and build env / model / metadata."""

    def __init__(self, config: dict[str, Any]):
        self.config = config

    def make_env(self, worker: WorkerSettings | None = None) -> Any:
        """A single gymnasium env for ``worker`` (None: the trainer's, only used for its spaces)."""
        raise NotImplementedError

    def make_model(self, env: Any, device: str = "cpu") -> Any:
        """A fresh stable-baselines3 PPO model with the configured network and hyperparameters,
        on torch ``device`` ("cpu", "cuda", "auto"; workers act on the CPU, a trainer may use a GPU)."""
        raise NotImplementedError

    def model_metadata(self) -> dict[str, Any]:
        """The AWS model_metadata.json content that travels with every version."""
        raise NotImplementedError

    def evaluate(self, model: Any, version: int, store_dir: str) -> dict[str, Any]:
        """Score a version (the robust evaluation); returns a JSON-able summary."""
        raise NotImplementedError


def apply_overrides(config: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``config`` with dotted keys set (``{"env.max_steps": 50}`` sets config["env"]["max_steps"])."""
    import copy

    out = copy.deepcopy(config)
    for dotted, value in overrides.items():
        node = out
        *parents, leaf = str(dotted).split(".")
        for p in parents:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise RuntimeError_(f"worker override {dotted!r}: '{p}' is not a mapping in the training config")
        node[leaf] = value
    return out


def load_runtime(spec: dict[str, Any], overrides: dict[str, Any] | None = None) -> Runtime:
    """Instantiate the runtime named by ``spec['runtime']`` with ``spec['config']`` (plus a
    worker's dotted ``overrides``)."""
    target = spec.get("runtime", DEFAULT_RUNTIME)
    mod_name, _, cls_name = str(target).partition(":")
    # the spec comes from the model store: whoever can write there must not make every worker import
    # an arbitrary module (its top level runs on import). Ours, or the ones the operator lists.
    extra = [t.strip() for t in os.environ.get(RUNTIMES_ENV, "").split(",") if t.strip()]
    if not (mod_name == "deepracer_agent" or mod_name.startswith("deepracer_agent.")) and str(target) not in extra:
        raise RuntimeError_(f"training_config.json: runtime {target!r} is not a deepracer_agent runtime; to allow "
                            f"it, list it in ${RUNTIMES_ENV} (comma separated module:Class) on every machine")
    try:
        cls = getattr(importlib.import_module(mod_name), cls_name)
    except (ImportError, AttributeError) as exc:
        raise RuntimeError_(f"training_config.json: runtime {target!r} cannot be loaded: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, Runtime)):
        raise RuntimeError_(f"training_config.json: runtime {target!r} is not a Runtime subclass")
    return cls(apply_overrides(dict(spec.get("config") or {}), overrides or {}))


class DeepRacerRuntime(Runtime):
    """The real thing, built exactly as ``deepracer train`` builds it: the training config is a
    :class:`deepracer_agent.config.TrainConfig` mapping (same keys, same validation), the model comes
    from :func:`deepracer_agent.train.build_model` (DeepRacer's named network, separate policy and
    value networks, ``loss_type``), each worker drives one ``DeepRacerEnv`` car, and versions are
    scored with :func:`deepracer_agent.evaluate.quick_robust_eval` (the robust evaluation: trials
    from several starts, both directions, action noise; ``evaluation.*`` keys of the config).

    A worker's ``track``, ``seed``, ``randomization`` and ``speed_scale`` replace the config's
    ``track``, ``seed``, ``sim.randomization`` and ``sim.actuation.speed_scale`` for that worker. ``train_tracks`` rotation is not used by workers:
    give each worker its own track instead.
    """

    def __init__(self, config: dict[str, Any]):
        from deepracer_agent.config import TrainConfig

        super().__init__(config)
        self.cfg = TrainConfig.from_dict(config)   # ConfigError names the key

    def _cfg_for(self, worker: WorkerSettings | None) -> Any:
        from deepracer_agent.config import TrainConfig

        if worker is None or (worker.track is None and worker.seed is None and worker.randomization is None
                              and worker.speed_scale is None):
            return self.cfg
        data = self.cfg.to_dict()
        if worker.track is not None:
            data["track"] = worker.track
        if worker.seed is not None:
            data["seed"] = int(worker.seed)
        if worker.randomization is not None:
            data["sim"] = {**data.get("sim", {}), "randomization": worker.randomization}
        if worker.speed_scale is not None:
            sim = dict(data.get("sim", {}))
            sim["actuation"] = {**(sim.get("actuation") or {}), "speed_scale": float(worker.speed_scale)}
            data["sim"] = sim
        return TrainConfig.from_dict(data)

    def make_env(self, worker: WorkerSettings | None = None) -> Any:
        from deepracer_agent.config import check_inputs
        from deepracer_agent.env import DeepRacerEnv

        cfg = self._cfg_for(worker)
        track, reward = check_inputs(cfg)           # fails fast, naming the track / reward file
        return DeepRacerEnv(track=track, metadata=cfg.metadata(), reward=reward, episode=cfg.episode_config(),
                            sim_config=cfg.sim_config(), frame_stack=cfg.hyperparameters.stack_size, seed=cfg.seed)

    def make_model(self, env: Any, device: str = "cpu") -> Any:
        import dataclasses

        from deepracer_agent.train import build_model

        return build_model(dataclasses.replace(self.cfg, device=device), env, tensorboard_dir=None)

    def model_metadata(self) -> dict[str, Any]:
        return self.cfg.metadata().to_dict()

    def evaluate(self, model: Any, version: int, store_dir: str) -> dict[str, Any]:
        from deepracer_agent.config import check_inputs
        from deepracer_agent.evaluate import quick_robust_eval

        from pathlib import Path

        from deepracer_agent.aws_logs import evaluation_stamps, write_evaluation
        from deepracer_agent.simtrace import SimtraceLog

        track, _ = check_inputs(self.cfg)
        trace, trials = SimtraceLog(None), []
        summary = quick_robust_eval(model, self.cfg, track, seed=self.cfg.seed, trace=trace, trials_out=trials)
        run_dir = Path(store_dir).parent       # the evaluator's run folder: evaluation-<stamp>/ beside the workers'
        write_evaluation(run_dir, evaluation_stamps(run_dir, 1)[0], trace, trials,
                         {"policy_version": int(version), "mode": "robust", "track": self.cfg.track,
                          "seed": self.cfg.seed, "trials": len(trials)})
        return summary


class SmokeRuntime(Runtime):
    """A tiny, fast stand-in for the simulator, to check a deployment's plumbing (Redis, store,
    workers, trainer) in seconds, and for the fault tests. NOT a driving task.

    The observation is a small uint8 image (``height`` x ``width`` x 1) whose bright column tells
    which of ``n_actions`` actions pays 1 (others pay 0); episodes last ``episode_steps`` steps
    (terminated), so a learning policy's return rises from ``episode_steps / n_actions`` towards
    ``episode_steps``. ``info['progress']`` is the share of correct actions so far, in percent.
    Config keys: height, width, n_actions, episode_steps, step_delay_s, net (hidden sizes),
    n_epochs, batch_size, learning_rate.
    """

    def make_env(self, worker: WorkerSettings | None = None) -> Any:
        import gymnasium as gym
        import numpy as np

        c = self.config
        h, w, n, T = int(c.get("height", 12)), int(c.get("width", 16)), int(c.get("n_actions", 3)), int(c.get("episode_steps", 8))
        delay = float(c.get("step_delay_s", 0.0))
        seed = worker.seed if worker is not None else None

        class _Env(gym.Env):
            observation_space = gym.spaces.Box(0, 255, (h, w, 1), np.uint8)
            action_space = gym.spaces.Discrete(n)

            def __init__(self) -> None:
                self.rng = np.random.default_rng(seed)
                self.t, self.correct, self.target = 0, 0, 0

            def _obs(self) -> np.ndarray:
                self.target = int(self.rng.integers(n))
                img = np.zeros((h, w, 1), np.uint8)
                band = w // n
                img[:, self.target * band:(self.target + 1) * band] = 255
                return img

            def reset(self, *, seed: int | None = None, options: dict | None = None):  # type: ignore[override]
                if seed is not None:
                    self.rng = np.random.default_rng(seed)
                self.t, self.correct = 0, 0
                return self._obs(), {}

            def step(self, action: Any):  # type: ignore[override]
                if delay:
                    import time as _t
                    _t.sleep(delay)
                r = float(int(action) == self.target)
                self.t += 1
                self.correct += int(r)
                info = {"progress": 100.0 * self.correct / T}
                return self._obs(), r, self.t >= T, False, info

        return _Env()

    def make_model(self, env: Any, device: str = "cpu") -> Any:
        from stable_baselines3 import PPO

        c = self.config
        return PPO("MlpPolicy", env, n_steps=64, batch_size=int(c.get("batch_size", 32)),
                   n_epochs=int(c.get("n_epochs", 4)), learning_rate=float(c.get("learning_rate", 3e-3)),
                   gamma=0.9, policy_kwargs={"net_arch": list(c.get("net", [16]))}, device=device, verbose=0,
                   seed=int(c.get("seed", 0)))

    def model_metadata(self) -> dict[str, Any]:
        n = int(self.config.get("n_actions", 3))
        return {"action_space": [{"steering_angle": -30.0 + 60.0 * i / max(n - 1, 1), "speed": 1.0} for i in range(n)],
                "action_space_type": "discrete", "sensor": ["FRONT_FACING_CAMERA"],
                "neural_network": "SMOKE_TEST_MLP", "training_algorithm": "clipped_ppo", "version": "5"}

    def evaluate(self, model: Any, version: int, store_dir: str) -> dict[str, Any]:
        env = self.make_env(WorkerSettings(seed=1234))
        returns = []
        for ep in range(int(self.config.get("eval_episodes", 5))):
            obs, _ = env.reset(seed=1234 + ep)
            done, total = False, 0.0
            while not done:
                action, _ = model.predict(obs, deterministic=True)
                obs, r, term, trunc, _ = env.step(action)
                total += r
                done = term or trunc
            returns.append(total)
        import numpy as np
        return {"mean_return": float(np.mean(returns)), "episodes": len(returns)}
