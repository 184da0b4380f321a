"""Shared fixtures of the dp_policy_node tests: one tiny real checkpoint per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from dp_policy_node.tiny_policy import make_tiny_checkpoint, tiny_spec

CAMERA_HW = (48, 64)  # the smallest size whose ResNet feature map suits spatial softmax


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """Run directory of a policy trained for 2 CPU steps: camera 'front' 3x48x64 + joint_pos (3) → j1..j3."""
    spec = tiny_spec(cameras={"front": CAMERA_HW})
    return make_tiny_checkpoint(tmp_path_factory.mktemp("tiny_policy"), spec, steps=2, seed=0)
