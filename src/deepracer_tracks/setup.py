
from setuptools import find_packages, setup

package_name = "deepracer_tracks"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
    ],
    install_requires=["setuptools"],
    package_data={"": ["*.json", "*.yaml", "*.urdf", "*.xacro", "*.npy", "*.obj", "*.sdf", "*.xml", "*.png", "*.txt"]},
    include_package_data=True,
    zip_safe=False,
    maintainer="DeepRacer workspace maintainers",
    maintainer_email="maintainers@deepracer-workspace.dev",
    description="Track geometry, meshes, waypoints from meshes, DeepRacer .npy import/export, textures and the built-in track library.",
    license="Apache-2.0",
    extras_require={"test": ["pytest"]},
    entry_points={
        # `deepracer <verb>` (dispatcher: deepracer_common.cli)
        "deepracer.commands": [
            "tracks = deepracer_tracks.cli:main",
        ],
    },
)
