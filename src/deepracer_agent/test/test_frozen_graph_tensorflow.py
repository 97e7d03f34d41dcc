"""TensorFlow itself loads the frozen graph written without it (skipped where TensorFlow is absent).

TensorFlow is not a dependency of this workspace (tensorflow-cpu installs ~1.6 GB); this test runs
where it is installed, e.g. ``pip install tensorflow-cpu pytest`` in a separate virtualenv and
``PYTHONPATH=src/deepracer_agent:src/deepracer_inference python -m pytest THIS_FILE``. It needs only
numpy and the writer (no torch, no OpenVINO): the reference is a plain numpy forward pass in torch's
NCHW conventions, so the graph's NHWC layout and flatten order are checked against it too.
"""
import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from deepracer_agent.frozen_graph import Layer, write_frozen_graph  # noqa: E402
from deepracer_inference.artifact import AWS_INPUT_NAME, AWS_OUTPUT_NAME  # noqa: E402


def numpy_forward(layers, x_nchw, discrete=True):
    """torch semantics: conv (O, I, kH, kW) VALID on NCHW, flatten C-major, dense (out, in)."""
    x = x_nchw.astype(np.float64) / 255.0
    for layer in layers:
        if layer.kind == "conv":
            w = layer.weight.astype(np.float64)
            o, _, kh, kw = w.shape
            s = layer.stride
            n, c, h, wd = x.shape
            oh, ow = (h - kh) // s + 1, (wd - kw) // s + 1
            out = np.zeros((n, o, oh, ow))
            for i in range(kh):
                for j in range(kw):
                    patch = x[:, :, i:i + s * oh:s, j:j + s * ow:s]            # (n, c, oh, ow)
                    out += np.einsum("nchw,oc->nohw", patch, w[:, :, i, j])
            x = out + layer.bias[None, :, None, None]
        elif layer.kind == "flatten":
            x = x.reshape(len(x), -1)
        elif layer.kind == "dense":
            x = x @ layer.weight.astype(np.float64).T + layer.bias
        elif layer.kind == "relu":
            x = np.maximum(x, 0.0)
        elif layer.kind == "tanh":
            x = np.tanh(x)
    if not discrete:
        return x
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def shallow_layers(seed=0, n_actions=5):
    rng = np.random.default_rng(seed)

    def conv(o, i, k, s):
        return Layer("conv", rng.normal(0, (2.0 / (i * k * k)) ** 0.5, (o, i, k, k)).astype(np.float32),
                     rng.normal(0, 0.05, o).astype(np.float32), s)

    return [conv(32, 1, 8, 4), Layer("relu"), conv(64, 32, 4, 2), Layer("relu"), conv(64, 64, 3, 1), Layer("relu"),
            Layer("flatten"),
            Layer("dense", rng.normal(0, 0.02, (64, 64 * 11 * 16)).astype(np.float32),
                  rng.normal(0, 0.05, 64).astype(np.float32)), Layer("tanh"),
            Layer("dense", rng.normal(0, 1.0, (n_actions, 64)).astype(np.float32), np.zeros(n_actions, np.float32))]


def test_tensorflow_runs_the_frozen_graph(tmp_path):
    layers = shallow_layers()
    pb = write_frozen_graph(tmp_path / "model.pb", layers)
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(pb.read_bytes())
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
    x = np.random.default_rng(1).integers(0, 256, (3, 120, 160, 1)).astype(np.float32)
    with tf.compat.v1.Session(graph=graph) as sess:
        out = sess.run(f"{AWS_OUTPUT_NAME}:0", feed_dict={f"{AWS_INPUT_NAME}:0": x})
    reference = numpy_forward(layers, np.transpose(x, (0, 3, 1, 2)))
    assert out.shape == (3, 5)
    assert np.max(np.abs(out - reference)) < 1e-5
    assert np.array_equal(np.argmax(out, axis=1), np.argmax(reference, axis=1))
    placeholder = graph.get_operation_by_name(AWS_INPUT_NAME)
    assert placeholder.type == "Placeholder" and placeholder.outputs[0].shape.as_list() == [None, 120, 160, 1]
