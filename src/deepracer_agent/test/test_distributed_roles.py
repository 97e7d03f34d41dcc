"""Trainer, workers and evaluator against a real redis-server and a real moto S3 server, with the
tiny SmokeRuntime (fast stand-in env + MLP) so each test takes seconds."""
import json
import threading

import pytest

from deepracer_agent.distributed import ppo, wire
from deepracer_agent.distributed.config import ConfigError, DistributedConfig, StopFlag, load_config
from deepracer_agent.distributed.evaluator import Evaluator
from deepracer_agent.distributed.model_store import open_store, version_prefix
from deepracer_agent.distributed.runtime import SmokeRuntime, WorkerSettings
from deepracer_agent.distributed.trainer import Trainer
from deepracer_agent.distributed.transport import ExperienceStream
from deepracer_agent.distributed.worker import Worker
from distributed_fixtures import redis_server, s3_server  # noqa: F401 - fixtures

SMOKE = "deepracer_agent.distributed.runtime:SmokeRuntime"


def make_cfg(tmp_path, redis_server, monkeypatch, store=None, **kw):
    monkeypatch.setenv("TEST_REDIS_PW", redis_server.password)
    base = dict(redis_url=f"redis://127.0.0.1:{redis_server.port}/0", redis_password_env="TEST_REDIS_PW",
                store=store or str(tmp_path / "store"), run_dir=str(tmp_path / "run"), runtime=SMOKE,
                training={"episode_steps": 6}, num_episodes_between_training=4, max_backlog=50)
    base.update(kw)
    return DistributedConfig(**base)


def run_in_thread(obj):
    t = threading.Thread(target=obj.run, daemon=True)
    t.start()
    return t


def test_trainer_and_two_workers_with_s3_store(tmp_path, redis_server, s3_server, monkeypatch):
    cfg = make_cfg(tmp_path, redis_server, monkeypatch, store="s3://deepracer-models/run-a",
                   store_endpoint_url=s3_server, max_versions=3,
                   workers=[{"track": "oval", "seed": 1}, {"track": "bowtie", "seed": 2}])
    trainer = Trainer(cfg)
    t_thread = run_in_thread(trainer)
    stop = StopFlag(install_signals=False)
    workers = [Worker(cfg, cfg.worker_settings(i), stop) for i in range(2)]
    w_threads = [run_in_thread(w) for w in workers]
    t_thread.join(timeout=60)
    stop.set()
    for t in w_threads:
        t.join(timeout=10)
    assert not t_thread.is_alive(), "trainer did not reach max_versions"
    store = open_store(cfg.store, endpoint_url=s3_server)
    assert store.versions() == [0, 1, 2, 3] and store.latest_pointer() == 3
    rows = [json.loads(l) for l in (tmp_path / "run" / "trainer_metrics.jsonl").read_text().splitlines()]
    assert [r["version"] for r in rows] == [1, 2, 3]
    assert all(r["episodes"] >= 4 for r in rows)
    # per-worker settings travel with the episodes; both workers contributed
    assert set().union(*[r["workers"] for r in rows]) == {"worker-0", "worker-1"}
    state = store.load(3).json("trainer_state.json")
    assert state["episodes_total"] == sum(r["episodes"] for r in rows)
    assert len(set(state["consumed_episode_ids"])) == state["episodes_total"]   # each counted once
    assert workers[0].follower.version >= 2 and workers[0].settings.track == "oval"


def test_policy_lag_rule_drops_old_episodes(tmp_path, redis_server, monkeypatch):
    cfg = make_cfg(tmp_path, redis_server, monkeypatch, max_policy_lag=1, num_episodes_between_training=2)
    trainer = Trainer(cfg)
    trainer.restore_or_init()                       # publishes version 0
    rt = SmokeRuntime({"episode_steps": 6})
    env = rt.make_env(WorkerSettings(seed=0))
    from deepracer_agent.distributed.worker import run_episode
    push = ExperienceStream(cfg.redis_settings(), consumer="w")

    def send(eid, version):
        arrays, term, lv, meta = run_episode(env, ppo.Actor(trainer.model.policy), 100, StopFlag(False))
        rec = wire.EpisodeRecord("w", eid, version, arrays, term, lv, meta)
        push.push(eid, wire.encode(rec))

    for v in range(2):        # versions 1, 2 from fresh episodes
        send(f"a{v}", trainer.version)
        send(f"b{v}", trainer.version)
        for e in trainer.stream.read(block_ms=200):
            trainer._accept(e)
        trainer.update()
    assert trainer.version == 2
    send("lag1", 1)            # 2 - 1 = 1 <= max_policy_lag: kept
    send("lag2", 0)            # 2 - 0 = 2 > 1: dropped
    send("a0", 2)              # an id already used in version 1: duplicate
    for e in trainer.stream.read(block_ms=200):
        trainer._accept(e)
    assert list(trainer.buffer) == ["lag1"]
    assert trainer.counts["dropped_stale"] == 1 and trainer.counts["dropped_duplicate"] == 1
    assert trainer.stream.pending_count() == 1    # only the kept one awaits its ACK


