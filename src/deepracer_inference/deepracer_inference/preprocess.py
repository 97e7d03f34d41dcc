"""THE image preprocessing of the workspace: any camera frame -> the (120, 160) uint8 grayscale the network sees.

The training env, the sim node, the Gym bridge and the inference node all call
:func:`to_network_input`, so a frame gives bit-identical network input everywhere.

The pipeline (chosen once, used everywhere):

1. **Grayscale first**, ITU-R 601 luma with PIL's integer rounding, exactly as
   ``PIL.Image.convert('L')``: ``L = (R*19595 + G*38470 + B*7471 + 0x8000) >> 16``
   (19595/65536 = 0.299, 38470/65536 = 0.587, 7471/65536 = 0.114). Alpha is ignored;
   ``mono16`` keeps its high byte (``v >> 8``).
2. **Bilinear resize to 160x120, as** ``PIL.Image.resize((160, 120), Image.BILINEAR)``: PIL's
   separable triangle filter whose support widens with the downscale factor (so a 640x480 camera
   frame is anti-aliased, unlike ``cv2.INTER_LINEAR`` which samples only 2x2 pixels), in PIL's
   fixed-point arithmetic (22 fraction bits, horizontal pass first, each pass rounded to uint8).
   This is the resize the AWS DeepRacer simulator applies before training (``resample=2``).
   Implemented here in numpy (no PIL needed on the car) and tested bit-exact against Pillow.

Gotcha: the order matters by at most one grey level. AWS resizes RGB then converts; we convert
then resize (3x less work). The embedded simulator renders 160x120 gray directly, for which both
orders are the identity.
"""
from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

NETWORK_HEIGHT_PX = 120
NETWORK_WIDTH_PX = 160

#: encoding -> (channels, bytes per channel). Colour order of 3/4-channel encodings is in _LUMA_ORDER.
ENCODINGS: dict[str, tuple[int, int]] = {
    "mono8": (1, 1),
    "8UC1": (1, 1),
    "mono16": (1, 2),
    "16UC1": (1, 2),
    "rgb8": (3, 1),
    "bgr8": (3, 1),
    "rgba8": (4, 1),
    "bgra8": (4, 1),
}
_LUMA_ORDER = {"rgb8": (0, 1, 2), "rgba8": (0, 1, 2), "bgr8": (2, 1, 0), "bgra8": (2, 1, 0)}

_PRECISION_BITS = 32 - 8 - 2  # PIL Resample.c, 8 bits per channel


class PreprocessError(ValueError):
    """An image that cannot be turned into network input; the message names the field at fault."""


def image_from_buffer(data: Any, height: int, width: int, encoding: str, step: int | None = None,
                      is_bigendian: bool = False) -> np.ndarray:
    """View a raw ROS ``sensor_msgs/Image`` buffer as a numpy array, without copying when possible.

    ``data`` is anything with the buffer protocol (bytes, array.array, memoryview, numpy);
    ``step`` is the row length in bytes (None = tightly packed). Returns (H, W) for one-channel
    encodings (uint8, or uint16 for mono16) and (H, W, C) uint8 otherwise.
    Raises :class:`PreprocessError` naming the field for an unknown encoding, a zero size, a row
    step shorter than a row, or a data length that is not ``step * height``.
    """
    if encoding not in ENCODINGS:
        raise PreprocessError(f"image encoding '{encoding}' is not supported (supported: {', '.join(ENCODINGS)})")
    if height <= 0 or width <= 0:
        raise PreprocessError(f"image has zero size (height={height}, width={width})")
    channels, depth = ENCODINGS[encoding]
    row_bytes = width * channels * depth
    step = row_bytes if step is None or step == 0 else int(step)
    if step < row_bytes:
        raise PreprocessError(f"image step {step} bytes is shorter than a row ({width} px x {channels * depth} bytes)")
    buf = np.frombuffer(data, dtype=np.uint8)
    if buf.size != step * height:
        raise PreprocessError(f"image data has {buf.size} bytes, expected step*height = {step}*{height} = {step * height}")
    rows = buf.reshape(height, step)[:, :row_bytes]
    if depth == 2:
        dtype = np.dtype(">u2" if is_bigendian else "<u2")
        return np.ascontiguousarray(rows).view(dtype).reshape(height, width).astype(np.uint16)
    if channels == 1:
        return rows.reshape(height, width)
    return rows.reshape(height, width, channels)


