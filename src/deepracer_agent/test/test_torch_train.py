"""The GPU trainer (device=cuda) exercised on torch's CPU backend (device=cpu-torch), tiny sizes."""
import csv
import json

import numpy as np
import pytest


from deepracer_agent.config import load_config
from deepracer_agent.train import TrainError, complete_checkpoints, train

TINY = ["device=cpu-torch", "n_envs=2", "ppo.n_steps=6", "hyperparameters.num_epochs=1",
        "hyperparameters.batch_size=4", "stop.max_iterations=2", "episode.max_steps=5"]


@pytest.mark.slow
def test_cpu_torch_run_folder_loads_in_evaluate_and_export_path(tmp_path):
    from deepracer_agent.checkpoint import make_policy, read

    run = tmp_path / "run"
    result = train(load_config(None, TINY), run, progress_bar=False, log=None)
    assert result.iterations == 2 and result.steps == 2 * 2 * 6
    ckpts = complete_checkpoints(run)
    assert [p.name for p, _ in ckpts] == ["iter_000001.zip", "iter_000002.zip"]
    rows = list(csv.DictReader(open(run / "metrics.csv")))
    assert [int(r["iteration"]) for r in rows] == [1, 2]
    assert int(rows[-1]["episodes_total"]) >= 2          # 5-step episodes ended and were counted
    assert json.loads((run / "status.json").read_text())["state"] == "finished"
    ck = read(ckpts[-1][0])
    assert ck.num_timesteps == 24
    policy = make_policy(ckpts[-1][0])                   # what evaluate / export rebuild
    obs = np.zeros((1, 120, 160), np.uint8)
    action, _ = policy.predict(obs, deterministic=True)
    assert 0 <= int(action) < 10


def test_custom_reward_file_is_refused_with_one_line(tmp_path):
    cfg = load_config(None, TINY + ["reward_file=progress_per_step"])
    with pytest.raises(TrainError, match="reward_file: the GPU trainer"):
        train(cfg, tmp_path / "run", progress_bar=False, log=None)

