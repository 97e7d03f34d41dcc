"""Gazebo world generation: structure checked in Python always, and with sdformat (`gz sdf -k` /
`ign sdf -k`) where it is installed."""
from __future__ import annotations

import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from deepracer_sim.gazebo import PACKAGE_DIR, TRACK_Z_M, main, world_sdf, write_gazebo_world
from deepracer_tracks.library import DEFAULT_TRACK, load_track
from deepracer_tracks.mesh import track_from_obj
from deepracer_tracks.track import TrackError


def check_world(world: Path, models: Path) -> str:
    """Python-side structural validation; returns the included model name."""
    root = ET.parse(world).getroot()
    assert root.tag == "sdf" and root.get("version") == "1.9"
    (w,) = root.findall("world")
    assert w.find("light[@type='directional']") is not None
    ground = w.find("model[@name='ground_plane']")
    assert ground is not None and ground.findtext("static") == "true"
    assert ground.find("link/collision/geometry/plane/normal").text == "0 0 1"
    plugins = {p.get("name") for p in w.findall("plugin")}
    assert "gz::sim::systems::Physics" in plugins and "gz::sim::systems::SceneBroadcaster" in plugins
    (inc,) = w.findall("include")
    uri = inc.findtext("uri")
    assert uri.startswith("model://")
    assert [float(v) for v in inc.findtext("pose").split()] == [0, 0, TRACK_Z_M, 0, 0, 0]
    name = uri[len("model://"):]
    model_dir = models / name
    config = ET.parse(model_dir / "model.config").getroot()
    assert config.tag == "model" and config.findtext("name") == name
    sdf_file = model_dir / config.findtext("sdf")
    model = ET.parse(sdf_file).getroot().find("model")
    assert model.get("name") == name and model.findtext("static") == "true"
    for geometry in ("visual", "collision"):
        mesh_uri = model.find(f"link/{geometry}/geometry/mesh/uri").text
        assert (model_dir / mesh_uri).is_file(), mesh_uri
    return name


def test_world_for_a_builtin_track(tmp_path):
    world = write_gazebo_world("oval", tmp_path, world_name="oval_world")
    assert world == tmp_path / "oval_world.world.sdf"
    name = check_world(world, tmp_path / "models")
    assert name == "oval"
    # the mesh in the world is the track: waypoints extracted from it match the track's length
    recovered = track_from_obj(tmp_path / "models" / "oval" / "meshes" / "oval.obj")
    assert recovered.length_m == pytest.approx(load_track("oval").length_m, rel=0.02)


def test_committed_world_and_model_are_up_to_date(tmp_path):
    write_gazebo_world(DEFAULT_TRACK, tmp_path, worlds_dir=tmp_path / "worlds")
    generated = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert generated, "nothing generated"
    for rel in generated:
        committed = PACKAGE_DIR / rel
        assert committed.is_file(), f"{committed} missing: run python -m deepracer_sim.gazebo --update-package"
        assert committed.read_bytes() == (tmp_path / rel).read_bytes(), (
            f"{committed} is stale: run python -m deepracer_sim.gazebo --update-package")
    check_world(PACKAGE_DIR / "worlds" / "deepracer_track.world.sdf", PACKAGE_DIR / "models")


def _sdf_checker() -> list[str] | None:
    for cmd in (["gz", "sdf"], ["ign", "sdf"]):
        if shutil.which(cmd[0]) is None:
            continue
        probe = subprocess.run([*cmd, "--help"], capture_output=True, text=True, timeout=30)
        if probe.returncode == 0 and "-k" in probe.stdout + probe.stderr:
            return cmd
    return None


def test_sdformat_accepts_the_world_and_model(tmp_path):
    checker = _sdf_checker()
    if checker is None:
        pytest.skip("no 'gz sdf' / 'ign sdf' here (Debian: apt-get install libsdformat-dev ignition-tools)")
    world = write_gazebo_world("technical", tmp_path)
    env = {**os.environ, "SDF_PATH": str(tmp_path / "models"), "GZ_SIM_RESOURCE_PATH": str(tmp_path / "models")}
    for path in (world, tmp_path / "models" / "technical" / "model.sdf"):
        result = subprocess.run([*checker, "-k", str(path)], capture_output=True, text=True, env=env, timeout=60)
        assert result.returncode == 0 and "Valid" in result.stdout and "Error" not in result.stderr, (
            f"{path}: {result.stdout}{result.stderr}")


def test_bad_input_is_refused(tmp_path, capsys):
    with pytest.raises(TrackError, match="unknown track 'no_such_track'"):
        write_gazebo_world("no_such_track", tmp_path)
    assert main(["no_such_track", str(tmp_path)]) == 2
    assert "unknown track 'no_such_track'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="must use only letters"):
        world_sdf("bad name")
    assert not any(tmp_path.iterdir())
