"""One-off generator for the six ament_python package skeletons (kept for reference)."""
import sys
from pathlib import Path

PKGS = {
    "deepracer_description": ("URDF of the 1/18 DeepRacer car and the loader that turns it into vehicle and camera geometry.",
                              [], ["python3-numpy"], False),
    "deepracer_tracks": ("Track geometry, meshes, waypoints from meshes, DeepRacer .npy import/export, textures and the built-in track library.",
                         [], ["python3-numpy", "python3-scipy", "python3-matplotlib"], False),
    "deepracer_sim": ("Embedded batched DeepRacer simulator (dynamics, camera renderer, domain randomization), its ROS node and Gazebo worlds.",
                      ["deepracer_description", "deepracer_tracks"],
                      ["python3-numpy", "rclpy", "std_msgs", "sensor_msgs", "geometry_msgs", "nav_msgs", "visualization_msgs", "std_srvs"], True),
    "deepracer_inference": ("DeepRacer model artifacts (ONNX / OpenVINO IR + model_metadata.json), inference engines and the inference node.",
                            ["deepracer_description"],
                            ["python3-numpy", "rclpy", "std_msgs", "sensor_msgs", "geometry_msgs", "std_srvs"], True),
    "deepracer_control": ("Drive command to servo/ESC PWM: calibration, safety watchdog, PWM backends, control node and car camera node.",
                          ["deepracer_description"],
                          ["python3-numpy", "python3-opencv", "rclpy", "std_msgs", "sensor_msgs", "geometry_msgs", "std_srvs"], True),
    "deepracer_agent": ("Gymnasium env, reward contract, PPO training, robust evaluation, decoupled workers, the Gym-bridge node and the deepracer CLI.",
                        ["deepracer_description", "deepracer_tracks", "deepracer_sim", "deepracer_inference"],
                        ["python3-numpy", "python3-scipy", "python3-yaml", "python3-matplotlib", "python3-redis", "python3-boto3",
                         "rclpy", "std_msgs", "sensor_msgs", "geometry_msgs", "std_srvs"], True),
}

PACKAGE_XML = """<?xml version="1.0"?>
<?xml-model href="http://download.ros.org/schema/package_format3.xsd" schematypens="http://www.w3.org/2001/XMLSchema"?>
<package format="3">
  <name>{name}</name>
  <version>0.1.0</version>
  <description>{desc}</description>
  <maintainer email="maintainers@deepracer-workspace.dev">DeepRacer workspace maintainers</maintainer>
  <license>Apache-2.0</license>

{deps}
  <test_depend>python3-pytest</test_depend>

  <export>
    <build_type>ament_python</build_type>
  </export>
</package>
"""

SETUP_PY = '''from glob import glob

from setuptools import find_packages, setup

package_name = "{name}"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="DeepRacer workspace maintainers",
    maintainer_email="maintainers@deepracer-workspace.dev",
    description="{desc}",
    license="Apache-2.0",
    extras_require={{"test": ["pytest"]}},
    entry_points={{
        "console_scripts": [
        ],
    }},
)
'''

SETUP_CFG = """[develop]
script_dir=$base/lib/{name}
[install]
install_scripts=$base/lib/{name}
"""

root = Path(sys.argv[1])
for name, (desc, internal, external, has_nodes) in PKGS.items():
    p = root / "src" / name
    (p / name).mkdir(parents=True, exist_ok=True)
    (p / "resource").mkdir(exist_ok=True)
    (p / "test").mkdir(exist_ok=True)
    (p / "resource" / name).write_text("")
    deps = "\n".join(f"  <depend>{d}</depend>" for d in internal)
    deps += ("\n" if deps else "") + "\n".join(f"  <exec_depend>{d}</exec_depend>" for d in external)
    (p / "package.xml").write_text(PACKAGE_XML.format(name=name, desc=desc, deps=deps))
    (p / "setup.py").write_text(SETUP_PY.format(name=name, desc=desc))
    (p / "setup.cfg").write_text(SETUP_CFG.format(name=name))
    init = p / name / "__init__.py"
    if not init.exists():
        init.write_text(f'"""{desc}"""\n')
    if has_nodes:
        (p / name / "nodes").mkdir(exist_ok=True)
        ni = p / name / "nodes" / "__init__.py"
        if not ni.exists():
            ni.write_text('"""Thin rclpy adapters around the core of this package."""\n')
