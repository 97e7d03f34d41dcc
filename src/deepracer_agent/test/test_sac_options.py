"""SAC's options beyond AWS's: DrQ's random shift of replayed frames (``sac.image_shift_px``) and a
learned temperature (``sac.auto_alpha``), on the real embedded env; the temperature survives a
checkpoint round trip."""
import numpy as np
import pytest
import torch
from deepracer_agent.config import check_inputs, load_config
from deepracer_agent.sac import build_sac, shift_images, shifting_replay_buffer
from deepracer_agent.train import make_env

from deepracer_agent import checkpoint

META = ('model_metadata={"action_space_type":"continuous","training_algorithm":"sac",'
        '"neural_network":"DEEP_CONVOLUTIONAL_NETWORK_DEEP","action_space":'
        '{"steering_angle":{"low":-30,"high":30},"speed":{"low":0.5,"high":1.0}}}')
TINY = ["n_envs=2", "torch_threads=1", "hyperparameters.batch_size=8", "sac.buffer_size=64",
        "sac.learning_starts=8"]


def _frames(b: int = 5, c: int = 2, h: int = 12, w: int = 16) -> torch.Tensor:
    return torch.as_tensor(np.random.default_rng(0).integers(0, 256, (b, c, h, w)), dtype=torch.uint8)


def test_shift_moves_each_image_by_its_own_offset_and_repeats_the_edges():
    x = _frames()
    g = torch.Generator().manual_seed(3)
    y = shift_images(x, 3, generator=g)
    assert y.dtype == torch.uint8 and y.shape == x.shape
    dy, dx = torch.randint(-3, 4, (2, x.shape[0]), generator=torch.Generator().manual_seed(3))
    for i in range(x.shape[0]):
        # the same image padded with its edge pixels ('replicate') and cropped back at the offset
        padded = torch.nn.functional.pad(x[i:i + 1].float(), (3, 3, 3, 3), mode="replicate")[0]
        r, c = 3 + int(dy[i]), 3 + int(dx[i])
        assert torch.equal(y[i], padded[:, r:r + x.shape[2], c:c + x.shape[3]].to(torch.uint8))
    assert not torch.equal(y, x)                       # at least one image moved
    assert shift_images(x, 0) is x                     # off: the batch itself


def test_the_buffer_shifts_samples_independently_and_stores_the_camera_frames():
    from gymnasium import spaces

    obs_space = spaces.Box(0, 255, (1, 24, 32), np.uint8)
    act_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
    buf = shifting_replay_buffer()(16, obs_space, act_space, device="cpu", n_envs=1, image_shift_px=4)
    rng = np.random.default_rng(1)
    stored = []
    for _ in range(16):
        o = rng.integers(0, 256, (1, 1, 24, 32), dtype=np.uint8)
        stored.append(o.copy())
        buf.add(o, o, np.zeros((1, 2), np.float32), np.zeros(1), np.zeros(1), [{}])
    torch.manual_seed(0)
    s = buf._get_samples(np.arange(16))
    assert s.observations.dtype == torch.uint8 and s.observations.shape == (16, 1, 24, 32)
    # obs and next obs were the same frame; they come back shifted differently
    assert not torch.equal(s.observations, s.next_observations)
    assert np.array_equal(buf.observations[:, 0], np.concatenate(stored)[:, None][:, 0])   # storage untouched
    plain = shifting_replay_buffer()(16, obs_space, act_space, device="cpu", n_envs=1, image_shift_px=0)
    plain.add(stored[0], stored[0], np.zeros((1, 2), np.float32), np.zeros(1), np.zeros(1), [{}])
    p = plain._get_samples(np.array([0]))
    assert torch.equal(p.observations, p.next_observations)


@pytest.fixture
def env():
    cfg = load_config(None, [META] + TINY)
    track, reward = check_inputs(cfg)
    e = make_env(cfg, track, reward)
    yield e
    e.close()


def test_auto_alpha_learns_the_temperature_and_the_checkpoint_keeps_it(env, tmp_path):
    cfg = load_config(None, [META] + TINY + ["sac.auto_alpha=true", "hyperparameters.sac_alpha=0.1",
                                             "sac.image_shift_px=4"])
    model = build_sac(cfg, env)
    assert type(model.replay_buffer).__name__ == "ShiftingReplayBuffer"
    assert model.replay_buffer.image_shift_px == 4
    start = float(torch.exp(model.log_ent_coef.detach()))
    assert start == pytest.approx(0.1)
    model.learn(total_timesteps=24)
    learned = float(torch.exp(model.log_ent_coef.detach()))
    assert learned != pytest.approx(start)             # the temperature moved with its own Adam
    path = checkpoint.save(model, tmp_path / "c.zip", cfg)
    fresh = build_sac(cfg, env)
    checkpoint.restore(fresh, path)
    assert float(torch.exp(fresh.log_ent_coef.detach())) == pytest.approx(learned)
    assert fresh.ent_coef_optimizer.state_dict()["state"]       # Adam moments restored too


def test_fixed_alpha_is_awss_constant_temperature(env):
    cfg = load_config(None, [META] + TINY + ["hyperparameters.sac_alpha=0.05"])
    model = build_sac(cfg, env)
    assert model.ent_coef_optimizer is None and float(model.ent_coef_tensor) == pytest.approx(0.05)
    assert type(model.replay_buffer).__name__ == "ReplayBuffer"
