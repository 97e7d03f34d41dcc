"""preprocess.to_network_input: bit-identical to the PIL reference (convert('L') then resize BILINEAR)."""
import array

import numpy as np
import pytest
from PIL import Image

from deepracer_inference.preprocess import (PreprocessError, image_from_buffer, to_grayscale,
                                            to_network_input)


def pil_reference(rgb: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(rgb).convert("L").resize((160, 120), Image.BILINEAR))


def camera_like(h: int, w: int, seed: int) -> np.ndarray:
    """Noise plus smooth structure (gradients and a bright band), as a camera sees a track."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 / max(w - 1, 1), yy * 255 / max(h - 1, 1), (xx + yy) % 256], axis=-1)
    band = (np.abs(xx - w / 2) < w / 8)[..., None] * 90
    return np.clip(base * 0.6 + band + rng.integers(0, 60, (h, w, 3)), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("h,w", [(480, 640), (120, 160), (240, 320), (1080, 1920), (77, 93), (60, 80), (121, 161), (3, 2)])
def test_every_size_matches_pil(h, w):
    rgb = camera_like(h, w, seed=h * w)
    ref = pil_reference(rgb)
    out = to_network_input(rgb, "rgb8")
    assert out.shape == (120, 160) and out.dtype == np.uint8
    assert np.array_equal(out, ref)


def test_encodings_agree_with_pil():
    rgb = camera_like(480, 640, seed=1)
    ref = pil_reference(rgb)
    alpha = np.full((480, 640, 1), 77, np.uint8)
    assert np.array_equal(to_network_input(rgb[:, :, ::-1], "bgr8"), ref)
    assert np.array_equal(to_network_input(np.concatenate([rgb, alpha], -1), "rgba8"), ref)
    assert np.array_equal(to_network_input(np.concatenate([rgb[:, :, ::-1], alpha], -1), "bgra8"), ref)
    gray = np.asarray(Image.fromarray(rgb).convert("L"))
    assert np.array_equal(to_network_input(gray, "mono8"), ref)
    assert np.array_equal(to_network_input(gray[..., None], "mono8"), ref)
    assert np.array_equal(to_network_input(gray.astype(np.uint16) << 8 | 0xAB, "mono16"), ref)


def test_luma_is_pil_convert_L_on_every_colour_corner():
    rng = np.random.default_rng(5)
    rgb = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    rgb[0, :8] = [[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255], [1, 2, 3], [128, 128, 128], [254, 1, 127]]
    assert np.array_equal(to_grayscale(rgb, "rgb8"), np.asarray(Image.fromarray(rgb).convert("L")))


def test_luma_exhaustive_over_all_16_million_colours():
    v = np.arange(256, dtype=np.uint8)
    rgb = np.stack(np.meshgrid(v, v, v, indexing="ij"), axis=-1).reshape(4096, 4096, 3)
    assert np.array_equal(to_grayscale(rgb, "rgb8"), np.asarray(Image.fromarray(rgb).convert("L")))


def test_network_sized_mono_is_identity():
    frame = np.random.default_rng(2).integers(0, 256, (120, 160), dtype=np.uint8)
    assert np.array_equal(to_network_input(frame, "mono8"), frame)


def test_image_from_buffer_handles_padding_and_endianness():
    rgb = camera_like(6, 5, seed=3)
    padded = np.zeros((6, 20), np.uint8)  # step 20 > 15 bytes per row
    padded[:, :15] = rgb.reshape(6, 15)
    view = image_from_buffer(array.array("B", padded.tobytes()), 6, 5, "rgb8", step=20)
    assert np.array_equal(view, rgb)
    mono16 = np.arange(12, dtype=np.uint16).reshape(3, 4) * 1000
    assert np.array_equal(image_from_buffer(mono16.astype(">u2").tobytes(), 3, 4, "mono16", 8, is_bigendian=True), mono16)
    assert np.array_equal(image_from_buffer(mono16.astype("<u2").tobytes(), 3, 4, "mono16", 8), mono16)


@pytest.mark.parametrize("kwargs,match", [
    (dict(data=b"\0" * 12, height=2, width=2, encoding="yuv422"), "encoding 'yuv422' is not supported"),
    (dict(data=b"", height=0, width=4, encoding="mono8"), "zero size"),
    (dict(data=b"\0" * 11, height=2, width=2, encoding="rgb8"), "11 bytes, expected"),
    (dict(data=b"\0" * 8, height=2, width=2, encoding="rgb8", step=4), "step 4 bytes is shorter than a row"),
])
def test_bad_buffers_are_named(kwargs, match):
    with pytest.raises(PreprocessError, match=match):
        image_from_buffer(**kwargs)


def test_bad_arrays_are_named():
    with pytest.raises(PreprocessError, match="does not fit encoding 'rgb8'"):
        to_network_input(np.zeros((10, 10), np.uint8), "rgb8")
    with pytest.raises(PreprocessError, match="dtype float32"):
        to_network_input(np.zeros((10, 10), np.float32), "mono8")
    with pytest.raises(PreprocessError, match="zero size"):
        to_network_input(np.zeros((0, 10, 3), np.uint8), "rgb8")
