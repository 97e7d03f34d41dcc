"""The many-machines claim, for real: trainer, two workers and an evaluator as separate processes
in separate working directories that share NOTHING but a real redis-server (with a password) and a
real moto S3 server. Workers and the evaluator get only flags (Redis URL, S3 store + endpoint) and
environment (password, S3 credentials): no config file, no shared folder. Their per-worker settings
come from the trainer's config through the store. Retention keeps the store small. SmokeRuntime:
seconds."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

from deepracer_agent.distributed.model_store import open_store
from distributed_fixtures import redis_server, s3_server  # noqa: F401 - fixtures

SMOKE = "deepracer_agent.distributed.runtime:SmokeRuntime"
STORE = "s3://isolated-run/models"


def _spawn(verb, cwd, args, env):
    cwd.mkdir(parents=True, exist_ok=True)
    log = open(cwd / f"{verb}.log", "wb")
    return subprocess.Popen([sys.executable, "-m", "deepracer_common.cli", verb, *args], cwd=cwd, env=env,
                            stdout=log, stderr=subprocess.STDOUT)


def test_roles_in_separate_folders_share_only_redis_and_s3(tmp_path, redis_server, s3_server):
    env = dict(os.environ, REDIS_PASSWORD=redis_server.password, PYTHONUNBUFFERED="1")
    common = ["--redis-url", f"redis://127.0.0.1:{redis_server.port}/0", "--store", STORE,
              "--store-endpoint-url", s3_server]
    trainer_dir, w_dirs, eval_dir = tmp_path / "host-trainer", [tmp_path / "host-w0", tmp_path / "host-w1"], tmp_path / "host-eval"
    trainer_dir.mkdir()
    (trainer_dir / "decoupled.yaml").write_text(yaml.safe_dump({
        "runtime": SMOKE, "training": {"episode_steps": 6, "step_delay_s": 0.002},
        "num_episodes_between_training": 4, "max_versions": 6, "keep_versions": 3, "keep_best_versions": 1,
        "workers": [{"worker_id": "w-oval", "seed": 11}, {"worker_id": "w-bowtie", "seed": 22}]}))
    procs = [_spawn("trainer", trainer_dir, ["--config", "decoupled.yaml", *common, "--run-dir", "run"], env)]
    procs += [_spawn("worker", d, ["--index", str(i), *common], env) for i, d in enumerate(w_dirs)]
    procs.append(_spawn("evaluator", eval_dir, [*common], env))
    try:
        assert procs[0].wait(timeout=150) == 0, (trainer_dir / "trainer.log").read_text()[-2000:]
        time.sleep(1.0)
    finally:
        for p in procs[1:]:
            p.terminate()
        for p in procs[1:]:
            p.wait(timeout=30)
    store = open_store(STORE, endpoint_url=s3_server)
    assert store.latest_pointer() == 6
    kept = store.versions()
    assert len(kept) <= 3 + 1 + 2 and 6 in kept and 0 not in kept, kept   # newest 3 + best 1 (+ leased)
    rows = [json.loads(l) for l in (trainer_dir / "run" / "trainer_metrics.jsonl").read_text().splitlines()]
    # both workers (named by the trainer's config, which they never read) contributed
    assert set().union(*[r["workers"] for r in rows]) == {"w-oval", "w-bowtie"}
    for d in w_dirs:   # each worker wrote only into its own folder
        assert (d / "runs" / "decoupled").is_dir()
        assert "settings from the store" in (d / "worker.log").read_text()
    assert not (trainer_dir / "runs").exists()
    assert (eval_dir / "runs" / "decoupled" / "evaluations.jsonl").is_file()
    assert store.get_record("evaluations/v000006.json") is not None or \
        any(store.get_record(f"evaluations/v{v:06d}.json") for v in kept)
    logs = "".join(p.read_text() for p in tmp_path.glob("host-*/*.log"))
    assert redis_server.password not in logs and "testing-secret-do-not-log" not in logs
    assert Path(trainer_dir / "run").is_dir()
