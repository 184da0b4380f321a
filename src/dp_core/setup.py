"""dp_core: pip package and ament_python package from one definition (see pyproject.toml)."""

from setuptools import find_packages, setup

PACKAGE = "dp_core"

setup(
    name=PACKAGE,
    version="0.1.0",
    description="Diffusion Policy library: denoisers, sampling, data, training and inference (no ROS).",
    license="MIT",
    python_requires=">=3.10",
    packages=find_packages(exclude=["test", "test.*"]),
    package_data={PACKAGE: ["py.typed"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
    ],
    install_requires=[
        "numpy",
        "scipy",
        "torch",
        "zarr>=2.18,<3",
        "numcodecs",
        "safetensors",
        "pyyaml",
        "tqdm",
        "tensorboard",
        "opencv-python-headless",
    ],
    extras_require={"test": ["pytest", "hypothesis"], "viz": ["matplotlib", "imageio", "av"]},  # dp-dataset-viz
    zip_safe=True,
    entry_points={
        "console_scripts": [
            "dp-train = dp_core.training.cli:main",
            "dp-import-original = dp_core.import_original:main",
            "dp-eval = dp_core.evaluation.cli:main",
            "dp-dataset-viz = dp_core.data.viz_cli:main",
        ],
    },
)
