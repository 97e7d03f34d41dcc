from setuptools import find_packages, setup

package_name = "deepracer_common"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=False,
    maintainer="DeepRacer workspace maintainers",
    maintainer_email="maintainers@deepracer-workspace.dev",
    description="Ground floor of the workspace: validated options, atomic files, ROS parameter helpers, "
                "the XML launch runner and the deepracer command dispatcher.",
    license="Apache-2.0",
    extras_require={"test": ["pytest"]},
    entry_points={
        "console_scripts": [
            "deepracer = deepracer_common.cli:main",
        ],
        "deepracer.commands": [
            "launch = deepracer_common.launch_runner:main",
        ],
    },
)
