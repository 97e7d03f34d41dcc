"""Helpers for the AWS-interchange tests: real rendered camera frames, and an AWS-convention model.pb.

:func:`centre_line_shallow_layers` is DEEP_CONVOLUTIONAL_NETWORK_SHALLOW (conv [32,8,4] [64,4,2]
[64,3,1] -> dense 512 -> actions) with weights set by hand so that it follows the road, the same
rule as graph_helpers' scripted follower: channel 0 of the three convs averages the 8x8, 4x4, 3x3
patches (the other channels are zero), giving an 11x16 luma map in [0, 1]; dense unit u =
relu(T - luma) of one map pixel in the lower rows (how dark, i.e. how much road, it is); action k
scores ``sum_u road_u * -(target(col_u) - steer_k)^2``, whose argmax is the steering angle nearest to
the road-weighted mean target ``-GAIN * 30 deg * column offset``.
"""
from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np

STEERING_DEG = (-30.0, -20.0, -10.0, 0.0, 10.0, 20.0, 30.0)
GAIN = 1.2
ROAD_LUMA = 85.0 / 255.0     # darker than this counts as road
MAP_ROWS = range(5, 11)      # 11x16 map rows whose receptive fields centre on image rows 57..97
TEMPERATURE = 0.5


def rendered_frames(n: int = 40, seed: int = 0, track: str | None = None) -> np.ndarray:
    """``n`` (120, 160) uint8 frames rendered by the embedded simulator: 8 cars spread over the lap,
    driving a few steps with random actions, domain randomization on (light, texture, pose, noise)."""
    from deepracer_sim.config import SimConfig

    from deepracer_agent.batch import DeepRacerBatch
    from deepracer_agent.evaluate import _randomized

    cars = 8
    batch = DeepRacerBatch(track, n_cars=cars, seed=seed, compute_reward=False,
                           sim_config=_randomized(SimConfig.from_dict({})),
                           episode={"start": "round_robin", "max_steps": 10_000})
    obs = batch.reset_all()
    rng = np.random.default_rng(seed)
    frames = [obs[:, :, :, 0].copy()]
    while sum(len(f) for f in frames) < n:
        obs, *_ = batch.step(rng.integers(0, batch.metadata.n_actions, cars))
        frames.append(obs[:, :, :, 0].copy())
    return np.concatenate(frames)[:n]


def centre_line_shallow_layers(steering_deg: tuple[float, ...] = STEERING_DEG) -> list:
    """The hand-set SHALLOW road follower (module docstring) as frozen_graph layers."""
    from deepracer_agent.frozen_graph import Layer

    def avg_conv(out_ch: int, in_ch: int, k: int) -> np.ndarray:
        w = np.zeros((out_ch, in_ch, k, k), np.float32)
        w[0, 0] = 1.0 / (k * k)
        return w

    convs = [Layer("conv", avg_conv(32, 1, 8), np.zeros(32, np.float32), 4), Layer("relu"),
             Layer("conv", avg_conv(64, 32, 4), np.zeros(64, np.float32), 2), Layer("relu"),
             Layer("conv", avg_conv(64, 64, 3), np.zeros(64, np.float32), 1), Layer("relu"), Layer("flatten")]
    map_w = 16
    dense_w = np.zeros((512, 64 * 11 * map_w), np.float32)
    dense_b = np.zeros(512, np.float32)
    head_w = np.zeros((len(steering_deg), 512), np.float32)
    steers = np.asarray(steering_deg, np.float64)
    u = 0
    for y in MAP_ROWS:
        for x in range(map_w):
            dense_w[u, y * map_w + x] = -1.0        # channel 0 comes first in torch's NCHW flatten
            dense_b[u] = ROAD_LUMA
            col = 8 * x + 17.5                       # image column at the centre of the receptive field
            target = -GAIN * 30.0 * (col - 79.5) / 80.0
            head_w[:, u] = -((target - steers) ** 2) / (25.0 * TEMPERATURE)
            u += 1
    return convs + [Layer("dense", dense_w, dense_b), Layer("relu"),
                    Layer("dense", head_w, np.zeros(len(steering_deg), np.float32))]


def write_aws_model(folder: Path, layout: str = "top", speed_m_s: float = 1.0) -> Path:
    """An AWS-convention model folder: model_metadata.json + model.pb (``layout`` "top") or
    agent/model.pb ("agent"), the SHALLOW road follower with AWS's tensor names. Returns the folder."""
    from deepracer_agent.frozen_graph import write_frozen_graph
    from deepracer_inference.metadata import ModelMetadata

    folder.mkdir(parents=True, exist_ok=True)
    meta = ModelMetadata.discrete(STEERING_DEG, [speed_m_s])
    meta.save(folder / "model_metadata.json")
    pb = folder / "model.pb" if layout == "top" else folder / "agent" / "model.pb"
    pb.parent.mkdir(exist_ok=True)
    write_frozen_graph(pb, centre_line_shallow_layers(), discrete=True)
    return folder


def tar_folder(folder: Path, archive: Path) -> Path:
    """``folder``'s files at the top of a .tar.gz (as the console and DeepRacer-on-AWS pack models)."""
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                tar.add(path, arcname=str(path.relative_to(folder)))
    return archive
