from glob import glob

from setuptools import find_packages, setup

PACKAGE = "dp_policy_node"

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
    extras_require={"test": ["pytest", "hypothesis"]},
    zip_safe=True,
    maintainer="dp_ros2 maintainers",
    maintainer_email="dp_ros2@example.com",
    description="Observation sync, lifecycle policy and chunk executor nodes for diffusion policies.",
    license="MIT",
    entry_points={
        "console_scripts": [],
        # Test isolation (own ROS_DOMAIN_ID, localhost discovery, logs in the workspace) for every
        # pytest run in an environment where this package is installed, colcon test included.
        "pytest11": ["dp_ros_testing = dp_policy_node.testing"],
    },
)
