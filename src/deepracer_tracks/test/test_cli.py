"""`deepracer tracks` CLI: list, show, import, export, mesh, texture."""
import numpy as np

from deepracer_tracks.cli import main
from track_shapes import official


def test_list(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "reinvent2018_like (default)" in out and "tape_corridor" in out and "17.70" in out


def test_show_writes_png(tmp_path, capsys):
    out = tmp_path / "plots" / "oval.png"
    assert main(["show", "oval", "--out", str(out), "--reverse"]) == 0
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert "clockwise" in capsys.readouterr().out


def test_import_export(tmp_path, capsys):
    path = tmp_path / "tape.npy"
    assert main(["export", "tape_corridor", "--out", str(path)]) == 0
    assert np.load(path).shape[1] == 6
    assert main(["import", str(path)]) == 0
    out = capsys.readouterr().out
    assert "valid: yes" in out and "12.000 m" in out
    assert main(["import", str(official("Straight_track.npy"))]) == 0
    assert "open" in capsys.readouterr().out


def test_bad_inputs(tmp_path, capsys):
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((10, 4)))
    assert main(["import", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "shape (N, 6)" in err
    assert main(["show", "no_such_track"]) == 2
    assert "reinvent2018_like" in capsys.readouterr().err


def test_mesh_and_texture(tmp_path):
    assert main(["mesh", "oval", "--out", str(tmp_path / "oval.obj"), "--gazebo-model", str(tmp_path / "gz")]) == 0
    assert (tmp_path / "oval.obj").stat().st_size > 1000 and (tmp_path / "gz" / "model.sdf").is_file()
    assert main(["texture", "oval", "--out", str(tmp_path / "t.png"), "--metres-per-pixel", "0.05"]) == 0
    assert (tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"


def test_reached_through_deepracer_command(capsys):
    try:
        from deepracer_common.cli import main as deepracer
    except ImportError:
        import pytest
        pytest.skip("deepracer_common is not installed in this environment")
    assert deepracer(["tracks", "list"]) == 0
    assert "wide_beginner" in capsys.readouterr().out
