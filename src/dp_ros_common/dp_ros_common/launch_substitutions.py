"""Launch substitutions our launch files share (imported by launch files only: needs ``launch``).

Why: a robot profile defines the joint list once with YAML anchors, and rcl's params-file parser
refuses aliases (see :mod:`dp_ros_common.params_file`). A launch file that passes the profile to a
``Node(parameters=[...])`` passes it as ``--params-file``, so it passes
``AliasFreeParamsFile(LaunchConfiguration("robot_profile"))``: the path of an alias-free copy,
resolved when the launch runs (launch's ``Substitution.perform``, as launch's own
``substitutions/*.py`` do).
"""

from __future__ import annotations

from typing import Any

from launch.substitution import Substitution
from launch.utilities import normalize_to_list_of_substitutions, perform_substitutions

from dp_ros_common.params_file import resolve


class AliasFreeParamsFile(Substitution):
    """The path of ``path`` (a substitution or text) with its YAML aliases expanded."""

    def __init__(self, path: Any) -> None:
        super().__init__()
        self._path = normalize_to_list_of_substitutions(path)

    def describe(self) -> str:
        return f"AliasFreeParamsFile({' + '.join(s.describe() for s in self._path)})"

    def perform(self, context: Any) -> str:
        return resolve(perform_substitutions(context, self._path))