def test_corrupt_stream_entry_is_dropped_not_fatal(tmp_path, redis_server, monkeypatch):
    cfg = make_cfg(tmp_path, redis_server, monkeypatch)
    trainer = Trainer(cfg)
    trainer.restore_or_init()
    ExperienceStream(cfg.redis_settings()).push("junk", b"DRX1\xff\xff\xff\xffnot a record")
    for e in trainer.stream.read(block_ms=200):
        trainer._accept(e)
    assert trainer.counts["dropped_corrupt"] == 1 and not trainer.buffer


def test_evaluator_scores_each_version_and_skips_corrupt(tmp_path, redis_server, monkeypatch):
    cfg = make_cfg(tmp_path, redis_server, monkeypatch)
    trainer = Trainer(cfg)
    trainer.restore_or_init()
    trainer._publish([])                             # version 1
    store = trainer.store
    data = bytearray(store._get(version_prefix(1) + "policy.npz"))
    data[-100] ^= 0xFF
    store._put(version_prefix(1) + "policy.npz", bytes(data))
    trainer._publish([])                             # version 2
    ev = Evaluator(cfg, max_evaluations=2)
    assert ev.run() == 0
    rows = [json.loads(l) for l in (tmp_path / "run" / "evaluations.jsonl").read_text().splitlines()]
    assert [r["version"] for r in rows] == [0, 2] and all("mean_return" in r for r in rows)
    assert json.loads(store.get_record("evaluations/v000002.json"))["version"] == 2


