"""Pure conversions between dp_msgs / ROS messages and dp_core objects.

Validation lives in dp_core; these functions only copy fields, so every node and test agrees
on one definition of a valid chunk.
"""

from __future__ import annotations

import array
from collections.abc import Mapping, Sequence

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseStamped
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray, Header, MultiArrayDimension
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from dp_core.control.action_chunk import ActionChunkData, chunk_from_flat
from dp_msgs.msg import ActionChunk, PolicyStatus
from dp_msgs.msg import ObservationWindow as ObservationWindowMsg

# time messages are dp_ros_common's (shared with dp_sim and dp_recorder); re-exported here
from dp_ros_common.stamps import duration_from_s, ns_to_time, time_to_ns


def chunk_from_msg(msg: ActionChunk) -> ActionChunkData:
    """dp_msgs/ActionChunk → validated ActionChunkData (raises ChunkValidationError)."""
    return chunk_from_flat(
        stamp_ns=time_to_ns(msg.header.stamp),
        start_ns=time_to_ns(msg.start),
        dt_s=msg.dt,
        action_names=list(msg.action_names),
        horizon=msg.horizon,
        action_dim=msg.action_dim,
        data=msg.data,
        execute_steps=msg.execute_steps,
        sequence=msg.sequence,
        policy_id=msg.policy_id,
        frame_id=msg.header.frame_id,
    )


def chunk_to_msg(chunk: ActionChunkData) -> ActionChunk:
    """ActionChunkData → dp_msgs/ActionChunk (the chunk was validated when it was built).

    Fields go to the constructor (no default header/times built and then replaced: this runs once
    per chunk on the latency path), the actions as bytes (array.array(ndarray) converts one by one).
    """
    data = array.array("f")
    data.frombytes(np.ascontiguousarray(chunk.actions, dtype=np.float32).reshape(-1).view(np.uint8).data)
    return ActionChunk(
        header=Header(stamp=ns_to_time(chunk.stamp_ns), frame_id=chunk.frame_id),
        start=ns_to_time(chunk.start_ns),
        dt=float(chunk.dt_s),
        action_names=list(chunk.action_names),
        horizon=chunk.horizon,
        action_dim=chunk.action_dim,
        execute_steps=chunk.execute_steps,
        data=data,
        sequence=chunk.sequence,
        policy_id=chunk.policy_id,
    )


# --- robot state --------------------------------------------------------------------------


