"""The launch files are installed into share/deepracer_bringup and found by package name, by the
ament index (what ``ros2 launch deepracer_bringup car.launch.xml`` uses) and by ``deepracer launch``."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from deepracer_common.launch_runner import LaunchError, find_launch_file, main

PKG_DIR = Path(__file__).resolve().parents[1]
REPO = PKG_DIR.parents[1]
SOURCE_FILES = sorted(p.relative_to(PKG_DIR / "launch").as_posix() for p in (PKG_DIR / "launch").rglob("*")
                      if p.is_file() and p.suffix in (".xml", ".yaml", ".rviz"))


def installed_share() -> Path:
    from ament_index_python.packages import PackageNotFoundError, get_package_share_directory

    try:
        return Path(get_package_share_directory("deepracer_bringup"))
    except (PackageNotFoundError, ValueError):
        pytest.skip("deepracer_bringup is not installed here (colcon build; source install/setup.bash)")


def test_every_launch_file_param_yaml_and_rviz_config_is_installed():
    share = installed_share()
    installed = sorted(p.relative_to(share / "launch").as_posix() for p in (share / "launch").rglob("*")
                       if p.is_file() and p.suffix in (".xml", ".yaml", ".rviz"))
    assert installed == SOURCE_FILES
    assert {"car.launch.xml", "sim_drive.launch.xml", "drive_stack.launch.xml", "config/control_car.yaml",
            "rviz/deepracer.rviz"} <= set(installed)


def test_deepracer_launch_finds_a_file_by_package_name(capsys):
    share = installed_share()
    assert find_launch_file("deepracer_bringup", "car.launch.xml") == share / "launch" / "car.launch.xml"
    assert main(["--show-args", "deepracer_bringup", "car.launch.xml"]) == 0
    assert "model" in capsys.readouterr().out
    # the installed files resolve their $(dirname) includes and parameter files inside share/
    assert main(["--print", "deepracer_bringup", "drive_stack.launch.xml", "model:=m", "backend:=sim"]) == 0
    out = capsys.readouterr().out
    assert "[inference_node]" in out and "[control_node]" in out
    assert "config/inference.yaml" in out and "config/control_sim.yaml" in out


def test_unknown_launch_file_names_the_package_and_lists_its_files():
    with pytest.raises(LaunchError, match=r"package 'deepracer_bringup' has no launch file 'cra.launch.xml'.*"
                                          r"car\.launch\.xml"):
        find_launch_file("deepracer_bringup", "cra.launch.xml")
    with pytest.raises(LaunchError, match="package 'no_such_pkg' not found"):
        find_launch_file("no_such_pkg", "x.launch.xml")


def test_the_top_level_launch_folder_is_the_same_files():
    top = REPO / "launch"
    assert top.resolve() == (PKG_DIR / "launch").resolve()
    assert (top / "car.launch.xml").read_bytes() == (PKG_DIR / "launch" / "car.launch.xml").read_bytes()


def test_source_checkout_without_an_ament_index(monkeypatch):
    monkeypatch.delenv("AMENT_PREFIX_PATH", raising=False)
    assert find_launch_file("deepracer_bringup", "sim_drive.launch.xml") == PKG_DIR / "launch" / "sim_drive.launch.xml"
    assert os.environ.get("AMENT_PREFIX_PATH") is None
