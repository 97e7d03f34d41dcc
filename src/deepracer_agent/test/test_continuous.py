"""Continuous action spaces: clipped-Gaussian PPO and SAC train, checkpoint (no pickle), resume,
evaluate and export (ONNX / OpenVINO / the AWS car's frozen graph give the same actions on real
camera frames); DRfC's and the console's continuous and SAC model_metadata.json train unchanged."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from deepracer_agent.config import load_config
from deepracer_agent.drfc import load_files
from deepracer_agent.export import export_checkpoint, exportable_policy
from deepracer_agent.sac import export_view
from deepracer_agent.train import complete_checkpoints, read_metrics, train
from deepracer_inference.engine import Policy

from deepracer_agent import checkpoint

pytestmark = pytest.mark.slow   # two tiny trainings (PPO and SAC) + exports: ~90 s on 2 cores

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "drfc"
SAC_FILE = FIXTURES / "model_metadata" / "03_sac_continuous_v5.json"          # DRfC's SAC, continuous
CONSOLE_CONTINUOUS = FIXTURES / "model_metadata" / "02_console_continuous_v4.json"
SMALL_NET = "model_metadata.neural_network=DEEP_CONVOLUTIONAL_NETWORK_DEEP"    # small checkpoints
TINY = ["n_envs=2", "ppo.n_steps=24", "torch_threads=1", "hyperparameters.batch_size=16",
        "hyperparameters.num_epochs=1", "sac.buffer_size=200", "sac.learning_starts=16", "evaluation.trials=2",
        "evaluation.max_steps=40", "stop.target_eval_completion=1.0"]


def _config(metadata_file: Path, extra: list[str]):
    warnings: list[str] = []
    overrides = load_files(FIXTURES / "hyperparameters.json", metadata_file, warn=warnings.append)
    return load_config(None, overrides + [SMALL_NET] + TINY + extra)


def _real_frames(cfg, n: int = 12) -> np.ndarray:
    """(n, 1, 120, 160) float32 camera frames of the embedded simulator driving the track."""
    from deepracer_agent.config import check_inputs
    from deepracer_agent.train import make_env

    track, reward = check_inputs(cfg)
    env = make_env(cfg, track, reward)
    try:
        obs = env.reset()
        frames = []
        rng = np.random.default_rng(0)
        while len(frames) < n:
            obs, *_ = env.step(rng.uniform(-0.3, 0.3, (env.num_envs, 2)).astype(np.float32))
            frames += [o.transpose(2, 0, 1) for o in obs]
    finally:
        env.close()
    return np.stack(frames[:n]).astype(np.float32)


@pytest.fixture(scope="module", params=["ppo", "sac"])
def trained(request, tmp_path_factory):
    meta_file = SAC_FILE if request.param == "sac" else CONSOLE_CONTINUOUS
    run = tmp_path_factory.mktemp(request.param) / "run"
    cfg = _config(meta_file, ["stop.max_iterations=2"])
    result = train(cfg, run, progress_bar=False, log=None)
    return request.param, cfg, run, result


def test_trains_checkpoints_and_evaluates(trained):
    algo, _cfg, run, result = trained
    assert result.iterations == 2 and result.steps == 2 * 2 * 24
    ckpts = complete_checkpoints(run)
    ckpt = checkpoint.read(ckpts[-1][0])
    assert ckpt.header["algorithm"] == ("SAC" if algo == "sac" else "PPO")
    assert ckpt.header["action_space"]["type"] == "Box"
    policy = checkpoint.make_policy(ckpt)
    actions, _ = policy.predict(np.zeros((120, 160, 1), np.uint8), deterministic=True)
    assert actions.shape == (2,) and np.all(np.abs(actions) <= 1.0)
    saved = json.loads((run / "model_metadata.json").read_text())
    assert saved["training_algorithm"] == ("sac" if algo == "sac" else "clipped_ppo")
    assert saved["action_space_type"] == "continuous"
    rows = read_metrics(run)
    assert all(0.0 <= r["eval_completion_rate"] <= 1.0 for r in rows)
    assert all(r["value_loss"] is not None for r in rows[1:])   # SAC: the critics' loss once updates ran
    # deepracer evaluate (and the transfer suite, through the same work units) on the checkpoint
    from deepracer_agent.evaluate import evaluate

    out = evaluate([ckpts[-1][0]], trials=2, max_steps=30, workers=1, out_dir=run / "eval", log=None,
                   simtrace=False)
    assert not out["errors"] and len(out["rows"]) == 1 + 2      # naive + 2 robust trials


def test_resume_continues_weights_and_optimizer(trained, tmp_path):
    import shutil

    algo, _cfg, run, _ = trained
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    last = checkpoint.read(complete_checkpoints(copy)[-1][0])
    cfg3 = _config(SAC_FILE if algo == "sac" else CONSOLE_CONTINUOUS, ["stop.max_iterations=3"])
    result = train(cfg3, copy, resume=True, progress_bar=False, log=None)
    assert result.iterations == 3 and result.steps == 3 * 2 * 24
    new = checkpoint.read(complete_checkpoints(copy)[-1][0])
    assert set(new.optimizer) == set(last.optimizer)
    if algo == "sac":
        assert {k.split(":")[0] for k in new.optimizer} == {"actor", "critic"}
    # the resumed model started from the saved weights: a freshly built one would differ much more
    key = next(k for k in last.policy if k.endswith("weight") and last.policy[k].ndim == 2)
    assert np.abs(new.policy[key] - last.policy[key]).max() < 0.1


def test_a_sac_checkpoint_does_not_load_as_ppo(trained):
    algo, cfg, run, _ = trained
    if algo != "sac":
        pytest.skip("SAC only")
    from deepracer_agent.config import check_inputs
    from deepracer_agent.train import build_model, make_env

    ppo_cfg = load_config(None, [f"model_metadata={json.dumps({**cfg.metadata().to_dict(), 'training_algorithm': 'clipped_ppo'})}",
                                 SMALL_NET] + TINY)
    track, reward = check_inputs(ppo_cfg)
    env = make_env(ppo_cfg, track, reward)
    try:
        from deepracer_agent.train import TrainError

        with pytest.raises(TrainError, match="SAC checkpoint does not fit a PPO model"):
            build_model(ppo_cfg, env, None, complete_checkpoints(run)[-1][0])
    finally:
        env.close()


def test_exports_agree_on_real_frames(trained, tmp_path):
    _algo, cfg, run, _ = trained
    ckpt_path = complete_checkpoints(run)[-1][0]
    result = export_checkpoint(ckpt_path, out=tmp_path / "artifact", aws=True)
    assert result.manifest["output"]["name"] == "action_mean"
    assert result.manifest["self_check"]["passed"]
    assert result.aws, result.aws_skipped                    # the AWS car archive (model.pb) was written
    module = exportable_policy(export_view(checkpoint.make_policy(ckpt_path)), discrete=False)
    policy_torch = checkpoint.make_policy(ckpt_path)
    frames = _real_frames(cfg)
    with torch.no_grad():
        reference = np.stack([module(torch.from_numpy(f[None]))[0].numpy() for f in frames])
    for f, ref in zip(frames, reference):                    # the mean = SB3's deterministic action
        act, _ = policy_torch.predict(f.transpose(1, 2, 0).astype(np.uint8), deterministic=True)
        assert np.allclose(act, np.clip(ref, -1, 1), atol=1e-5)
    sources = [(result.folder, "openvino"), (result.folder, "onnxruntime"), (result.aws["pb_only"], "openvino"),
               (result.aws["folder"], "openvino")]
    for source, engine in sources:
        policy = Policy.from_path(source, engine=engine)
        for f, ref in zip(frames, reference):
            policy.reset()
            d = policy.decide_preprocessed(f[0].astype(np.uint8))
            assert np.allclose(d.action, np.clip(ref, -1, 1), atol=1e-4), (source, engine)