def joint_positions_from_msg(msg: JointState, joint_names: Sequence[str]) -> np.ndarray:
    """Positions of ``joint_names`` (in that order) from a JointState, float32 (D,).

    Raises:
        ValueError: a name is missing, positions and names differ in length, or a value is not finite.
    """
    if len(msg.position) != len(msg.name):
        raise ValueError(f"JointState has {len(msg.name)} names but {len(msg.position)} positions")
    index = {name: i for i, name in enumerate(msg.name)}
    missing = [n for n in joint_names if n not in index]
    if missing:
        raise ValueError(f"JointState lacks joints {missing} (has {list(msg.name)})")
    values = np.array([msg.position[index[n]] for n in joint_names], dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise ValueError(f"JointState has non-finite positions for {list(joint_names)}: {values.tolist()}")
    return values.astype(np.float32)


def joint_state_to_msg(joint_names: Sequence[str], positions: Sequence[float], stamp_ns: int) -> JointState:
    """Names + positions → sensor_msgs/JointState (velocity/effort left empty)."""
    msg = JointState()
    msg.header.stamp = ns_to_time(stamp_ns)
    msg.name = list(joint_names)
    msg.position = [float(p) for p in positions]
    return msg


def pose_from_msg(msg: PoseStamped) -> np.ndarray:
    """PoseStamped → float32 (7,) [x, y, z, qx, qy, qz, qw]; rejects non-finite or zero quaternions."""
    p, q = msg.pose.position, msg.pose.orientation
    values = np.array([p.x, p.y, p.z, q.x, q.y, q.z, q.w], dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise ValueError(f"pose has non-finite values: {values.tolist()}")
    if np.linalg.norm(values[3:]) < 1e-6:
        raise ValueError("pose orientation is a zero quaternion")
    return values.astype(np.float32)


def pose_to_msg(pose: Sequence[float] | np.ndarray, stamp_ns: int, frame_id: str = "") -> PoseStamped:
    """[x, y, z, qx, qy, qz, qw] → PoseStamped."""
    if len(pose) != 7:
        raise ValueError(f"a pose needs 7 values [x, y, z, qx, qy, qz, qw], got {len(pose)}")
    msg = PoseStamped()
    msg.header.stamp = ns_to_time(stamp_ns)
    msg.header.frame_id = frame_id
    p, q = msg.pose.position, msg.pose.orientation
    p.x, p.y, p.z, q.x, q.y, q.z, q.w = (float(v) for v in pose)
    return msg


# --- observation windows ------------------------------------------------------------------


def window_to_msg(
    stamps_ns: Sequence[int] | np.ndarray,
    low_dim: Mapping[str, np.ndarray],
    images: Mapping[str, np.ndarray],
    frame_id: str = "",
) -> ObservationWindowMsg:
    """Numpy window (stamps (T,), low_dim {key: (T, D)}, images {key: (T, H, W, 3) uint8}) → message.

    On the latency path (one call per window): one copy per camera, no per-frame message.
    """
    stamps = [int(t) for t in stamps_ns]
    n_steps = len(stamps)
    if n_steps < 1:
        raise ValueError("an observation window needs at least one stamp")
    _check_unique_keys(list(low_dim), list(images))
    msg = ObservationWindowMsg()
    times = [ns_to_time(t) for t in stamps]
    msg.header.stamp = times[-1]
    msg.header.frame_id = frame_id
    msg.stamps = times
    msg.low_dim_keys = list(low_dim)
    arrays = [np.asarray(v, dtype=np.float32) for v in low_dim.values()]
    for key, arr in zip(low_dim, arrays, strict=True):
        if arr.ndim != 2 or arr.shape[0] != n_steps:
            raise ValueError(f"low_dim '{key}' must have shape ({n_steps}, D), got {arr.shape}")
    msg.low_dim_sizes = [int(a.shape[1]) for a in arrays]
    data = array.array("f")
    if arrays:
        data.frombytes(np.ascontiguousarray(np.concatenate(arrays, axis=1)).reshape(-1).view(np.uint8).data)
    msg.low_dim_data = data
    msg.image_keys = list(images)
    stacks = [np.asarray(v) for v in images.values()]
    for key, stack in zip(images, stacks, strict=True):
        if stack.ndim != 4 or stack.shape[0] != n_steps or stack.shape[3] != 3 or stack.dtype != np.uint8:
            raise ValueError(f"image '{key}' must be uint8 ({n_steps}, H, W, 3), got {stack.dtype} {stack.shape}")
    msg.image_heights = [int(v.shape[1]) for v in stacks]
    msg.image_widths = [int(v.shape[2]) for v in stacks]
    pixels = array.array("B")
    for stack in stacks:
        pixels.frombytes(np.ascontiguousarray(stack).data)  # one copy per key
    msg.image_data = pixels
    return msg


def window_arrays_from_msg(
    msg: ObservationWindowMsg,
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Message → (stamps_ns (T,) int64, low_dim {key: (T, D) float32}, images {key: (T, H, W, 3) uint8}).

    On the latency path: images are views of the message's pixel buffer (no copy), low-dim values copies.

    Raises:
        ValueError: sizes that do not add up.
    """
    stamps = np.array([time_to_ns(t) for t in msg.stamps], dtype=np.int64)
    n_steps = len(stamps)
    if n_steps < 1:
        raise ValueError("observation window has no stamps")
    if n_steps > 1 and np.any(stamps[1:] <= stamps[:-1]):
        raise ValueError("observation window stamps must increase")
    _check_unique_keys(list(msg.low_dim_keys), list(msg.image_keys))
    sizes = [int(s) for s in msg.low_dim_sizes]
    if len(sizes) != len(msg.low_dim_keys):
        raise ValueError(f"{len(msg.low_dim_keys)} low_dim_keys but {len(sizes)} low_dim_sizes")
    data = np.frombuffer(msg.low_dim_data, dtype=np.float32) if len(msg.low_dim_data) else np.zeros(0, np.float32)
    total = sum(sizes)
    if data.size != n_steps * total:
        raise ValueError(f"low_dim_data has {data.size} values, expected {n_steps} x {total}")
    rows = data.reshape(n_steps, total)
    low_dim, start = {}, 0
    for key, size in zip(msg.low_dim_keys, sizes, strict=True):
        low_dim[key] = rows[:, start : start + size].copy()
        start += size
    keys, heights, widths = list(msg.image_keys), list(msg.image_heights), list(msg.image_widths)
    if not len(keys) == len(heights) == len(widths):
        raise ValueError(f"{len(keys)} image_keys but {len(heights)} image_heights and {len(widths)} image_widths")
    image_sizes = [n_steps * h * w * 3 for h, w in zip(heights, widths, strict=True)]
    if len(msg.image_data) != sum(image_sizes):
        raise ValueError(
            f"image_data has {len(msg.image_data)} bytes, expected {sum(image_sizes)} "
            f"({n_steps} frames of {[f'{h}x{w}' for h, w in zip(heights, widths, strict=True)]} rgb8)"
        )
    pixels = np.frombuffer(msg.image_data, dtype=np.uint8) if len(msg.image_data) else np.zeros(0, np.uint8)
    images, start = {}, 0
    for key, h, w, size in zip(keys, heights, widths, image_sizes, strict=True):
        images[key] = pixels[start : start + size].reshape(n_steps, h, w, 3)  # a view: it keeps the buffer alive
        start += size
    return stamps, low_dim, images


def _check_unique_keys(low_dim_keys: list[str], image_keys: list[str]) -> None:
    """A key named twice would silently keep one of its values: refuse it."""
    keys = low_dim_keys + image_keys
    if len(set(keys)) != len(keys):
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        raise ValueError(f"observation window keys must be unique, {repeated} repeated")


# --- commands -----------------------------------------------------------------------------


def joint_trajectory_to_msg(
    joint_names: Sequence[str],
    times_from_start_s: Sequence[float] | np.ndarray,
    positions: np.ndarray,
    stamp_ns: int,
    velocities: np.ndarray | None = None,
) -> JointTrajectory:
    """(N,) times from ``stamp_ns``, (N, D) positions (and velocities) → JointTrajectory (header.stamp = start)."""
    positions = np.asarray(positions, dtype=np.float64)
    if positions.ndim != 2 or positions.shape != (len(times_from_start_s), len(joint_names)):
        raise ValueError(
            f"positions must have shape ({len(times_from_start_s)}, {len(joint_names)}), got {positions.shape}"
        )
    msg = JointTrajectory()
    msg.header.stamp = ns_to_time(stamp_ns)
    msg.joint_names = list(joint_names)
    if velocities is not None and np.shape(velocities) != positions.shape:
        raise ValueError(f"velocities must have shape {positions.shape}, got {np.shape(velocities)}")
    for k, (t_s, row) in enumerate(zip(times_from_start_s, positions, strict=True)):
        point = JointTrajectoryPoint()
        point.positions = row.tolist()
        if velocities is not None:
            point.velocities = np.asarray(velocities[k], dtype=np.float64).tolist()
        point.time_from_start = duration_from_s(float(t_s))
        msg.points.append(point)
    return msg


def float64_array_to_msg(values: Sequence[float] | np.ndarray, label: str = "") -> Float64MultiArray:
    """A vector → std_msgs/Float64MultiArray (one dimension, labelled), as forward controllers take."""
    msg = Float64MultiArray()
    msg.data = [float(v) for v in values]
    msg.layout.dim = [MultiArrayDimension(label=label, size=len(msg.data), stride=len(msg.data))]
    return msg


# --- diagnostics --------------------------------------------------------------------------


def status_diagnostics(name: str, status: PolicyStatus, extra: dict[str, str]) -> DiagnosticArray:
    """One DiagnosticStatus: PolicyStatus's fields plus device, precision, chunk form and latency."""
    ok = status.lifecycle_state == "active" and status.chunk_rate_hz > 0
    diag = DiagnosticStatus(
        name=name,
        hardware_id=status.device or "none",
        level=DiagnosticStatus.OK if ok else DiagnosticStatus.WARN,
        message=status.message or status.lifecycle_state,
    )
    fields = (
        "lifecycle_state",
        "policy_id",
        "last_inference_ms",
        "median_inference_ms",
        "chunk_rate_hz",
        "chunks_published",
        "observations_dropped",
        "observations_rejected",
    )
    values = {f: str(getattr(status, f)) for f in fields} | extra
    diag.values = [KeyValue(key=k, value=v) for k, v in values.items()]
    return DiagnosticArray(header=status.header, status=[diag])
