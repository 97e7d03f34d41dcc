"""`deepracer sim snapshot`: writes the PNG gallery; bad input gives a clear message and exit code."""
import numpy as np
from PIL import Image

from deepracer_sim.cli import main


def test_snapshot_writes_the_gallery(tmp_path, capsys):
    out = tmp_path / "gallery"
    assert main(["snapshot", "--track", "oval", "--out", str(out), "--scale", "1"]) == 0
    names = {p.name for p in out.iterdir()}
    for expected in ("sim_topdown.png", "sim_camera.png", "sim_camera_rgb.png", "sim_camera_fisheye.png",
                     "sim_random_lighting.png", "sim_random_augmentation.png", "sim_gallery.png"):
        assert expected in names
    assert not [n for n in names if n.endswith(".tmp")]
    cam = np.asarray(Image.open(out / "sim_camera.png"))
    assert cam.shape == (120, 160) and cam.std() > 10
    assert np.asarray(Image.open(out / "sim_camera_rgb.png")).shape == (120, 160, 3)
    assert "sim_gallery.png" in capsys.readouterr().out


def test_snapshot_bad_input(tmp_path, capsys):
    assert main(["snapshot", "--track", "no_such_track", "--out", str(tmp_path)]) == 1
    assert "no_such_track" in capsys.readouterr().err
    assert main(["snapshot", "--out", str(tmp_path), "--at-pct", "150"]) == 2
    assert "--at-pct" in capsys.readouterr().err
