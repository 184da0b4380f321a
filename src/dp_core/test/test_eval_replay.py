"""Replay evaluation's logic with predictors whose chunks are known (no torch, no bags)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dp_core.evaluation.replay_eval import (
    ReplayConfig,
    ReplayEpisode,
    chunk_seed,
    evaluate_episode,
    observation_window,
    summary_metrics,
)
from dp_core.spec import ObsKeySpec, PolicySpec
from dp_core.timing.observation_window import ObservationWindowData

DT_NS = 100_000_000


def _spec(n_obs: int = 2, horizon: int = 8, n_action: int = 4, dims: int = 2) -> PolicySpec:
    return PolicySpec(
        obs=(ObsKeySpec("q", "low_dim", (1,)),),
        action_dim=dims,
        n_obs_steps=n_obs,
        horizon=horizon,
        n_action_steps=n_action,
        dt_s=0.1,
    )


def _episode(length: int, dims: int = 2, seed: int = 0) -> ReplayEpisode:
    rng = np.random.default_rng(seed)
    ticks = 7_000_000_000 + np.arange(length, dtype=np.int64) * DT_NS
    return ReplayEpisode(
        name="ep",
        ticks_ns=ticks,
        low_dim={"q": np.arange(length, dtype=np.float32)[:, None]},  # q = row index
        images={},
        actions=rng.normal(size=(length, dims)).astype(np.float32),
    )


def _oracle(episode: ReplayEpisode, spec: PolicySpec, offset: np.ndarray, per_sample: float):
    """Returns the recorded future + offset (+ per_sample * k on dim 0 for sample k); 1e6 past the end."""

    def predict(window: ObservationWindowData, seed: int) -> np.ndarray:
        row = int(window.low_dim["q"][-1, 0])
        assert window.stamps_ns[-1] == episode.ticks_ns[row]  # newest target = the row's time
        k = [chunk_seed(0, episode.name, row, j) for j in range(8)].index(seed)  # the sample index
        first = row - spec.n_obs_steps + 1
        out = np.full((spec.horizon, spec.action_dim), 1e6, dtype=np.float32)
        stop = min(first + spec.horizon, episode.length)
        out[: stop - first] = episode.actions[first:stop] + offset
        out[:, 0] += per_sample * k
        return out

    return predict


def test_known_predictions_give_exact_errors() -> None:
    spec, episode = _spec(), _episode(13)
    offset = np.array([0.5, -2.0], dtype=np.float32)
    samples = 3
    evaluation = evaluate_episode(episode, spec, _oracle(episode, spec, offset, 0.25), ReplayConfig(samples, stride=1))
    assert evaluation.rows.tolist() == list(range(1, 13))
    metrics = summary_metrics([evaluation], spec)
    # sample k is off by 0.5 + 0.25 k in x and by 2 in y, everywhere: the 1e6 past the end never counts
    mean_x = 0.5 + 0.25 * (samples - 1) / 2
    np.testing.assert_allclose(metrics["executed_mae"], [mean_x, 2.0], rtol=1e-5)
    np.testing.assert_allclose(metrics["mae"], [mean_x, 2.0], rtol=1e-5)
    np.testing.assert_allclose(metrics["horizon_mae"], np.tile([mean_x, 2.0], (spec.horizon, 1)), rtol=1e-5)
    np.testing.assert_allclose(metrics["executed_rmse"][1], 2.0, rtol=1e-5)
    np.testing.assert_allclose(metrics["window_best_executed_mae"], (0.5 + 2.0) / 2, rtol=1e-5)
    spread_x = np.std([0.0, 0.25, 0.5])
    np.testing.assert_allclose(metrics["window_spread"], spread_x / 2, rtol=1e-4)
    assert metrics["executed_steps"] == [1, 5]
    # horizon step h is recorded for the windows whose row - 1 + h is inside the episode
    assert metrics["horizon_count"].tolist() == [samples * min(12, 13 - h) for h in range(spec.horizon)]


def test_window_is_the_rows_up_to_the_newest_observation() -> None:
    spec, episode = _spec(n_obs=3), _episode(6)
    window = observation_window(episode, spec, 4)
    assert window.stamps_ns.tolist() == episode.ticks_ns[2:5].tolist()
    assert window.low_dim["q"][:, 0].tolist() == [2, 3, 4]
    with pytest.raises(IndexError):
        observation_window(episode, spec, 1)
    gappy = ReplayEpisode("gap", episode.ticks_ns + np.array([0, 0, 0, 1, 1, 1]), episode.low_dim, {}, episode.actions)
    with pytest.raises(ValueError, match=r"not 0\.1 s apart"):
        observation_window(gappy, spec, 3)


def test_stale_rows_are_skipped_like_the_observation_node_would() -> None:
    spec, episode = _spec(), _episode(10)
    ages = np.full(10, 0.01)
    ages[[3, 4, 8]] = [0.3, 0.25, 1.0]  # 0.25 is not older than max_age 0.25
    aged = ReplayEpisode("ep", episode.ticks_ns, episode.low_dim, {}, episode.actions, obs_age_s=ages)
    evaluation = evaluate_episode(aged, spec, _oracle(aged, spec, np.zeros(2), 0.0), ReplayConfig(1, 1, max_age_s=0.25))
    assert evaluation.rows.tolist() == [1, 2, 4, 5, 6, 7, 9] and evaluation.stale_rows.tolist() == [3, 8]
    assert evaluate_episode(aged, spec, _oracle(aged, spec, np.zeros(2), 0.0), ReplayConfig(1, 1)).rows.size == 9


def test_seeds_differ_per_sample_and_row_and_ignore_bag_order() -> None:
    seeds = {chunk_seed(0, "ep", row, k) for row in range(20) for k in range(4)}
    assert len(seeds) == 80
    assert chunk_seed(0, "ep", 3, 1) == chunk_seed(0, "ep", 3, 1) != chunk_seed(1, "ep", 3, 1)
    assert chunk_seed(0, "ep", 3, 1) != chunk_seed(0, "other", 3, 1)


def test_bad_inputs_are_errors() -> None:
    spec, episode = _spec(dims=3), _episode(10)
    with pytest.raises(ValueError, match="recorded actions have 2 dimensions"):
        evaluate_episode(episode, spec, lambda w, s: np.zeros((8, 3)), ReplayConfig())
    with pytest.raises(ValueError, match="predictor returned shape"):
        evaluate_episode(episode, _spec(), lambda w, s: np.zeros((8, 3)), ReplayConfig())
    with pytest.raises(ValueError, match="samples"):
        ReplayConfig(samples=0)
    with pytest.raises(ValueError, match="rows like ticks_ns"):
        ReplayEpisode("bad", episode.ticks_ns[:5], episode.low_dim, {}, episode.actions)


@settings(max_examples=40, deadline=None)
@given(
    n_obs=st.integers(1, 3),
    extra=st.integers(0, 5),
    length=st.integers(1, 14),
    stride=st.integers(1, 4),
    samples=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_metrics_match_brute_force(n_obs: int, extra: int, length: int, stride: int, samples: int, seed: int) -> None:
    """Property: for any chunks, the executed/horizon errors are the loops' over the recorded rows."""
    horizon = n_obs + extra
    n_action = 1 + seed % (horizon - n_obs + 1)
    spec, episode = _spec(n_obs, horizon, n_action), _episode(length, seed=seed)
    rng = np.random.default_rng(seed + 1)

    def predict(window: ObservationWindowData, chunk_seed_: int) -> np.ndarray:
        return rng.normal(size=(horizon, 2)).astype(np.float32)

    evaluation = evaluate_episode(episode, spec, predict, ReplayConfig(samples, stride=stride))
    assert evaluation.rows.tolist() == list(range(n_obs - 1, length, stride))
    if not len(evaluation.rows):
        return
    metrics = summary_metrics([evaluation], spec)
    executed, horizon_errors = [], [[] for _ in range(horizon)]
    for w, row in enumerate(evaluation.rows):
        for k in range(samples):
            for h in range(horizon):
                t = row - (n_obs - 1) + h
                if t >= length:
                    continue
                err = np.abs(evaluation.chunks[w, k, h].astype(np.float64) - episode.actions[t])
                horizon_errors[h].append(err)
                if n_obs - 1 <= h < n_obs - 1 + n_action:
                    executed.append(err)
    np.testing.assert_allclose(metrics["executed_mae"], np.mean(executed, axis=0), rtol=1e-9)
    for h in range(horizon):
        if horizon_errors[h]:
            np.testing.assert_allclose(metrics["horizon_mae"][h], np.mean(horizon_errors[h], axis=0), rtol=1e-9)
        else:
            assert np.isnan(metrics["horizon_mae"][h]).all()
