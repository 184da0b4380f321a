"""Rewrite the ROS 2 wheels' hard-coded builder paths (/opt/python/cpXY-cpXY) to this venv.

Why: the ros-jazzy-* wheels ship CMake export files and ament index entries that name the
wheel builder's Python and numpy include directories; rosidl builds of our interface package
fail on them. Idempotent; re-run after every pip install of ros-* packages.
"""

import re
import sys
import sysconfig
from pathlib import Path

import numpy


def main() -> int:
    py_inc, np_inc = sysconfig.get_paths()["include"], numpy.get_include()
    rules = [
        (re.compile(r"/opt/python/cp\d+-cp\d+t?/lib/python[\d.]+t?/site-packages/numpy/(?:_core/)?include"), np_inc),
        (re.compile(r"/opt/python/cp\d+-cp\d+t?/include/python[\d.]+t?"), py_inc),
        (re.compile(r"/opt/python/cp\d+-cp\d+t?"), sys.prefix),
    ]
    if sys.prefix == sys.base_prefix:
        sys.exit("fix_ros_wheel_paths: run with the venv python")
    if not Path(py_inc, "Python.h").is_file():
        sys.exit(f"fix_ros_wheel_paths: Python.h not found in {py_inc}; install the python dev headers")
    share = Path(sys.prefix, "share")
    files = [*share.glob("*/cmake/*.cmake"), *share.glob("ament_index/resource_index/parent_prefix_path/*")]
    changed = 0
    for path in files:
        text = path.read_text(errors="surrogateescape")
        new = text
        for pattern, replacement in rules:
            new = pattern.sub(lambda _m, r=replacement: r, new)
        if new != text:
            path.write_text(new, errors="surrogateescape")
            changed += 1
    print(f"fix_ros_wheel_paths: rewrote {changed} file(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
