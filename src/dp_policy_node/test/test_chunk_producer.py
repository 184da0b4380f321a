"""ChunkProducer without ROS: new parameters validated, the chunk program against the reference
path, release, and the device error raised before anything is loaded."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dp_core.spec import parse_obs_specs
from dp_core.timing.observation_window import ObservationWindowData
from dp_policy_node.chunk_producer import ChunkProducer, ChunkProducerConfig


def config(checkpoint, **overrides) -> ChunkProducerConfig:
    values = dict(
        checkpoint_path=str(checkpoint),
        device="cpu",
        precision="fp32",
        seed=4,
        torch_threads=1,
        expected_obs=parse_obs_specs(["front", "joint_pos"], ["3x48x64", "3"]),
    )
    return ChunkProducerConfig(**(values | overrides))


def window(seed: int = 0) -> ObservationWindowData:
    rng = np.random.default_rng(seed)
    return ObservationWindowData(
        stamps_ns=np.array([0, 100_000_000]),
        low_dim={"joint_pos": rng.normal(0, 0.1, (2, 3)).astype(np.float32)},
        images={"front": rng.integers(0, 255, (2, 48, 64, 3), dtype=np.uint8)},
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("chunk_form", "fast", "chunk_form must be one of"),
        ("torch_threads", -1, "torch_threads must be >= 0"),
        ("device", "gpu", "device must be one of"),
    ],
)
def test_bad_values_name_themselves(field, value, message) -> None:
    with pytest.raises(ValueError, match=message):
        config("x", **{field: value})


def test_chunk_program_gives_the_reference_chunks_and_is_released(tiny_checkpoint) -> None:
    torch.set_num_threads(1)
    reference = ChunkProducer.load(config(tiny_checkpoint, chunk_form="off"))
    producer = ChunkProducer.load(config(tiny_checkpoint, chunk_form="auto"))
    assert (reference.form, producer.form, producer.precision, producer.threads) == ("off", "eager", "fp32", 1)
    for k in range(3):  # seeds advance per chunk in both
        a = reference.infer(reference.gate.check(window(k), now_ns=100_000_000))
        b = producer.infer(producer.gate.check(window(k), now_ns=100_000_000))
        np.testing.assert_allclose(b.actions, a.actions, atol=1e-5 * max(1.0, np.abs(a.actions).max()))
    values = producer.status_values()
    assert values["chunk_form"] == "eager" and values["torch_threads"] == "1" and float(values["chunk_ms_p99"]) > 0
    producer.release()
    assert producer.form == "released" and producer.policy.runner is None


def test_expected_observations_are_optional_and_checked_when_given(tiny_checkpoint) -> None:
    assert ChunkProducer.load(config(tiny_checkpoint, expected_obs=(), chunk_form="off")).spec.n_obs_steps == 2
    wrong = parse_obs_specs(["front", "joint_pos"], ["3x96x96", "3"])
    with pytest.raises(
        ValueError, match=r"observation 'front': checkpoint rgb \(3, 48, 64\), configured rgb \(3, 96, 96\)"
    ):
        ChunkProducer.load(config(tiny_checkpoint, expected_obs=wrong, chunk_form="off"))


def test_a_window_at_another_rate_is_refused(tiny_checkpoint) -> None:
    producer = ChunkProducer.load(config(tiny_checkpoint, chunk_form="off"))
    fast = ObservationWindowData(
        stamps_ns=np.array([50_000_000, 100_000_000]), low_dim=window().low_dim, images=window().images
    )
    with pytest.raises(ValueError, match="the observation node builds windows at another rate"):
        producer.gate.check(fast, now_ns=100_000_000)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_cuda_without_cuda_fails_before_loading(tmp_path) -> None:
    with pytest.raises(ValueError, match="device 'cuda:0' requested but CUDA is not available"):
        ChunkProducer.load(config(tmp_path / "no_such_checkpoint", device="cuda:0"))


def test_chunk_producer_imports_without_ros():
    """The producer is ROS-free: importing it (and what it imports) never loads rclpy."""
    import subprocess
    import sys

    code = "import sys, dp_policy_node.chunk_producer; assert 'rclpy' not in sys.modules, 'rclpy imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
