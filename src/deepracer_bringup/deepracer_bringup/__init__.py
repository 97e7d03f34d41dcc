"""deepracer_bringup: the launch files of the DeepRacer graph, installed into share/deepracer_bringup/launch/.

Run them by package name: ``ros2 launch deepracer_bringup car.launch.xml model:=...`` on a ROS 2
installation, ``deepracer launch deepracer_bringup car.launch.xml model:=...`` anywhere. The
repository's top-level ``launch/`` is the same folder (a link), the user's entry in a checkout.
"""
from __future__ import annotations

from pathlib import Path

PACKAGE = "deepracer_bringup"


def launch_dir() -> Path:
    """share/deepracer_bringup/launch of the installed package (ament index), else the source folder."""
    from deepracer_common.launch_runner import find_package_share

    return find_package_share(PACKAGE) / "launch"
