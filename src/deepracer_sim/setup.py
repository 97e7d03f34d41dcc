from glob import glob
from pathlib import Path

from setuptools import find_packages, setup

package_name = "deepracer_sim"


def _files(pattern: str) -> list[str]:
    """Existing files only: a colcon --symlink-install build folder keeps dangling links to removed files."""
    return sorted(f for f in glob(pattern, recursive=True) if Path(f).is_file())


setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
        ("share/" + package_name + "/worlds", _files("worlds/*.sdf")),
    ] + [
        # models/<name>/{model.config, model.sdf, meshes/...}: keep the folder layout Gazebo expects
        ("share/" + package_name + "/" + folder, _files(folder + "/*.*"))
        for folder in sorted({str(Path(f).parent) for f in _files("models/**/*.*")})
    ],
    install_requires=["setuptools"],
    package_data={"": ["*.json", "*.yaml", "*.urdf", "*.xacro", "*.npy", "*.obj", "*.sdf", "*.xml", "*.png", "*.txt"]},
    include_package_data=True,
    zip_safe=False,
    maintainer="DeepRacer workspace maintainers",
    maintainer_email="maintainers@deepracer-workspace.dev",
    description="Embedded batched DeepRacer simulator (dynamics, camera renderer, domain randomization), its ROS node and Gazebo worlds.",
    license="Apache-2.0",
    extras_require={"test": ["pytest"]},
    entry_points={
        "console_scripts": [
            "sim_node = deepracer_sim.nodes.sim_node:main",
            "gz_referee_node = deepracer_sim.nodes.gz_referee_node:main",
        ],
        # `deepracer <verb>` (dispatcher: deepracer_common.cli)
        "deepracer.commands": [
            "sim = deepracer_sim.cli:main",
            "gazebo = deepracer_sim.gazebo:main",
        ],
    },
)
