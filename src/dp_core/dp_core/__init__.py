"""dp_core: the Diffusion Policy library of dp_ros2.

Pure Python + PyTorch. Nothing in this package imports ROS, so a training box without ROS
installs only this (``pip install src/dp_core``).
"""

__version__ = "0.1.0"
