"""Texture labels at known points, style validation, colourization."""
import numpy as np
import pytest

from deepracer_tracks.library import load_track
from deepracer_tracks.texture import BORDER, CENTRE, FLOOR, ROAD, TextureStyle, TextureStyleError, render_texture
from track_shapes import ring


def test_labels_at_known_points():
    t = ring(2.0, 0.8, n=400)
    style = TextureStyle(border_width_m=0.05, centre_width_m=0.04, dash_length_m=0.2, gap_length_m=0.2)
    tex = render_texture(t, metres_per_pixel=0.01, style=style, margin_m=0.5)
    assert tex.labels.dtype == np.uint8 and tex.image.shape == tex.labels.shape + (3,)
    # the ring starts at (2, 0) going counter-clockwise: arc length s at angle a is 2 a
    def at(radius, s):
        a = s / 2.0
        return [radius * np.cos(a), radius * np.sin(a)]
    pts = np.array([at(2.0, 0.1), at(2.0, 0.3), at(2.0, 0.5), at(1.75, 1.0), at(1.62, 1.0), at(2.38, 3.0),
                    at(2.3, 3.0), [0.0, 0.0], [2.7, 0.0], [-2.0, 0.0]])
    got = tex.label_at(pts).tolist()
    assert got == [CENTRE, ROAD, CENTRE, ROAD, BORDER, BORDER, ROAD, FLOOR, FLOOR, ROAD]
    assert tex.image[tex.labels == ROAD][0].tolist() == list(style.road_rgb)
    # the raster covers the track plus the margin, pixel (0, 0) at the origin corner
    assert tex.origin_xy == pytest.approx((-2.9, -2.9))
    assert tex.labels.shape == (580, 580)


def test_texture_agrees_with_on_track():
    t = load_track("reinvent2018_like")
    tex = render_texture(t, metres_per_pixel=0.02)
    rng = np.random.default_rng(0)
    h, w = tex.labels.shape
    rows, cols = rng.integers(0, h, 3000), rng.integers(0, w, 3000)
    centres = np.array(tex.origin_xy) + (np.column_stack([cols, rows]) + 0.5) * tex.metres_per_pixel
    assert np.array_equal(tex.labels[rows, cols] != FLOOR, t.on_track(centres))
    assert render_texture(t, metres_per_pixel=0.02) is tex       # cached
    with pytest.raises(ValueError):
        tex.labels[0, 0] = 1                                      # read-only


def test_colorize_with_other_style():
    tex = render_texture(load_track("oval"), metres_per_pixel=0.05)
    other = TextureStyle(floor_rgb=(200, 200, 200), road_rgb=(10, 20, 30))
    img = tex.colorize(other)
    assert img[tex.labels == FLOOR][0].tolist() == [200, 200, 200]
    assert img[tex.labels == ROAD][0].tolist() == [10, 20, 30]
    assert set(np.unique(tex.labels)) == {FLOOR, ROAD, BORDER, CENTRE}


@pytest.mark.parametrize("kwargs, field", [
    ({"road_rgb": (0, 0, 256)}, "road_rgb"),
    ({"floor_rgb": (1, 2)}, "floor_rgb"),
    ({"centre_rgb": "yellow"}, "centre_rgb"),
    ({"border_width_m": 0.0}, "border_width_m"),
    ({"centre_width_m": -1}, "centre_width_m"),
    ({"dash_length_m": float("nan")}, "dash_length_m"),
    ({"gap_length_m": -0.1}, "gap_length_m"),
])
def test_style_validation(kwargs, field):
    with pytest.raises(TextureStyleError, match=field):
        TextureStyle(**kwargs)


def test_bad_resolution():
    t = load_track("oval")
    with pytest.raises(TextureStyleError, match="metres_per_pixel"):
        render_texture(t, metres_per_pixel=0)
    with pytest.raises(TextureStyleError, match="metres_per_pixel"):
        render_texture(t, metres_per_pixel=1e-5)
