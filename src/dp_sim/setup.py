from glob import glob

from setuptools import find_packages, setup

PACKAGE = "dp_sim"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
    ],
    install_requires=["setuptools"],
    extras_require={"test": ["pytest"]},
    zip_safe=True,
    maintainer="dp_ros2 maintainers",
    maintainer_email="dp_ros2@example.com",
    description="MuJoCo simulation of a Franka FR3 Push-T table that behaves like the real robot's ROS interface.",
    license="MIT",
    entry_points={
        "console_scripts": [
            "sim_node = dp_sim.sim_node:main",
            "expert_node = dp_sim.expert_node:main",
            "task_state_node = dp_sim.task_state_node:main",
        ]
    },
)
