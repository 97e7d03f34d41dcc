"""A real decoupled run (DeepRacer runtime, real redis-server, local model store) leaves the run
folder `deepracer train` leaves, and `deepracer runs`, `evaluate` and `export` work on it unchanged.
(`deepracer transfer` reads the same checkpoints/selection; it was run by hand on a CLI decoupled
run, see docs/DECOUPLED.md.)"""
import json
import threading

import pytest

from deepracer_agent.distributed.config import DistributedConfig, StopFlag
from deepracer_agent.distributed.model_store import open_store
from deepracer_agent.distributed.trainer import Trainer
from deepracer_agent.distributed.worker import Worker
from distributed_fixtures import redis_server  # noqa: F401 - fixture


@pytest.mark.slow
def test_decoupled_run_folder_works_with_the_verbs(tmp_path, redis_server, monkeypatch, capsys):
    pytest.importorskip("deepracer_sim.batch_sim")
    monkeypatch.setenv("RF_REDIS_PW", redis_server.password)
    run = tmp_path / "run"
    cfg = DistributedConfig(
        redis_url=f"redis://127.0.0.1:{redis_server.port}/0", redis_password_env="RF_REDIS_PW",
        store=str(tmp_path / "store"), run_dir=str(run),
        runtime="deepracer_agent.distributed.runtime:DeepRacerRuntime",
        training={"episode": {"max_steps": 8}, "hyperparameters": {"num_epochs": 1, "batch_size": 16}},
        num_episodes_between_training=2, max_versions=4, keep_versions=2, keep_best_versions=0,
        workers=[{"seed": 3, "speed_scale": 0.8}, {"track": "oval", "seed": 4, "randomization": {"lighting": {"enabled": True}}}])
    trainer = Trainer(cfg)
    tt = threading.Thread(target=trainer.run, daemon=True)
    tt.start()
    stop = StopFlag(install_signals=False)
    workers = [Worker(cfg, cfg.worker_settings(i), stop) for i in range(2)]
    wts = [threading.Thread(target=w.run, daemon=True) for w in workers]
    for t in wts:
        t.start()
    tt.join(timeout=240)
    stop.set()
    for t in wts:
        t.join(timeout=30)
    assert not tt.is_alive(), "trainer did not reach max_versions"

    # the embedded run folder's files
    for name in ("config.resolved.yaml", "model_metadata.json", "metrics.csv", "metrics.jsonl",
                 "training_progress.png", "status.json", "decoupled.json"):
        assert (run / name).is_file(), name
    status = json.loads((run / "status.json").read_text())
    assert status["state"] == "finished" and status["mode"] == "decoupled" and status["iteration"] == 4
    rows = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in rows] == [1, 2, 3, 4]
    assert all(r["episodes"] >= 2 and set(r["worker_steps_per_s"]) <= {"worker-0", "worker-1"} for r in rows)
    assert rows[-1]["steps"] > rows[0]["steps"] and 0 < rows[-1]["utilisation"] < 1
    out = capsys.readouterr().out
    assert "version    4" in out and "steps/s per worker" in out       # one progress line per version
    ckpts = sorted(p.name for p in (run / "checkpoints").glob("iter_*.zip"))
    assert ckpts == [f"iter_{v:06d}.zip" for v in range(1, 5)]
    # per-worker settings in the run's metadata
    meta = json.loads((run / "decoupled.json").read_text())
    assert meta["workers"][0]["speed_scale"] == 0.8 and meta["workers"][1]["track"] == "oval"
    assert meta["workers"][1]["randomization"] == {"lighting": {"enabled": True}}
    assert "password" not in json.dumps(meta).lower() or "redis_password_env" in json.dumps(meta)
    # retention: newest 2 (min lag+2 = 3) kept, the rest deleted; the optimizer record only for the newest
    store = open_store(cfg.store)
    assert store.versions() == [2, 3, 4]
    assert store.get_record("trainer/v000004/optimizer.npz") is not None
    assert store.get_record("trainer/v000003/optimizer.npz") is None
    # a version no longer stores the Adam moments nor the shared feature extractor twice
    mv = store.load(4)
    assert "optimizer.npz" not in mv.objects
    assert not any(k.startswith("pi_features_extractor.") for k in mv.arrays("policy.npz"))
    # the verbs, unchanged
    from deepracer_agent import evaluate, export, runs

    s = runs.summarize_run(run)
    assert s.iterations == 4 and s.state == "finished" and s.track == "reinvent2018_like"
    assert evaluate.main([str(run), "--trials", "1", "--max-steps", "10", "--workers", "1", "--no-naive"]) == 0
    assert (run / "evaluation.csv").is_file() and (run / "selected_checkpoint.json").is_file()
    assert export.main([str(run / "checkpoints" / "iter_000004.zip"), "--out", str(tmp_path / "artifact")]) == 0
    assert (tmp_path / "artifact").is_dir()
