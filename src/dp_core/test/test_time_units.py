"""dp_core.time_units: the one definition of ns ⇄ s ⇄ (sec, nanosec)."""

from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dp_core.time_units import NS_PER_S, ns_to_s, ns_to_stamp_fields, s_to_ns, stamp_to_ns

ROS_TIME_NS = st.integers(min_value=0, max_value=(2**31 - 1) * NS_PER_S + NS_PER_S - 1)


@given(ROS_TIME_NS)
def test_stamp_fields_round_trip_and_nanosec_range(t_ns: int) -> None:
    sec, nanosec = ns_to_stamp_fields(t_ns)
    assert 0 <= nanosec < NS_PER_S
    assert stamp_to_ns(SimpleNamespace(sec=sec, nanosec=nanosec)) == t_ns


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_seconds_round_trip_to_the_nanosecond(ns: int) -> None:
    assert s_to_ns(ns_to_s(ns)) == ns


def test_seconds_round_to_the_nearest_nanosecond() -> None:
    assert s_to_ns(0.1) == 100_000_000
    assert s_to_ns(1.0000000004) == 1_000_000_000 and s_to_ns(1.0000000006) == 1_000_000_001
    assert ns_to_stamp_fields(1_500_000_000) == (1, 500_000_000)


def test_negative_ros_time_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        ns_to_stamp_fields(-1)
