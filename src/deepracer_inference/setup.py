from glob import glob

from setuptools import find_packages, setup

package_name = "deepracer_inference"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
        ("share/" + package_name + "/config", glob("config/*.xml")),
    ],
    install_requires=["setuptools"],
    package_data={"": ["*.json", "*.yaml", "*.urdf", "*.xacro", "*.npy", "*.obj", "*.sdf", "*.xml", "*.png", "*.txt"]},
    include_package_data=True,
    zip_safe=False,
    maintainer="DeepRacer workspace maintainers",
    maintainer_email="maintainers@deepracer-workspace.dev",
    description="DeepRacer model artifacts (ONNX / OpenVINO IR + model_metadata.json), inference engines and the inference node.",
    license="Apache-2.0",
    extras_require={"test": ["pytest"]},
    entry_points={
        "console_scripts": [
            "inference_node = deepracer_inference.nodes.inference_node:main",
        ],
    },
)
