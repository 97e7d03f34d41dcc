
from setuptools import find_packages, setup

package_name = "deepracer_control"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
    ],
    install_requires=["setuptools"],
    package_data={"": ["*.json", "*.yaml", "*.urdf", "*.xacro", "*.npy", "*.obj", "*.sdf", "*.xml", "*.png", "*.txt", "*.html", "*.js", "*.css"]},
    include_package_data=True,
    zip_safe=False,
    maintainer="DeepRacer workspace maintainers",
    maintainer_email="maintainers@deepracer-workspace.dev",
    description="Drive command to servo/ESC PWM: calibration, safety watchdog, PWM backends, control node, car camera node and the web console.",
    license="Apache-2.0",
    extras_require={"test": ["pytest"]},
    entry_points={
        "console_scripts": [
            "control_node = deepracer_control.nodes.control_node:main",
            "camera_node = deepracer_control.nodes.camera_node:main",
            "console_node = deepracer_control.nodes.console_node:main",
        ],
        # `deepracer <verb>` (dispatcher: deepracer_common.cli)
        "deepracer.commands": [
            "calibrate = deepracer_control.calibrate:main",
        ],
    },
)
