"""AWS/DRfC models (model.pb + model_metadata.json, no manifest) evaluated and driven here.

The model is an AWS-convention graph built in the test (aws_helpers: AWS's tensor names, the SHALLOW
network with hand-set weights that follow the road); it is loaded from the archive layouts the
console, DRfC and DeepRacer-on-AWS write, evaluated by ``deepracer evaluate``, and graphs that are
not DeepRacer policies are refused with the difference named.
"""
import csv
import tarfile

import numpy as np
import pytest

from aws_helpers import STEERING_DEG, centre_line_shallow_layers, rendered_frames, tar_folder, write_aws_model
from deepracer_agent.evaluate import main as evaluate_main
from deepracer_agent.frozen_graph import Layer, build_graph_def, write_frozen_graph
from deepracer_inference.artifact import AWS_INPUT_NAME, AWS_OUTPUT_NAME, ArtifactError, load_artifact
from deepracer_inference.engine import EngineError, Policy
from deepracer_inference.metadata import ModelMetadata


@pytest.fixture(scope="module")
def aws_archive(tmp_path_factory):
    root = tmp_path_factory.mktemp("aws")
    return tar_folder(write_aws_model(root / "model"), root / "model.tar.gz")


@pytest.mark.slow
def test_evaluate_takes_an_aws_archive(aws_archive, tmp_path, capsys):
    code = evaluate_main([str(aws_archive), "--tracks", "oval", "--trials", "2", "--workers", "1",
                          "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    with open(tmp_path / "evaluation.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["checkpoint"] for r in rows} == {str(aws_archive)} and {r["mode"] for r in rows} == {"naive", "robust"}
    assert all(r["episode_status"] == "lap_complete" for r in rows), rows   # the road follower laps the oval
    assert "model.tar.gz" in (tmp_path / "evaluation.md").read_text()
    assert not (tmp_path / "best.zip").exists()                            # models take no part in selection


@pytest.fixture(scope="module")
def frames():
    return rendered_frames(8, seed=1)


@pytest.mark.parametrize("layout", ["top", "agent"])
def test_console_and_drfc_layouts_load(layout, frames, tmp_path):
    folder = write_aws_model(tmp_path / "m", layout=layout)
    (folder / "reward_function.py").write_text("def reward_function(params):\n    return 1.0\n")
    (folder / "hyperparameters.json").write_text("{}")
    for source in (folder, tar_folder(folder, tmp_path / "m.tar.gz")):
        policy = Policy.from_path(source)
        assert policy.artifact.kind == "aws" and policy.artifact.input_shape == (1, 120, 160, 1)
        d = policy.decide_preprocessed(frames[0])
        assert d.speed_m_s == 1.0 and d.steering_deg in STEERING_DEG
        assert np.isclose(sum(d.probabilities), 1.0, atol=1e-5)
        batch = policy.act_stacked(frames[:, :, :, None])
        assert batch.shape == (8,) and batch[0] == d.action_index


def test_continuous_metadata_maps_the_mean_onto_the_ranges(frames, tmp_path):
    rng = np.random.default_rng(0)
    head = Layer("dense", rng.normal(0, 0.05, (2, 512)).astype(np.float32), np.array([0.3, -0.4], np.float32))
    layers = centre_line_shallow_layers()[:-1] + [head]
    write_frozen_graph(tmp_path / "model.pb", layers, discrete=False)
    meta = ModelMetadata.continuous((-20, 25), (0.5, 2.0))
    meta.save(tmp_path / "model_metadata.json")
    policy = Policy.from_path(tmp_path)
    d = policy.decide_preprocessed(frames[0])
    mean = np.array(d.action)
    assert d.action_index == -1 and d.probabilities == () and mean.shape == (2,)
    m = np.clip(mean, -1, 1)
    assert d.steering_deg == pytest.approx(-20 + (m[0] + 1) / 2 * 45, abs=1e-4)     # AWS: [-1, 1] -> [low, high]
    assert d.speed_m_s == pytest.approx(0.5 + (m[1] + 1) / 2 * 1.5, abs=1e-4)


def _renamed(graph, old: str, new: str):
    for node in graph.node:
        if node.name == old:
            node.name = new
        node.input[:] = [new if i == old else i for i in node.input]
    return graph


@pytest.mark.parametrize("case, message", [
    ("input_name", "is not a DeepRacer policy: no input tensor '" + AWS_INPUT_NAME + "'; the graph's inputs are: "
                   "observation:0 \\[\\?,120,160,1\\]"),
    ("output_name", "is not a DeepRacer policy: no output tensor '" + AWS_OUTPUT_NAME + "'; the graph's outputs "
                    "are: logits:0 \\[\\?,7\\]"),
    ("channels", "input '" + AWS_INPUT_NAME + "' has shape \\[\\?,120,160,3\\]; model_metadata.json implies "
                 "\\[1, 120, 160, 1\\]"),
    ("actions", "output '" + AWS_OUTPUT_NAME + "' has shape \\[1,7\\]; model_metadata.json has 5 discrete actions, "
                "so it must be \\[1, 5\\]"),
    ("garbage", "OpenVINO's TensorFlow frontend cannot read model.pb as a frozen graph"),
])
def test_graphs_that_are_not_deepracer_policies_are_refused(case, message, tmp_path):
    layers = centre_line_shallow_layers()
    meta = ModelMetadata.discrete(STEERING_DEG, [1.0])
    if case == "channels":
        layers[0] = Layer("conv", np.zeros((32, 3, 8, 8), np.float32), np.zeros(32, np.float32), 4)
    graph = build_graph_def(layers, in_channels=3 if case == "channels" else 1)
    if case == "input_name":
        graph = _renamed(graph, AWS_INPUT_NAME, "observation")
    if case == "output_name":
        graph = _renamed(graph, AWS_OUTPUT_NAME, "logits")
    if case == "actions":
        meta = ModelMetadata.discrete([-30, -15, 0, 15, 30], [1.0])
    (tmp_path / "model.pb").write_bytes(b"\x00not a graph" * 10 if case == "garbage" else graph.SerializeToString())
    meta.save(tmp_path / "model_metadata.json")
    with tarfile.open(tmp_path / "m.tar.gz", "w:gz") as tar:
        for name in ("model.pb", "model_metadata.json"):
            tar.add(tmp_path / name, arcname=name)
    with pytest.raises(ArtifactError, match=message):
        Policy.from_path(tmp_path / "m.tar.gz")


def test_onnxruntime_and_broken_aws_folders_say_what_is_wrong(tmp_path):
    folder = write_aws_model(tmp_path / "m")
    with pytest.raises(EngineError, match="is an AWS model \\(model.pb, no model.onnx\\): it runs on engine 'openvino' only"):
        Policy.from_path(folder, engine="onnxruntime")
    (folder / "model_metadata.json").write_text('{"action_space": [{"steering_angle": 90, "speed": 1}]}')
    with pytest.raises(ArtifactError, match="action_space\\[0\\].steering_angle: 90.0 deg is beyond"):
        load_artifact(folder)
    (folder / "model_metadata.json").unlink()
    with pytest.raises(ArtifactError, match="neither a model artifact \\(no manifest.json\\) nor an AWS/DRfC model"):
        load_artifact(folder)


@pytest.mark.slow
def test_evaluate_takes_ours_and_aws_models_side_by_side(aws_archive, tmp_path, capsys):
    """One `deepracer evaluate` over our artifact (NCHW ONNX/IR, manifest) and an AWS archive (NHWC .pb)."""
    import sys
    from pathlib import Path

    # the scripted centre-line artifact lives with the graph tests in deepracer_bringup
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "deepracer_bringup" / "test"))
    try:
        from graph_helpers import scripted_artifact
    finally:
        sys.path.pop(0)

    ours = scripted_artifact(tmp_path / "ours")
    code = evaluate_main([str(ours), str(aws_archive), "--tracks", "oval", "--naive-only", "--workers", "1",
                          "--out", str(tmp_path / "eval")])
    assert code == 0, capsys.readouterr().out
    with open(tmp_path / "eval" / "evaluation.csv", newline="") as fh:
        rows = {r["checkpoint"]: r for r in csv.DictReader(fh)}
    assert set(rows) == {str(ours), str(aws_archive)}
    assert all(r["episode_status"] == "lap_complete" for r in rows.values()), rows