def to_grayscale(image: np.ndarray, encoding: str) -> np.ndarray:
    """(H, W[, C]) image in ``encoding`` -> (H, W) uint8 ITU-R 601 luma, exactly as PIL's convert('L')."""
    if encoding not in ENCODINGS:
        raise PreprocessError(f"image encoding '{encoding}' is not supported (supported: {', '.join(ENCODINGS)})")
    image = np.asarray(image)
    channels, depth = ENCODINGS[encoding]
    expected_ndim = 2 if channels == 1 else 3
    if channels == 1 and image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim != expected_ndim or (channels > 1 and image.shape[2] != channels):
        raise PreprocessError(f"image shape {image.shape} does not fit encoding '{encoding}' ({channels} channel(s))")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise PreprocessError(f"image has zero size (shape {image.shape})")
    if depth == 2:
        if image.dtype != np.uint16:
            raise PreprocessError(f"image dtype {image.dtype} does not fit encoding '{encoding}' (uint16)")
        return (image >> 8).astype(np.uint8)
    if image.dtype != np.uint8:
        raise PreprocessError(f"image dtype {image.dtype} does not fit encoding '{encoding}' (uint8)")
    if channels == 1:
        return image
    # PIL's integer formula evaluated in float32, which is exact here: every product and partial sum
    # is an integer below 255 * 65536 + 0x8000 < 2**24, and * 2**-16 then truncation is the >> 16.
    x = image.astype(np.float32)
    r, g, b = _LUMA_ORDER[encoding]
    luma = x[:, :, r] * 19595.0 + x[:, :, g] * 38470.0 + x[:, :, b] * 7471.0 + 32768.0
    return (luma * (1.0 / 65536.0)).astype(np.uint8)


@functools.lru_cache(maxsize=32)
def _bilinear_taps(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray]:
    """PIL's precompute_coeffs + normalize_coeffs_8bpc for the BILINEAR filter, one axis.

    Returns (index (out, K) int64, weights (out, K) int64 fixed point). Computed in plain Python
    floats in PIL's order of operations so the rounding is bit-identical.
    """
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = 1.0 * filterscale
    ksize = int(math.ceil(support)) * 2 + 1
    index = np.zeros((out_size, ksize), dtype=np.int64)
    weights = np.zeros((out_size, ksize), dtype=np.int64)
    ss = 1.0 / filterscale
    for xx in range(out_size):
        center = (xx + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), in_size) - xmin
        k = []
        for x in range(xmax):
            t = abs((x + xmin - center + 0.5) * ss)
            k.append(1.0 - t if t < 1.0 else 0.0)
        ww = 0.0
        for w in k:
            ww += w
        for x, w in enumerate(k):
            w = w / ww if ww != 0.0 else w
            weights[xx, x] = int(-0.5 + w * (1 << _PRECISION_BITS)) if w < 0 else int(0.5 + w * (1 << _PRECISION_BITS))
        index[xx, :] = np.minimum(xmin + np.arange(ksize), in_size - 1)  # taps past xmax have weight 0
    return index, weights


def _clip8(acc: np.ndarray) -> np.ndarray:
    return np.clip(acc >> _PRECISION_BITS, 0, 255).astype(np.uint8)


def _resample(img: np.ndarray, index: np.ndarray, weights: np.ndarray, axis: int) -> np.ndarray:
    """One PIL pass along ``axis`` (0 = rows): out[o] = clip8(sum_k img[index[o, k]] * weights[o, k] + half).

    int32 accumulation is exact, as in PIL: 255 * 2**22 * sum(weights) stays below 2**31. The loop
    runs over the few taps (9 for 640 -> 160); each step is one vectorised gather-multiply-add.
    """
    shape = (index.shape[0], img.shape[1]) if axis == 0 else (img.shape[0], index.shape[0])
    acc = np.full(shape, 1 << (_PRECISION_BITS - 1), dtype=np.int32)
    w = weights.astype(np.int32)
    for k in range(index.shape[1]):
        if axis == 0:
            acc += img[index[:, k], :] * w[:, k, None]
        else:
            acc += img[:, index[:, k]] * w[:, k]
    return _clip8(acc)


def resize_bilinear(gray: np.ndarray, width: int = NETWORK_WIDTH_PX, height: int = NETWORK_HEIGHT_PX) -> np.ndarray:
    """(H, W) uint8 -> (height, width) uint8, bit-identical to PIL ``resize((width, height), BILINEAR)``."""
    in_h, in_w = gray.shape
    if (in_h, in_w) == (height, width):
        return np.ascontiguousarray(gray)
    out = gray
    if in_w != width:  # horizontal pass first, as PIL; on the transpose (row gathers are ~2x faster)
        out = _resample(np.ascontiguousarray(out.T), *_bilinear_taps(in_w, width), axis=0).T
    if in_h != height:
        out = _resample(out, *_bilinear_taps(in_h, height), axis=0)
    return out


def to_network_input(image: np.ndarray, encoding: str) -> np.ndarray:
    """Any camera frame -> (120, 160) uint8 grayscale network input (see the module docstring).

    ``image``: (H, W) or (H, W, 1) for mono8/mono16, (H, W, 3) for rgb8/bgr8, (H, W, 4) for
    rgba8/bgra8; uint8 (uint16 for mono16). Raises :class:`PreprocessError` for an unsupported
    encoding, a zero-size image, or a shape/dtype that does not fit the encoding.
    """
    return resize_bilinear(to_grayscale(image, encoding))
