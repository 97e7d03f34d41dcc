"""The checkpoint-selection rule on synthetic score sequences."""
import json

import pytest

from deepracer_agent.selection import BEST_ZIP, SELECTED_JSON, CheckpointScore, select_checkpoint, write_selection


def scores(rates, completion=None, lap=None):
    return [CheckpointScore(f"iter_{i + 1:06d}.zip", i + 1, r,
                            mean_completion=(completion or [100 * r] * len(rates))[i],
                            mean_lap_time_s=(lap or [None] * len(rates))[i]) for i, r in enumerate(rates)]


def test_a_lucky_spike_loses_to_a_consistent_run():
    seq = scores([0.2, 1.0, 0.3, 0.8, 0.9, 0.9, 0.8])
    sel = select_checkpoint(seq, window=3)
    assert sel.iteration in (5, 6)               # inside the consistent tail, never the spike at 2
    assert sel.window_min_success == pytest.approx(0.8)
    assert sel.window == ("iter_000005.zip", "iter_000006.zip", "iter_000007.zip")
    # the plain argmax would have picked the spike
    assert max(seq, key=lambda s: s.success_rate).iteration == 2


def test_ties_break_on_completion_then_lap_time_then_later():
    seq = scores([0.9, 0.9, 0.9], completion=[95.0, 97.0, 97.0], lap=[12.0, 11.0, 11.5])
    assert select_checkpoint(seq, window=3).iteration == 2      # same success: completion, then lap time
    seq = scores([0.9, 0.9, 0.9], completion=[97.0] * 3, lap=[11.0] * 3)
    assert select_checkpoint(seq, window=3).iteration == 3      # all equal: the later one


def test_equal_windows_prefer_the_later_one_and_order_is_by_iteration():
    seq = scores([1.0, 1.0, 0.0, 1.0, 1.0])
    assert select_checkpoint(list(reversed(seq)), window=2).iteration == 5


def test_short_sequences_and_window_one():
    assert select_checkpoint(scores([0.4, 0.7]), window=5).iteration == 2   # window shrinks to the sequence
    assert select_checkpoint(scores([0.1, 1.0, 0.1]), window=1).iteration == 2
    with pytest.raises(ValueError):
        select_checkpoint([], window=3)


def test_write_selection_copies_best_zip_atomically(tmp_path):
    ck = tmp_path / "checkpoints"
    ck.mkdir()
    for i in (1, 2, 3):
        (ck / f"iter_{i:06d}.zip").write_bytes(bytes([i]) * 10)
    seq = [CheckpointScore(str(ck / f"iter_{i:06d}.zip"), i, r) for i, r in ((1, 0.5), (2, 0.9), (3, 0.9))]
    sel = select_checkpoint(seq, window=2)
    write_selection(tmp_path, sel)
    data = json.loads((tmp_path / SELECTED_JSON).read_text())
    assert data["iteration"] == 3 and data["path"] == str(ck / "iter_000003.zip")
    assert (tmp_path / BEST_ZIP).read_bytes() == bytes([3]) * 10
    assert not list(tmp_path.glob(".*tmp*"))
