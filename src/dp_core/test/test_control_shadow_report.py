"""ShadowTracker: per chunk, the distance between what the executor would command and what the arm did.

Fed with the real ChunkExecutor's outputs while the "arm" (the measured state) stands still or
moves on its own (a person teleoperating), the report must equal the distances computed directly
from the same commands and states, chunk by chunk, and close when a chunk hands over or the
executor stops.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dp_core.control.action_chunk import ActionChunkData
from dp_core.control.chunk_schedule_config import ChunkScheduleConfig
from dp_core.control.executor import ChunkExecutor, ChunkExecutorConfig
from dp_core.control.layout import ActionLayout
from dp_core.control.limits import CartesianLimits, JointLimits
from dp_core.control.shadow_report import ShadowTracker, compared_indices

MS = 1_000_000
JOINTS = ("j1", "j2", "gripper")


def chunk(seq: int, start_ns: int, target: float, names=JOINTS) -> ActionChunkData:
    actions = np.outer(np.linspace(0.0, target, 10), np.ones(len(names))).astype(np.float32)
    return ActionChunkData(start_ns, start_ns, 0.1, names, actions, 10, seq)


def test_compared_indices_leave_out_grippers_and_orientation():
    assert compared_indices(ActionLayout.from_names(JOINTS), "trajectory") == ([0, 1], "rad")
    pose = ActionLayout.from_names(("x", "y", "z", "qx", "qy", "qz", "qw"))
    assert compared_indices(pose, "pose") == ([0, 1, 2], "m")
    with pytest.raises(ValueError, match="no action dimensions"):
        ShadowTracker([], "rad")


@pytest.mark.parametrize("arm", ["still", "teleoperated"])
def test_reports_match_the_distances_of_the_real_executor(arm):
    lim = JointLimits(("j1", "j2"), -3.0, 3.0, [1.0, 1.0], [10.0, 10.0])
    ex = ChunkExecutor(ChunkExecutorConfig(ChunkScheduleConfig(JOINTS, joint_limits=lim), output_mode="position"))
    idx, unit = compared_indices(ex.layout, "position")
    tracker = ShadowTracker(idx, unit)
    expected: dict[int, list[float]] = {}
    reports = []
    t = 0
    for k in range(300):  # 1.2 s at 250 Hz; chunk 2 at 0.4 s; the policy stops at 0.9 s
        q = np.zeros(3) if arm == "still" else np.array([0.3 * t / 1e9, -0.2 * t / 1e9, 0.0])
        ex.set_joint_state(JOINTS, q.tolist(), t, t)
        ex.set_policy_state("active" if t < 900 * MS else "inactive", t)
        if k == 0:
            assert ex.add_chunk(chunk(1, t, 0.5), t)
        if k == 100:
            assert ex.add_chunk(chunk(2, t, -0.3), t)
        out = ex.tick(t)
        measured = ex.watchdog.measured
        if out.mode in ("executing", "stopping") and out.command is not None:
            expected.setdefault(ex.active_sequence, []).append(float(np.linalg.norm(out.command[idx] - q[idx])))
        if (r := tracker.add(ex.active_sequence, out.mode, t, out.command, measured)) is not None:
            reports.append(r)
        t += 4 * MS
    if (r := tracker.close()) is not None:
        reports.append(r)
    assert [r.sequence for r in reports] == [1, 2]
    for r in reports:
        d = np.asarray(expected[r.sequence])
        assert r.samples == d.size and r.unit == "rad"
        assert r.mean_distance == pytest.approx(d.mean(), rel=1e-12)
        assert r.max_distance == pytest.approx(d.max(), rel=1e-12) and r.final_distance == pytest.approx(d[-1])
        assert r.duration_s == pytest.approx((d.size - 1) * 0.004, abs=1e-9)
    assert reports[0].samples == 100  # ticks 0..99 belong to chunk 1
    assert reports[1].max_distance > 0.1


@settings(max_examples=50, deadline=None)
@given(
    ticks=st.lists(
        st.tuples(st.integers(1, 3), st.sampled_from(["executing", "stopping", "holding", "idle"]), st.floats(-1, 1)),
        min_size=1,
        max_size=40,
    )
)
def test_every_moving_tick_is_in_exactly_one_report(ticks):
    tracker = ShadowTracker([0, 1], "rad")
    reports, moving = [], 0
    for k, (seq, mode, x) in enumerate(ticks):
        moving += mode in ("executing", "stopping")
        if (r := tracker.add(seq, mode, k * MS, np.array([x, 0.0]), np.zeros(2))) is not None:
            reports.append(r)
    if (r := tracker.close()) is not None:
        reports.append(r)
    assert sum(r.samples for r in reports) == moving
    for r in reports:
        assert r.max_distance >= r.mean_distance - 1e-12 and r.samples >= 1


def test_pose_mode_distance_is_the_position_in_metres():
    box = CartesianLimits([-1, -1, 0], [1, 1, 1], 0.5, 1.0, 5.0, 10.0)
    names = ("x", "y", "z", "qx", "qy", "qz", "qw")
    ex = ChunkExecutor(ChunkExecutorConfig(ChunkScheduleConfig(names, cartesian_limits=box), output_mode="pose"))
    tracker = ShadowTracker(*compared_indices(ex.layout, "pose"))
    actions = np.tile([0.3, 0.0, 0.4, 0, 0, 0, 1], (5, 1)).astype(np.float32)
    actions[:, 0] += np.linspace(0, 0.2, 5)
    ex.set_policy_state("active", 0)
    ex.set_pose([0.3, 0.0, 0.4], [0, 0, 0, 1], 0, 0)
    assert ex.add_chunk(ActionChunkData(0, 0, 0.1, names, actions, 5, 1), 0)
    dists = []
    for k in range(50):
        t = k * 4 * MS
        ex.set_pose([0.3, 0.0, 0.4], [0, 0, 0, 1], t, t)
        out = ex.tick(t)
        dists.append(abs(float(out.command[0]) - 0.3))
        assert tracker.add(1, out.mode, t, out.command, ex.watchdog.measured) is None
    r = tracker.close()
    assert r is not None and r.unit == "m" and r.max_distance == pytest.approx(max(dists))
