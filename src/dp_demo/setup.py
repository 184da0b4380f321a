from setuptools import find_packages, setup

PACKAGE = "dp_demo"

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
    description="The whole pipeline in simulation (python -m dp_demo): record, convert, train, deploy, evaluate.",
    license="MIT",
)
