from glob import glob

from setuptools import find_packages, setup

PACKAGE = "dp_teleop"

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
    description="Teleoperation devices (keyboard, gamepad, SpaceMouse) for recording demonstrations.",
    license="MIT",
    entry_points={"console_scripts": ["teleop_node = dp_teleop.teleop_node:main"]},
)
