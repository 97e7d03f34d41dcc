"""bench/bench_training.py's multi-seed summary (``competence --seeds``): the median and worst that
BENCHMARKS.md records for issue 18's "time to competence over 5 seeds" (pure logic, no training)."""
from types import SimpleNamespace


from bench_scripts import load_bench



def _bench():
    return load_bench("bench_training")


def _row(seed, ok, steps, wall):
    return {"seed": seed, "competent": ok, "steps": steps, "wall_s": wall}


def test_median_and_worst_over_competent_seeds():
    b = _bench()
    rows = [_row(0, True, 3072, 146.0), _row(1, True, 5120, 240.0), _row(2, True, 2560, 120.0),
            _row(3, True, 4096, 200.0), _row(4, True, 10240, 500.0)]
    s = b.seed_summary(rows)
    assert (s["seeds"], s["competent"]) == (5, 5)
    assert (s["median_steps"], s["median_wall_s"]) == (4096, 200.0)
    assert (s["worst_steps"], s["worst_wall_s"]) == (10240, 500.0)


def test_a_seed_that_never_got_there_ranks_last_and_leaves_no_worst():
    b = _bench()
    rows = [_row(0, True, 3072, 146.0), _row(1, False, 2048, 1500.0), _row(2, True, 4096, 200.0)]
    s = b.seed_summary(rows)
    assert s["median_steps"] == 4096          # the failed seed counts as worse than 4,096, not as 2,048
    assert s["worst_steps"] is None and s["worst_wall_s"] is None
    s = b.seed_summary([_row(0, False, 2048, 1500.0), _row(1, True, 3072, 100.0)])
    assert s["median_steps"] is None          # half or more failed: no competent median


def test_competent_reads_the_trainers_stop_reason():
    b = _bench()
    assert b.competent(SimpleNamespace(stop_reason="robust evaluation reached 90% (target 90%)"))
    assert not b.competent(SimpleNamespace(stop_reason="max_wall_time_s 600 reached"))
