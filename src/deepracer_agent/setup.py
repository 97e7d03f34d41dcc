
from setuptools import find_packages, setup

package_name = "deepracer_agent"

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
    description="Gymnasium env, reward contract, PPO training, robust evaluation, decoupled workers, the Gym-bridge node and the deepracer CLI.",
    license="Apache-2.0",
    extras_require={"test": ["pytest"]},
    entry_points={
        "console_scripts": [
            "gym_bridge_node = deepracer_agent.nodes.gym_bridge_node:main",
        ],
        # `deepracer <verb>` (dispatcher: deepracer_common.cli)
        "deepracer.commands": [
            "train = deepracer_agent.commands.train:main",
            "evaluate = deepracer_agent.evaluate:main",
            "export = deepracer_agent.export:main",
            "demo = deepracer_agent.demo:main",
            "trainer = deepracer_agent.distributed.trainer:main",
            "worker = deepracer_agent.distributed.worker:main",
            "evaluator = deepracer_agent.distributed.evaluator:main",
            "transfer = deepracer_agent.transfer:main",
            "runs = deepracer_agent.runs:main",
        ],
    },
)
