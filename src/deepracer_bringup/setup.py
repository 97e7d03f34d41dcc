from glob import glob
from pathlib import Path

from setuptools import find_packages, setup

package_name = "deepracer_bringup"


def _files(pattern: str) -> list[str]:
    """Existing files only: a colcon --symlink-install build folder keeps dangling links to removed files."""
    return sorted(f for f in glob(pattern) if Path(f).is_file())


setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
        # the launch files keep their folder layout, so $(dirname)/config/... resolves in share/ too
        ("share/" + package_name + "/launch", _files("launch/*.launch.xml") + _files("launch/README.md")),
        ("share/" + package_name + "/launch/config", _files("launch/config/*.yaml")),
        ("share/" + package_name + "/launch/gazebo", _files("launch/gazebo/*.yaml")),
        ("share/" + package_name + "/launch/rviz", _files("launch/rviz/*.rviz")),
    ],
    install_requires=["setuptools"],
    zip_safe=False,
    maintainer="DeepRacer workspace maintainers",
    maintainer_email="maintainers@deepracer-workspace.dev",
    description="Launch files, their parameter YAML and the rviz config of the DeepRacer graph (sim, car, "
                "Gazebo, training through ROS), installed into share/; the cross-package graph tests.",
    license="Apache-2.0",
    extras_require={"test": ["pytest"]},
)
