from glob import glob

from setuptools import find_packages, setup

PACKAGE = "dp_recorder"

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
    description="Episode recording to rosbag2 (MCAP) and conversion of bags to zarr training sets.",
    license="MIT",
    entry_points={
        "console_scripts": [
            "recorder_node = dp_recorder.recorder_node:main",
            "dp-convert = dp_recorder.convert_cli:main",
            "dp-recover = dp_recorder.recover_cli:main",
            "dp-replay-eval = dp_recorder.replay_eval_cli:main",
            "dp-eval-robot = dp_recorder.robot_eval_cli:main",
        ]
    },
)
