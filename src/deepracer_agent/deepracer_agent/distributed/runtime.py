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
from dataclasses import asdict, dataclass, field
from typing import Any

DEFAULT_RUNTIME = "deepracer_agent.distributed.runtime:DeepRacerRuntime"


class RuntimeError_(ValueError):
    """The runtime named in a training config cannot be loaded; the message says why."""


@dataclass
class WorkerSettings:
    """A worker's own simulation settings; ``None`` keeps the training config's value."""

    worker_id: str = "worker-0"
    track: str | None = None                     # built-in track name or .npy path
    seed: int | None = None
    randomization: dict[str, Any] | None = None  # SimConfig randomization options
    overrides: dict[str, Any] = field(default_factory=dict)   # other training-config keys (dotted)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


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
    try:
        cls = getattr(importlib.import_module(mod_name), cls_name)
    except (ImportError, AttributeError) as exc:
        raise RuntimeError_(f"training_config.json: runtime {target!r} cannot be loaded: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, Runtime)):
        raise RuntimeError_(f"training_config.json: runtime {target!r} is not a Runtime subclass")
    return cls(apply_overrides(dict(spec.get("config") or {}), overrides or {}))


class DeepRacerRuntime(Runtime):
    """The real thing: ``DeepRacerEnv`` (one car, the embedded simulator) and SB3 PPO with the
    DeepRacer named network (:mod:`deepracer_agent.networks`), separate policy and value nets.

    Training-config keys (all optional; DeepRacer's names and defaults):
    ``track`` (built-in name or .npy), ``model_metadata`` (path or dict; default the paper's 10
    actions), ``reward`` (file path or example name), ``episode`` (EpisodeConfig fields), ``sim``
    (SimConfig fields, randomization under ``sim.randomization``), ``frame_stack`` (1),
    ``network`` ({dropout, batch_norm, l2_weight_decay}), ``hyperparameters`` ({batch_size: 64,
    num_epochs: 10, lr: 3e-4, beta_entropy: 0.01, discount_factor: 0.999, gae_lambda: 0.95,
    clip: 0.2}), ``seed`` (0), ``evaluation`` (options of the robust evaluation).
    A worker's ``track``, ``seed`` and ``randomization`` replace the config's for that worker.
    """

    HYPER_DEFAULTS = {"batch_size": 64, "num_epochs": 10, "lr": 3e-4, "beta_entropy": 0.01,
                      "discount_factor": 0.999, "gae_lambda": 0.95, "clip": 0.2}

    def _metadata(self) -> Any:
        from deepracer_inference.metadata import ModelMetadata

        md = self.config.get("model_metadata")
        if md is None:
            return ModelMetadata.default()
        return ModelMetadata.from_dict(md) if isinstance(md, dict) else ModelMetadata.load(md)

    def make_env(self, worker: WorkerSettings | None = None) -> Any:
        from deepracer_agent.env import DeepRacerEnv

        c = self.config
        sim = dict(c.get("sim") or {})
        if worker is not None and worker.randomization is not None:
            sim["randomization"] = worker.randomization
        track = worker.track if worker is not None and worker.track else c.get("track")
        seed = worker.seed if worker is not None and worker.seed is not None else c.get("seed", 0)
        return DeepRacerEnv(track=track, metadata=self._metadata(), reward=c.get("reward"),
                            episode=c.get("episode"), sim_config=sim, frame_stack=int(c.get("frame_stack", 1)),
                            seed=seed)

    def make_model(self, env: Any, device: str = "cpu") -> Any:
        from stable_baselines3 import PPO

        from deepracer_agent.networks import NetworkOptions, policy_kwargs_for

        unknown = set(self.config.get("hyperparameters") or {}) - set(self.HYPER_DEFAULTS)
        if unknown:
            raise RuntimeError_(f"training config 'hyperparameters': unknown key(s) {sorted(unknown)}")
        h = {**self.HYPER_DEFAULTS, **(self.config.get("hyperparameters") or {})}
        net = self.config.get("network") or {}
        kwargs = policy_kwargs_for(self._metadata(), NetworkOptions(**net))
        return PPO("CnnPolicy", env, n_steps=64, batch_size=int(h["batch_size"]), n_epochs=int(h["num_epochs"]),
                   learning_rate=float(h["lr"]), ent_coef=float(h["beta_entropy"]), gamma=float(h["discount_factor"]),
                   gae_lambda=float(h["gae_lambda"]), clip_range=float(h["clip"]), policy_kwargs=kwargs,
                   device=device, verbose=0, seed=int(self.config.get("seed", 0)))

    def model_metadata(self) -> dict[str, Any]:
        return self._metadata().to_dict()

    def evaluate(self, model: Any, version: int, store_dir: str) -> dict[str, Any]:
        try:
            evaluate = importlib.import_module("deepracer_agent.evaluate")
        except ImportError as exc:
            raise RuntimeError_(f"the evaluator needs deepracer_agent.evaluate: {exc}") from exc
        return _robust_evaluation(evaluate, self, model, version, store_dir)


def _robust_evaluation(evaluate: Any, runtime: "DeepRacerRuntime", model: Any, version: int, out_dir: str) -> dict[str, Any]:
    """Adapter onto :mod:`deepracer_agent.evaluate` (filled in once that module's API exists)."""
    raise RuntimeError_("deepracer_agent.evaluate has no robust-evaluation entry point the evaluator knows")


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
