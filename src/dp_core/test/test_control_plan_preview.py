"""PlanPreview: which actions of each chunk the executor executed, has ahead, or discarded.

Properties: every action has exactly one state; an action is executed only if its time lies in the
chunk's active interval and has passed; a superseded chunk's tail after the takeover is discarded;
a chunk the executor never names is discarded after two statuses. Checked against the real
ChunkExecutor's progress too (its active_sequence and mode, as dp/executor_status carries them).
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
from dp_core.control.limits import JointLimits
from dp_core.control.plan_preview import (
    DISCARDED,
    EXECUTED,
    PENDING,
    PlanPreview,
    executor_follows_plan,
    pose_vectors,
)

MS, S = 1_000_000, 1_000_000_000
JOINTS = ("j1", "j2", "j3")


def chunk(seq: int, start_ns: int, horizon: int = 10, dt: float = 0.1, names=JOINTS, base: float = 0.0):
    actions = base + np.outer(np.arange(horizon) * 0.01, np.ones(len(names)))
    return ActionChunkData(start_ns, start_ns, dt, names, actions.astype(np.float32), horizon, seq)


def test_active_chunk_splits_at_now_and_a_newer_one_discards_its_tail():
    p = PlanPreview()
    p.add_chunk(chunk(1, 1 * S), receipt_ns=1 * S)
    assert p.latest(1 * S).count(PENDING) == 10  # nothing reported yet
    p.set_progress(1, True, 1 * S + 50 * MS)
    c1 = p.latest(1 * S + 350 * MS)
    assert c1.states.tolist() == [EXECUTED] * 4 + [PENDING] * 6  # actions at 0, .1, .2, .3 s
    p.add_chunk(chunk(2, 1 * S + 400 * MS), receipt_ns=1 * S + 420 * MS)
    p.set_progress(2, True, 1 * S + 450 * MS)
    old, new = p.previews(2 * S)
    # chunk 2 took over at max(start, receipt) = 1.42 s: chunk 1's actions after it are discarded
    assert old.states.tolist() == [EXECUTED] * 5 + [DISCARDED] * 5
    assert new.sequence == 2 and new.states[0] == DISCARDED  # 1.40 s < takeover 1.42 s: skipped
    assert new.states[1:].tolist() == [EXECUTED] * 6 + [PENDING] * 3  # 1.5 .. 2.0 s executed
    assert [r[0] for r in old.runs()] == [EXECUTED, DISCARDED] and old.runs()[0] == (EXECUTED, 0, 4)


def test_a_stop_cuts_the_chunk_and_a_refused_chunk_is_discarded():
    p = PlanPreview(keep=3)
    p.add_chunk(chunk(1, 0), 0)
    p.set_progress(1, True, 10 * MS)
    p.set_progress(1, executor_follows_plan("stopping", "policy inactive"), 250 * MS)
    assert p.latest(5 * S).states.tolist() == [EXECUTED] * 3 + [DISCARDED] * 7
    p.add_chunk(chunk(2, 300 * MS), 300 * MS)  # refused by the executor: it keeps naming chunk 1
    p.set_progress(1, False, 310 * MS)
    assert p.latest(400 * MS).count(PENDING) == 10  # one status may predate the acceptance
    p.set_progress(1, False, 410 * MS)
    assert p.latest(500 * MS).count(DISCARDED) == 10
    assert len(p.previews(0)) == 2


def test_follows_plan_from_the_status_fields():
    assert executor_follows_plan("executing", "")
    assert executor_follows_plan("stopping", "plan exhausted (no new chunk)")
    assert executor_follows_plan("idle", "no plan yet")  # accepted, first tick not yet run
    assert not executor_follows_plan("stopping", "policy inactive")
    assert not executor_follows_plan("holding", "plan exhausted (no new chunk)")
    assert not executor_follows_plan("idle", "robot state stale")


@settings(max_examples=60, deadline=None)
@given(
    takeovers=st.lists(st.integers(0, 3000), min_size=1, max_size=5),
    now=st.integers(0, 4000),
    stop=st.one_of(st.none(), st.integers(0, 4000)),
)
def test_states_partition_and_only_past_active_times_are_executed(takeovers, now, stop):
    p = PlanPreview(keep=len(takeovers))
    starts = sorted(takeovers)
    for seq, t in enumerate(starts, 1):
        p.add_chunk(chunk(seq, t * MS), t * MS)
        p.set_progress(seq, True, t * MS)
    stop = stop if stop is not None and stop >= starts[-1] else None
    if stop is not None:
        p.set_progress(len(starts), False, stop * MS)
    previews = p.previews(now * MS)
    for k, pv in enumerate(previews):
        assert set(pv.states.tolist()) <= {EXECUTED, PENDING, DISCARDED}
        begin = starts[k] * MS
        end = starts[k + 1] * MS if k + 1 < len(starts) else (stop * MS if stop is not None else None)
        cut = now * MS if end is None else min(now * MS, max(begin, end))
        executed = (pv.times_ns >= begin) & (pv.times_ns <= cut)
        assert np.array_equal(pv.states == EXECUTED, executed)
        pending = (pv.times_ns > now * MS) & (end is None)
        assert np.array_equal(pv.states == PENDING, pending)
        assert sum(pv.count(s) for s in (EXECUTED, PENDING, DISCARDED)) == pv.times_ns.size


def test_pose_vectors_fill_what_the_actions_lack():
    lay = ActionLayout.from_names(("x", "y", "gripper"))
    defaults = (0.0, 0.0, 0.25, 1.0, 0.0, 0.0, 0.0)
    out = pose_vectors(np.array([[0.4, -0.1, 0.02], [0.5, 0.1, 0.0]]), lay, defaults)
    assert out.tolist() == [[0.4, -0.1, 0.25, 1.0, 0.0, 0.0, 0.0], [0.5, 0.1, 0.25, 1.0, 0.0, 0.0, 0.0]]
    with pytest.raises(ValueError, match="no Cartesian position"):
        pose_vectors(np.zeros((1, 3)), ActionLayout.from_names(JOINTS))
    with pytest.raises(ValueError, match="7 values"):
        pose_vectors(np.zeros((1, 3)), lay, (1.0, 2.0))


def test_joint_end_state_is_the_last_action_in_layout_order():
    actions = np.array([[0.0, 0.0, 0.0], [0.2, 0.1, 0.3]], dtype=np.float32)  # chunk order j2, j1, j3
    pv = PlanPreview()
    pv.add_chunk(ActionChunkData(0, 0, 0.1, ("j2", "j1", "j3"), actions, 2, 1), 0)
    names, q = pv.latest(0).joint_end_state(ActionLayout.from_names(JOINTS))
    assert names == ["j1", "j2", "j3"] and np.allclose(q, [0.1, 0.2, 0.3])


@pytest.mark.parametrize("mode", ["position", "trajectory"])
def test_progress_of_the_real_executor_drives_the_preview(mode):
    """The executor accepts chunk 1, follows it 0.35 s, then chunk 2 takes over; the preview fed with
    the executor's active_sequence/mode at 10 Hz (as dp/executor_status) splits chunk 1 at chunk 2's
    takeover; after a deactivation the rest of chunk 2 is discarded."""
    lim = JointLimits(JOINTS, -3.0, 3.0, [2.0] * 3, [20.0] * 3)
    ex = ChunkExecutor(ChunkExecutorConfig(ChunkScheduleConfig(JOINTS, joint_limits=lim), output_mode=mode))
    p = PlanPreview()
    ex.set_policy_state("active", 0)
    t = 0
    arrivals = {0: chunk(1, 0), 352 * MS: chunk(2, 352 * MS, base=0.04)}
    active = 0
    while t <= 1200 * MS:
        ex.set_joint_state(JOINTS, [0.0] * 3, t, t)
        ex.set_policy_state("active" if t < 800 * MS else "inactive", t)
        if t in arrivals:
            assert ex.add_chunk(arrivals[t], t)
            p.add_chunk(arrivals[t], t)
        out = ex.tick(t)
        if t % (100 * MS) == 0:
            p.set_progress(ex.active_sequence, executor_follows_plan(out.mode, out.reason), t)
            active = max(active, ex.active_sequence)
        t += 4 * MS
    first, second = p.previews(t)
    assert first.states.tolist() == [EXECUTED] * 4 + [DISCARDED] * 6
    # chunk 2: 0.352 .. 0.80 s followed (a status every 0.1 s: the stop is seen at 0.8 s)
    assert second.states.tolist() == [EXECUTED] * 5 + [DISCARDED] * 5 and active == 2
    assert ex.mode in ("idle", "stopping", "holding")
