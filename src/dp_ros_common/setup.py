from setuptools import find_packages, setup

PACKAGE = "dp_ros_common"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
    ],
    install_requires=["setuptools"],
    extras_require={"test": ["pytest"]},
    zip_safe=True,
    maintainer="dp_ros2 maintainers",
    maintainer_email="dp_ros2@example.com",
    description="ROS helpers shared by every dp_ros2 node package: node main, parameters, stamps, test plugin.",
    license="MIT",
    entry_points={
        # Test isolation (own ROS_DOMAIN_ID, localhost discovery, logs in the workspace) for every
        # pytest run in an environment where this package is installed, colcon test included.
        "pytest11": ["dp_ros_testing = dp_ros_common.testing"],
    },
)