def test_config_errors_name_the_key(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("num_episodes_between_trainin: 5\n")
    with pytest.raises(ConfigError, match=r"^num_episodes_between_trainin: unknown key \(did you mean "
                                          r"'num_episodes_between_training'\?\).*\(in .*c.yaml\)$"):
        load_config(p)
    p.write_text("max_policy_lag: -1\n")
    with pytest.raises(ConfigError, match=r"^max_policy_lag: must be >= 0, got -1"):
        load_config(p)
    p.write_text("redis_url: redis://user:hunter2@host:6379/0\n")
    with pytest.raises(ConfigError, match="must not contain a password") as exc:
        load_config(p)
    assert "hunter2" not in str(exc.value)
    p.write_text("num_episodes_between_training: ten\n")
    with pytest.raises(ConfigError, match=r"^num_episodes_between_training: expected an integer, got 'ten'"):
        load_config(p)
    p.write_text("workers:\n  - {worker_id: a, seeed: 1}\n")
    with pytest.raises(ConfigError, match=r"^workers\[0\].seeed: unknown key \(did you mean 'seed'\?\)"):
        load_config(p)


def test_numbers_in_any_yaml_form(tmp_path):
    # the same schema as every other config: 6e2 is 600 s here too, not the string '6e2'
    p = tmp_path / "c.yaml"
    p.write_text("max_wall_time_s: 6e2\nnum_episodes_between_training: 2e1\nmax_backlog: 1_000\n"
                 "training:\n  hyperparameters:\n    lr: 3e-1\n")
    cfg = load_config(p)
    assert cfg.max_wall_time_s == 600.0 and isinstance(cfg.max_wall_time_s, float)
    assert cfg.num_episodes_between_training == 20 and cfg.max_backlog == 1000
    assert cfg.training["hyperparameters"]["lr"] == 0.3      # the published training config: a number
    assert load_config(None, {"max_wall_time_s": 6e2}).max_wall_time_s == 600.0
    assert load_config(None, {"max_wall_time_s": "6e2"}).max_wall_time_s == 600.0


@pytest.mark.slow
def test_real_deepracer_env_end_to_end(tmp_path, redis_server, monkeypatch):
    """The real runtime: DeepRacerEnv (embedded simulator) + the DeepRacer CNN, two workers on
    different tracks, one PPO update published and loaded back. Tiny: 8-step episodes, 1 epoch."""
    pytest.importorskip("deepracer_sim.batch_sim")
    cfg = make_cfg(tmp_path, redis_server, monkeypatch, runtime="deepracer_agent.distributed.runtime:DeepRacerRuntime",
                   training={"episode": {"max_steps": 8}, "hyperparameters": {"num_epochs": 1, "batch_size": 16}},
                   num_episodes_between_training=2, max_versions=1,
                   workers=[{"seed": 3}, {"track": "oval", "seed": 4}])
    trainer = Trainer(cfg)
    t_thread = run_in_thread(trainer)
    stop = StopFlag(install_signals=False)
    workers = [Worker(cfg, cfg.worker_settings(i), stop, max_episodes=2) for i in range(2)]
    w_threads = [run_in_thread(w) for w in workers]
    t_thread.join(timeout=120)
    stop.set()
    for t in w_threads:
        t.join(timeout=30)
    assert not t_thread.is_alive()
    store = open_store(cfg.store)
    mv = store.load(1)
    assert mv.json("model_metadata.json")["action_space_type"] == "discrete"
    waiting = ExperienceStream(cfg.redis_settings()).r.xrange("deepracer:experience")
    for _, fields in waiting:   # episodes still queued: camera frames in the policy's layout
        obs = next(a for a in wire.decode_header(fields[b"data"])[0]["arrays"] if a["name"] == "obs")
        assert obs["shape"][1:] == [1, 120, 160] and obs["dtype"] == "uint8" and obs["compression"] == "zlib"
    row = metrics(tmp_path)[0]
    assert row["episodes"] >= 2 and row["mean_progress"] is not None
    # the worker's env really is its own track
    assert workers[1].follower.env.batch.track.name == cfg.workers[1]["track"]
    # one simtrace per worker in DRfC's multi-worker layout, read by deepracer-utils
    run = tmp_path / "run"
    for i, w in enumerate(workers):
        files = sorted((run / str(i) / "training-simtrace").glob("*-iteration.csv"))
        assert files and files[0].name == "0-iteration.csv"
        assert len(json.loads((run / "metrics" / ("TrainingMetrics.json" if i == 0 else f"TrainingMetrics_{i}.json"))
                              .read_text())["metrics"]) == w.episodes
    dr_logs = pytest.importorskip("deepracer.logs")
    log = dr_logs.DeepRacerLog(str(run))
    assert log.fh.type.name == "DRFC_MODEL_MULTIPLE_WORKERS"
    log.load_training_trace(ignore_metadata=True)
    df = log.dataframe()
    assert sorted(df["worker"].unique()) == [0, 1]
    assert df.groupby(["worker", "episode"]).ngroups == sum(w.episodes for w in workers)


def metrics(tmp_path):
    return [json.loads(l) for l in (tmp_path / "run" / "trainer_metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_real_runtime_evaluator_uses_robust_evaluation(tmp_path, redis_server, monkeypatch):
    pytest.importorskip("deepracer_sim.batch_sim")
    cfg = make_cfg(tmp_path, redis_server, monkeypatch, runtime="deepracer_agent.distributed.runtime:DeepRacerRuntime",
                   training={"evaluation": {"trials": 2, "max_steps": 10}})
    trainer = Trainer(cfg)
    trainer.restore_or_init()                       # version 0 with the real CNN
    assert Evaluator(cfg, max_evaluations=1).run() == 0
    row = json.loads((tmp_path / "run" / "evaluations.jsonl").read_text().splitlines()[0])
    assert row["version"] == 0 and row["trials"] == 2 and 0.0 <= row["success_rate"] <= 1.0
    # the evaluation's simtrace and metrics JSON, and the trainer's DRfC model files
    run = tmp_path / "run"
    (folder,) = run.glob("evaluation-*")
    assert json.loads((folder / "info.json").read_text())["policy_version"] == 0
    metrics_rows = json.loads((run / "metrics" / "evaluation" / f"{folder.name}.json").read_text())["metrics"]
    assert [m["trial"] for m in metrics_rows] == [1, 2]
    assert json.loads((run / "model" / "model_metadata.json").read_text())["action_space_type"] == "discrete"
    dr_logs = pytest.importorskip("deepracer.logs")
    log = dr_logs.DeepRacerLog(str(run))
    log.load_evaluation_trace()
    last = log.dataframe().groupby("episode").last()
    assert len(last) == 2
    assert list(last["progress"].astype(int)) == [m["completion_percentage"] for m in metrics_rows]


def test_run_local_accepts_the_train_config(tmp_path):
    from deepracer_agent.config import TrainConfig
    from deepracer_agent.distributed.local import as_distributed_config
    tc = TrainConfig.from_dict({"hyperparameters": {"num_episodes_between_training": 7}, "device": "cpu",
                                "stop": {"max_wall_time_s": 30}})
    dc = as_distributed_config(tc, run_dir=tmp_path / "r")
    assert dc.num_episodes_between_training == 7 and dc.max_wall_time_s == 30
    assert dc.store == str(tmp_path / "r" / "store") and dc.training["hyperparameters"]["num_episodes_between_training"] == 7
    from deepracer_agent.distributed.runtime import DeepRacerRuntime
    assert DeepRacerRuntime(dc.training).cfg.hyperparameters.num_episodes_between_training == 7
