"""bench/bench_distributed.py on the CPU: the benchmark's whole path (LocalCluster with a private
redis-server, a trainer and two worker processes, k_per_worker, the table, the JSON and the Fig. 5
plot) with the tiny SmokeRuntime, so the script that BENCHMARKS.md quotes cannot rot unnoticed."""
import json

import pytest

from bench_scripts import load_bench

from distributed_fixtures import _have_redis



def _bench():
    return load_bench("bench_distributed")


def test_k_per_worker_counts_workers_active_in_the_window():
    from deepracer_agent.distributed.config import DistributedConfig
    from deepracer_agent.distributed.trainer import ACTIVE_WORKER_S, Trainer

    t = object.__new__(Trainer)          # the rule alone: no Redis, no store
    t.cfg = DistributedConfig(num_episodes_between_training=8)
    t.worker_seen = {"a": 100.0, "b": 100.0 - ACTIVE_WORKER_S - 1.0, "c": 99.0}
    assert t.episodes_needed() == 8      # k_per_worker unset: K alone
    assert t.active_workers(now=100.0) == 2
    t.cfg = DistributedConfig(num_episodes_between_training=8, k_per_worker=5)
    import time
    now = time.monotonic()
    t.worker_seen = {f"w{i}": now for i in range(4)}
    assert t.episodes_needed() == 20     # 5 x 4 active workers
    t.worker_seen = {"w0": now}
    assert t.episodes_needed() == 8      # never below K


@pytest.mark.slow
def test_bench_distributed_smoke_two_workers_scaled_k(tmp_path):
    if not _have_redis():
        pytest.fail("redis-server is not installed: run 'make setup' or apt-get install redis-server")
    bench = _bench()
    out = tmp_path / "r.json"
    plot = tmp_path / "p.png"
    rc = bench.main(["--runtime", "smoke", "--workers", "2", "--seconds", "30", "--skip-wire",
                     "--episodes-between-training", "2", "--k-per-worker", "2", "--max-steps", "10",
                     "--epochs", "1", "--json", str(out), "--plot", str(plot)])
    assert rc == 0
    run = json.loads(out.read_text())["runs"][0]
    assert run["workers"] == 2 and run["trainer_rc"] == 0
    assert run["versions"] >= 1 and run["episodes_used"] >= 4
    # K scaled with the two active workers: 2 x 2 episodes per version (at least)
    assert run["k_last"] >= 4
    assert set(run["policy_lag_used"]) <= {"0", "1"}     # nothing older than max_policy_lag was used
    assert plot.is_file() and plot.stat().st_size > 0
