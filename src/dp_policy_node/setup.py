import os
from glob import glob
from pathlib import Path

from setuptools import find_packages, setup

PACKAGE = "dp_policy_node"
# The workspace keeps launch/ and config/robots/ at the repository root; install them into this
# package's share so `ros2 launch dp_policy_node franka.launch.py` works. Relative paths (setuptools
# refuses absolute ones), computed from the real setup.py also when colcon runs it from build/.
ROOT = os.path.relpath(Path(__file__).resolve().parents[2], os.getcwd())

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.py") + glob(f"{ROOT}/launch/*.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
        (f"share/{PACKAGE}/config/robots", glob(f"{ROOT}/config/robots/*.yaml")),
        (f"share/{PACKAGE}/config/rviz", glob(f"{ROOT}/config/rviz/*.rviz")),
    ],
    install_requires=["setuptools"],
    extras_require={"test": ["pytest", "hypothesis"]},
    zip_safe=True,
    maintainer="dp_ros2 maintainers",
    maintainer_email="dp_ros2@example.com",
    description="Observation sync, lifecycle policy and chunk executor nodes for diffusion policies.",
    license="MIT",
    entry_points={
        "console_scripts": [
            "observation_node = dp_policy_node.observation_node:main",
            "policy_node = dp_policy_node.policy_node:main",
            "chunk_executor_node = dp_policy_node.chunk_executor_node:main",
            "dp_bringup = dp_policy_node.bringup:main",
            "ready_pose_node = dp_policy_node.ready_pose_node:main",
            "gripper_bridge_node = dp_policy_node.gripper_bridge_node:main",
            "plan_preview_node = dp_policy_node.plan_preview_node:main",
        ],
    },
)
