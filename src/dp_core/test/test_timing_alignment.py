"""Observation windows: latest sample not after each target, staleness, offline equivalence."""

import numpy as np
import pytest

from dp_core.timing.alignment import (
    AlignmentConfig,
    build_window,
    make_ticks,
    resample_indices,
    resample_stream,
    target_times,
)
from dp_core.timing.observation_window import ObservationWindowData
from dp_core.timing.stream_buffer import StreamBuffer

MS = 1_000_000
S = 1_000_000_000


class Streams:
    """One StreamBuffer per stream and ``build_window`` over them (what WindowTrigger holds)."""

    def __init__(self, config: AlignmentConfig, kinds: dict, capacity: int = 256) -> None:
        self.config, self.kinds = config, kinds
        self.buffers = {name: StreamBuffer(capacity, name) for name in kinds}

    def add(self, name: str, stamp_ns: int, value) -> None:
        self.buffers[name].add(stamp_ns, value)

    def build(self, now_ns: int):
        return build_window(self.buffers, self.kinds, now_ns, self.config)


def synthetic_streams(rng: np.random.Generator, duration_s: float = 2.0):
    """Two cameras at 30 Hz with +-3 ms jitter, joint states at 500 Hz (stamps in ns)."""
    cams = {}
    for name, offset in (("cam_a", 0), ("cam_b", 11 * MS)):
        nominal = offset + np.arange(int(duration_s * 30)) * (S // 30)
        cams[name] = nominal + rng.integers(-3 * MS, 3 * MS, size=nominal.size)
    joints = np.arange(int(duration_s * 500)) * (S // 500) + 7
    return cams, joints


def image_for(stamp: int) -> np.ndarray:
    """A tiny frame whose pixels encode the stamp, so a window's pixels identify the sample."""
    return np.full((4, 6, 3), stamp // MS % 251, dtype=np.uint8)


def fill(builder: Streams, cams, joints, until_ns: int) -> None:
    for name, stamps in cams.items():
        for s in stamps[stamps <= until_ns]:
            builder.add(name, int(s), image_for(int(s)))
    for s in joints[joints <= until_ns]:
        builder.add("joints", int(s), np.array([s / S, -s / S], dtype=np.float64))


def brute_latest_not_after(stamps: np.ndarray, t: int) -> int:
    before = stamps[stamps <= t]
    return int(before.max())


def make_builder(n_obs_steps: int = 3) -> Streams:
    config = AlignmentConfig(n_obs_steps=n_obs_steps, dt_s=0.1, max_age_s=0.2)
    return Streams(config, {"cam_a": "rgb", "cam_b": "rgb", "joints": "low_dim"}, capacity=2000)


def test_window_picks_latest_not_after_each_target():
    rng = np.random.default_rng(0)
    cams, joints = synthetic_streams(rng)
    builder = make_builder()
    now = int(1.5 * S) + 2 * MS
    fill(builder, cams, joints, now)
    result = builder.build(now)
    assert result.ok, result.message
    window = result.window
    newest_complete = min(
        cams["cam_a"][cams["cam_a"] <= now].max(),
        cams["cam_b"][cams["cam_b"] <= now].max(),
        joints[joints <= now].max(),
    )
    assert window.stamps_ns[-1] == newest_complete
    assert np.all(np.diff(window.stamps_ns) == 100 * MS)
    for name, stamps in cams.items():
        expected = [brute_latest_not_after(stamps[stamps <= now], int(t)) for t in window.stamps_ns]
        assert window.sample_stamps_ns[name].tolist() == expected
        assert window.images[name].shape == (3, 4, 6, 3) and window.images[name].dtype == np.uint8
        assert [int(f[0, 0, 0]) for f in window.images[name]] == [e // MS % 251 for e in expected]
    expected_j = [brute_latest_not_after(joints, int(t)) for t in window.stamps_ns]
    assert window.sample_stamps_ns["joints"].tolist() == expected_j
    assert window.low_dim["joints"].dtype == np.float32
    np.testing.assert_allclose(window.low_dim["joints"][:, 0], np.array(expected_j) / S, rtol=1e-6)


def test_stale_stream_is_named_and_recovers():
    rng = np.random.default_rng(1)
    cams, joints = synthetic_streams(rng)
    builder = make_builder()
    stop = int(1.0 * S)
    # cam_b stops at 1.0 s; the others continue to 1.5 s
    for name, stamps in cams.items():
        limit = stop if name == "cam_b" else int(1.5 * S)
        for s in stamps[stamps <= limit]:
            builder.add(name, int(s), image_for(int(s)))
    for s in joints[joints <= int(1.5 * S)]:
        builder.add("joints", int(s), np.zeros(2))
    now = int(1.5 * S)
    result = builder.build(now)
    assert not result.ok and result.window is None
    assert list(result.stale) == ["cam_b"]
    age = (now - cams["cam_b"][cams["cam_b"] <= stop].max()) / S
    assert result.stale["cam_b"] == pytest.approx(age)
    assert "cam_b" in result.message and "stale" in result.message
    # cam_b resumes
    for s in cams["cam_b"][(cams["cam_b"] > stop) & (cams["cam_b"] <= now)]:
        builder.add("cam_b", int(s), image_for(int(s)))
    assert builder.build(now).ok


def test_missing_stream_and_short_history_are_reported():
    builder = make_builder(n_obs_steps=3)
    builder.add("cam_a", 1 * S, image_for(S))
    builder.add("joints", 1 * S, np.zeros(2))
    result = builder.build(1 * S)
    assert not result.ok and result.missing == ["cam_b"] and "cam_b" in result.message
    builder.add("cam_b", 1 * S, image_for(S))
    result = builder.build(1 * S)  # one sample each, but the window needs 0.2 s of history
    assert not result.ok and result.missing and "oldest target" in result.message


def test_bad_sample_invalidates_window_without_raising():
    config = AlignmentConfig(n_obs_steps=1, dt_s=0.1, max_age_s=1.0)
    builder = Streams(config, {"cam": "rgb"})
    builder.add("cam", 5, np.zeros((2, 2), dtype=np.float32))
    result = builder.build(5)
    assert not result.ok and "(H, W, 3) uint8" in result.message


def test_offline_resampling_matches_live_windows():
    rng = np.random.default_rng(2)
    cams, joints = synthetic_streams(rng)
    ticks = make_ticks(int(0.3 * S), int(1.9 * S), 0.1)
    builder = make_builder(n_obs_steps=2)
    fill(builder, cams, joints, int(2 * S))
    shuffled = rng.permutation(cams["cam_a"])  # bags may hold messages out of stamp order
    idx = resample_stream(shuffled, list(shuffled), ticks)
    for i in range(1, len(ticks)):
        live = builder.buffers["cam_a"].samples_not_after(target_times(int(ticks[i]), 2, 100 * MS))
        assert [s[0] for s in live] == shuffled[idx[i - 1 : i + 1]].tolist()


def test_make_ticks_and_resample_edges():
    ticks = make_ticks(0, S, 1 / 30)
    assert ticks[0] == 0 and ticks[-1] <= S and np.all(np.diff(ticks) == 33_333_333)
    assert make_ticks(10, 5, 0.1).size == 0
    assert resample_indices([5, 10], [0, 5, 7, 10, 11]).tolist() == [-1, 0, 0, 1, 1]
    assert resample_indices([10, 5, 10], [10]).tolist() == [2]  # duplicate: later-recorded wins
    with pytest.raises(ValueError, match="pair up"):
        resample_stream([1, 2], [0], [3])


def test_config_and_window_validation():
    with pytest.raises(ValueError, match="n_obs_steps"):
        AlignmentConfig(n_obs_steps=0, dt_s=0.1, max_age_s=1)
    with pytest.raises(ValueError, match="dt_s"):
        AlignmentConfig(n_obs_steps=1, dt_s=0.0, max_age_s=1)
    with pytest.raises(ValueError, match="max_age_s"):
        AlignmentConfig(n_obs_steps=1, dt_s=0.1, max_age_s=float("nan"))
    with pytest.raises(ValueError, match="float32"):
        ObservationWindowData(stamps_ns=np.array([1, 2]), low_dim={"j": np.zeros((2, 3))}, images={})
    builder = Streams(AlignmentConfig(1, 0.1, 1.0), {"x": "depth"})
    builder.add("x", 5, np.zeros(2))
    assert "kind must be 'rgb' or 'low_dim'" in builder.build(5).message
