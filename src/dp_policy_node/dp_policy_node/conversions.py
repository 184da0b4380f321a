"""Pure conversions between dp_msgs / ROS messages and dp_core objects.

Validation lives in dp_core; these functions only copy fields, so every node and test agrees
on one definition of a valid chunk.
"""

from __future__ import annotations

from builtin_interfaces.msg import Time as RosTime
from dp_msgs.msg import ActionChunk

from dp_core.control.action_chunk import NS_PER_S, ActionChunkData, chunk_from_flat


def time_to_ns(stamp: RosTime) -> int:
    """builtin_interfaces/Time → integer nanoseconds."""
    return int(stamp.sec) * NS_PER_S + int(stamp.nanosec)


def ns_to_time(t_ns: int) -> RosTime:
    """Integer nanoseconds (>= 0) → builtin_interfaces/Time."""
    if t_ns < 0:
        raise ValueError(f"ROS time cannot be negative, got {t_ns} ns")
    sec, nanosec = divmod(int(t_ns), NS_PER_S)
    return RosTime(sec=sec, nanosec=nanosec)


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
    """ActionChunkData → dp_msgs/ActionChunk (the chunk was validated when it was built)."""
    msg = ActionChunk()
    msg.header.stamp = ns_to_time(chunk.stamp_ns)
    msg.header.frame_id = chunk.frame_id
    msg.start = ns_to_time(chunk.start_ns)
    msg.dt = float(chunk.dt_s)
    msg.action_names = list(chunk.action_names)
    msg.horizon = chunk.horizon
    msg.action_dim = chunk.action_dim
    msg.execute_steps = chunk.execute_steps
    msg.data = chunk.actions.reshape(-1)
    msg.sequence = chunk.sequence
    msg.policy_id = chunk.policy_id
    return msg
