"""Decoupled SAC: a worker's episodes over a REAL redis-server feed the trainer's replay buffer, the
trainer's gradient steps change the published weights; episodes -> transitions (no false terminals)."""
import json
import threading

import numpy as np
import pytest
from deepracer_agent.distributed import sac as dsac
from deepracer_agent.distributed.config import DistributedConfig, StopFlag
from deepracer_agent.distributed.model_store import open_store
from deepracer_agent.distributed.trainer import Trainer
from deepracer_agent.distributed.wire import EpisodeRecord
from deepracer_agent.distributed.worker import Worker
from distributed_fixtures import redis_server  # noqa: F401 - fixture

SAC_META = {"action_space_type": "continuous", "training_algorithm": "sac",
            "action_space": {"steering_angle": {"low": -30, "high": 30}, "speed": {"low": 0.5, "high": 1.0}},
            "neural_network": "DEEP_CONVOLUTIONAL_NETWORK_DEEP"}
TRAINING = {"model_metadata": SAC_META, "episode": {"max_steps": 8},
            "hyperparameters": {"batch_size": 8}, "sac": {"buffer_size": 500, "learning_starts": 8}}


def _tiny_sac_model():
    from deepracer_agent.config import TrainConfig
    from deepracer_agent.distributed.runtime import DeepRacerRuntime

    rt = DeepRacerRuntime(TrainConfig.from_dict(TRAINING).to_dict())
    return rt.make_model(rt.make_env(None))


def _record(steps, terminated):
    rng = np.random.default_rng(steps)
    return EpisodeRecord("w", f"e{steps}{terminated}", 0, {
        "obs": rng.integers(0, 256, (steps, 1, 120, 160), dtype=np.uint8),
        "actions": rng.uniform(-1, 1, (steps, 2)).astype(np.float32),
        "rewards": np.arange(steps, dtype=np.float32), "values": np.zeros(steps, np.float32),
        "log_probs": np.zeros(steps, np.float32)}, terminated=terminated)


@pytest.mark.slow   # builds two SAC models (6 DeepRacer CNNs): > 20 s on the loaded 2-core box
def test_episodes_become_transitions_without_false_terminals():
    model = _tiny_sac_model()
    term, trunc = _record(5, True), _record(4, False)
    assert dsac.add_episode(model, term) == 5 and dsac.add_episode(model, trunc) == 3   # truncated: last dropped
    buf = model.replay_buffer
    assert buf.size() == 8
    assert buf.dones[:8, 0].tolist() == [0, 0, 0, 0, 1, 0, 0, 0]
    assert np.array_equal(buf.next_observations[1, 0], term.arrays["obs"][2])          # obs[t] -> obs[t+1]
    assert buf.rewards[:5, 0].tolist() == [0, 1, 2, 3, 4]
    assert np.allclose(buf.actions[5:8, 0], trunc.arrays["actions"][:3])
    before = {k: v.clone() for k, v in model.policy.actor.state_dict().items()}
    stats = dsac.sac_update(model, [_record(6, True)])
    assert stats["replay/size"] == 14 and stats["train/gradient_steps"] == 6 and "train/critic_loss" in stats
    assert any(not np.allclose(before[k].numpy(), v.numpy()) for k, v in model.policy.actor.state_dict().items())
    arrays, groups = dsac.optimizer_objects(model)
    assert {k.split(":")[0] for k in arrays} == {"actor", "critic"}
    dsac.restore_optimizers(_tiny_sac_model(), arrays, groups)    # fits a fresh model of the same config


@pytest.mark.slow   # the embedded simulator + three DeepRacer CNNs in a trainer and a worker (~30 s)
def test_sac_experience_moves_from_a_worker_to_the_trainer(tmp_path, redis_server, monkeypatch):
    monkeypatch.setenv("TEST_REDIS_PW", redis_server.password)
    cfg = DistributedConfig(redis_url=f"redis://127.0.0.1:{redis_server.port}/0", redis_password_env="TEST_REDIS_PW",
                            store=str(tmp_path / "store"), run_dir=str(tmp_path / "run"),
                            runtime="deepracer_agent.distributed.runtime:DeepRacerRuntime", training=TRAINING,
                            num_episodes_between_training=2, max_versions=1, max_backlog=50)
    trainer = Trainer(cfg)
    t = threading.Thread(target=trainer.run, daemon=True)
    t.start()
    stop = StopFlag(install_signals=False)
    worker = Worker(cfg, cfg.worker_settings(0), stop, max_episodes=4)
    w = threading.Thread(target=worker.run, daemon=True)
    w.start()
    t.join(timeout=180)
    stop.set()
    w.join(timeout=30)
    assert not t.is_alive()
    store = open_store(cfg.store)
    v0, v1 = store.load(0), store.load(1)
    assert v1.json("model_metadata.json")["training_algorithm"] == "sac"
    # both Adam states, in the trainer's side record of the newest version (not in the version itself)
    from deepracer_agent.distributed.model_store import load_npz
    from deepracer_agent.distributed.trainer import optimizer_key
    assert {k.split(":")[0] for k in load_npz(store.get_record(optimizer_key(1)))} == {"actor", "critic"}
    p0, p1 = v0.arrays("policy.npz"), v1.arrays("policy.npz")
    changed = [k for k in p0 if k.startswith("actor.") and not np.allclose(p0[k], p1[k])]
    assert changed, "the trainer's SAC gradient steps did not change the actor"
    assert trainer.model.replay_buffer.size() >= 8      # the worker's transitions reached the buffer
    rows = [json.loads(line) for line in (tmp_path / "run" / "trainer_metrics.jsonl").read_text().splitlines()]
    assert rows[0]["episodes"] >= 2
