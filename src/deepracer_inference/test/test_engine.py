"""Engines and Policy: exact agreement with a numpy reference, frame stacking, action mapping."""
import numpy as np
import pytest

from deepracer_inference.engine import Policy, cpu_capabilities
from deepracer_inference.metadata import ModelMetadata
from deepracer_inference.preprocess import to_network_input
from tiny_artifact import make_artifact, reference_output


@pytest.fixture(scope="module")
def discrete(tmp_path_factory):
    return make_artifact(tmp_path_factory.mktemp("m") / "discrete", seed=1)


def frames(n, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (480, 640, 3), dtype=np.uint8) for _ in range(n)]


@pytest.mark.parametrize("engine", ["openvino", "onnxruntime"])
def test_discrete_decision_matches_reference(discrete, engine):
    folder, w, b = discrete
    policy = Policy.from_path(folder, engine=engine, precision="f32", num_threads=1)
    meta = ModelMetadata.default()
    for img in frames(6):
        x = to_network_input(img, "rgb8").astype(np.float32)[None, None]
        ref = reference_output(x, w, b, discrete=True)
        d = policy.decide(img, "rgb8")
        assert np.max(np.abs(np.array(d.probabilities) - ref)) < 1e-5
        assert d.action_index == int(np.argmax(ref))
        assert (d.steering_deg, d.speed_m_s) == meta.action_to_drive(d.action_index)
        assert d.latency_ms > 0 and d.action == ()


def test_fast_precision_runs_and_reports(discrete):
    folder, w, b = discrete
    policy = Policy.from_path(folder, engine="openvino", precision="bf16", num_threads=1)
    assert policy.engine.actual_precision in ("bf16", "f32")  # f32 where the CPU has no bf16
    d = policy.decide(frames(1)[0], "rgb8")
    assert abs(sum(d.probabilities) - 1.0) < 1e-2
    assert "FP32" in cpu_capabilities()


def test_frame_stack_oldest_first(tmp_path):
    meta = ModelMetadata.from_dict({**ModelMetadata.default().to_dict(), "frame_stack": 2})
    folder, w, b = make_artifact(tmp_path / "stack2", meta, seed=3)
    policy = Policy.from_path(folder, engine="onnxruntime")
    a, c = (np.full((120, 160), v, np.uint8) for v in (10, 200))
    first = policy.decide_preprocessed(a)  # fills both slots with a
    x = np.stack([a, a]).astype(np.float32)[None]
    assert np.allclose(first.probabilities, reference_output(x, w, b, True), atol=1e-5)
    second = policy.decide_preprocessed(c)
    x = np.stack([a, c]).astype(np.float32)[None]
    assert np.allclose(second.probabilities, reference_output(x, w, b, True), atol=1e-5)
    policy.reset()
    third = policy.decide_preprocessed(c)
    x = np.stack([c, c]).astype(np.float32)[None]
    assert np.allclose(third.probabilities, reference_output(x, w, b, True), atol=1e-5)


@pytest.mark.parametrize("engine", ["openvino", "onnxruntime"])
def test_nhwc_graphs_get_channel_last_frames(tmp_path, engine):
    """The layout is read from the model's input shape: (1, 120, 160, C) gets channel-last frames."""
    meta = ModelMetadata.from_dict({**ModelMetadata.default().to_dict(), "frame_stack": 2})
    folder, w, b = make_artifact(tmp_path / "nhwc", meta, seed=4, layout="NHWC")
    policy = Policy.from_path(folder, engine=engine)
    assert policy.artifact.layout == "NHWC" and policy.artifact.frame_stack == 2
    rng = np.random.default_rng(0)
    a, c = (rng.integers(0, 256, (120, 160)).astype(np.uint8) for _ in range(2))
    policy.decide_preprocessed(a)
    d = policy.decide_preprocessed(c)
    x = np.stack([a, c], axis=-1).astype(np.float32)[None]              # (1, 120, 160, 2), oldest first
    assert np.allclose(d.probabilities, reference_output(x, w, b, True), atol=1e-5)
    wrong = np.stack([a, c]).astype(np.float32)[None]                   # the NCHW reading differs
    assert not np.allclose(d.probabilities, reference_output(wrong, w, b, True), atol=1e-5)
    batch = policy.act_stacked(np.stack([a, c], axis=-1)[None])
    assert batch.tolist() == [d.action_index]


def test_continuous_rescales_mean(tmp_path):
    meta = ModelMetadata.continuous((-20, 30), (0.5, 2.0))
    folder, w, b = make_artifact(tmp_path / "cont", meta, seed=4)
    policy = Policy.from_path(folder)
    img = frames(1, seed=9)[0]
    x = to_network_input(img, "rgb8").astype(np.float32)[None, None]
    mean = reference_output(x, w, b, discrete=False)
    d = policy.decide(img, "rgb8")
    assert d.action_index == -1 and d.probabilities == ()
    assert np.allclose(d.action, mean, atol=1e-5)
    assert d.steering_deg == pytest.approx(-20 + (mean[0] + 1) / 2 * 50, abs=1e-3)
    assert d.speed_m_s == pytest.approx(0.5 + (mean[1] + 1) / 2 * 1.5, abs=1e-3)
