"""Pure conversions between ROS messages and the sim's numpy values (no node state).

Command parsers raise ``ValueError`` with a message saying what is wrong, so the node can reject
the command with a warning and keep holding.
"""

from __future__ import annotations

import numpy as np
from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseStamped
from scipy.spatial.transform import Rotation
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory

from dp_msgs.msg import TaskStatus
from dp_ros_common.images import rgb_to_image_msg
from dp_ros_common.stamps import duration_to_s, ns_to_time, time_to_ns
from dp_sim import fr3
from dp_sim.interfaces import EndEffector
from dp_sim.joint_trajectory import TrajectoryPoints
from dp_sim.reflexes import Reflex


def joint_state_msg(
    t_ns: int, q: np.ndarray, dq: np.ndarray, effort: np.ndarray, extra: dict[str, float] | None = None
) -> JointState:
    """Arm joints, plus ``extra`` positions (the fingers, as franka's joint_state_publisher merges them)."""
    msg = JointState()
    msg.header.stamp = ns_to_time(t_ns)
    extra = extra or {}
    msg.name = [*fr3.JOINT_NAMES, *extra]
    msg.position = [*np.asarray(q, float).tolist(), *map(float, extra.values())]
    msg.velocity = [*np.asarray(dq, float).tolist(), *([0.0] * len(extra))]
    msg.effort = [*np.asarray(effort, float).tolist(), *([0.0] * len(extra))]
    return msg


def finger_state_msg(t_ns: int, fingers: dict[str, float]) -> JointState:
    """franka_gripper's joint_states: the two finger joints, each at width / 2."""
    msg = JointState()
    msg.header.stamp = ns_to_time(t_ns)
    msg.name = list(fingers)
    msg.position = [float(v) for v in fingers.values()]
    msg.velocity = msg.effort = [0.0] * len(fingers)
    return msg


def reflex_status_msg(reflex: Reflex | None, count: int) -> DiagnosticStatus:
    """The latched reflex state: ERROR with the franka error name while a reflex holds the arm."""
    msg = DiagnosticStatus(name="sim_node: reflex", hardware_id="fr3")
    if reflex is None:
        msg.level, msg.message = DiagnosticStatus.OK, "no reflex active"
    else:
        msg.level, msg.message = DiagnosticStatus.ERROR, reflex.describe()
        msg.values = [
            KeyValue(key="error", value=reflex.error),
            KeyValue(key="joint", value=f"fr3_joint{reflex.joint + 1}"),
            KeyValue(key="value", value=f"{reflex.value:.6g}"),
            KeyValue(key="limit", value=f"{reflex.limit:.6g}"),
        ]
    msg.values.append(KeyValue(key="count", value=str(int(count))))
    return msg


def ee_pose_from_tip(ee: EndEffector, tip_pos: np.ndarray, tip_quat_wxyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pusher tip pose → O_T_EE (position, quaternion w x y z)."""
    w, x, y, z = tip_quat_wxyz
    pos, rot = ee.ee_from_tip(tip_pos, Rotation.from_quat([x, y, z, w]))
    qx, qy, qz, qw = rot.as_quat()
    return pos, np.array([qw, qx, qy, qz])


def tip_target_from_ee_msg(msg: PoseStamped, base_frame: str, ee: EndEffector) -> tuple[np.ndarray, np.ndarray]:
    """A Cartesian end-effector target → the pusher tip's target (position, rotation matrix)."""
    if msg.header.frame_id not in ("", base_frame):
        raise ValueError(f"cartesian target must be in frame '{base_frame}', got '{msg.header.frame_id}'")
    p, o = msg.pose.position, msg.pose.orientation
    pos, quat = np.array([p.x, p.y, p.z], float), np.array([o.x, o.y, o.z, o.w], float)
    if not (np.all(np.isfinite(pos)) and np.all(np.isfinite(quat))) or abs(np.linalg.norm(quat) - 1.0) > 1e-3:
        raise ValueError(
            f"cartesian target needs a finite position and a unit quaternion, got {pos.tolist()}, {quat.tolist()}"
        )
    tip_pos, tip_rot = ee.tip_from_ee(pos, Rotation.from_quat(quat))
    return tip_pos, tip_rot.as_matrix()


def pose_msg(t_ns: int, frame_id: str, position: np.ndarray, quat_wxyz: np.ndarray) -> PoseStamped:
    msg = PoseStamped()
    msg.header.stamp = ns_to_time(t_ns)
    msg.header.frame_id = frame_id
    msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = (float(v) for v in position)
    o = msg.pose.orientation
    o.w, o.x, o.y, o.z = (float(v) for v in quat_wxyz)
    return msg


def task_status_msg(
    t_ns: int, seed: int, coverage: float, success: bool, block_pose: np.ndarray, episode_time_s: float
) -> TaskStatus:
    msg = TaskStatus()
    msg.header.stamp = ns_to_time(t_ns)
    msg.header.frame_id = "table"
    msg.seed = int(seed) & 0xFFFFFFFF
    msg.coverage = float(coverage)
    msg.success = bool(success)
    msg.block_pose = [float(v) for v in block_pose]
    msg.episode_time_s = float(episode_time_s)
    return msg


def image_msg(t_ns: int, frame_id: str, rgb: np.ndarray) -> Image:
    """(H, W, 3) RGB render → sensor_msgs/Image rgb8 (dp_ros_common.images, as the synthetic sensors publish)."""
    return rgb_to_image_msg(np.asarray(rgb, dtype=np.uint8), t_ns, frame_id)


def joint_positions_from_command(msg: Float64MultiArray) -> np.ndarray:
    """Streaming position command → (7,) FR3 joint positions (validated)."""
    q = np.asarray(msg.data, dtype=float)
    if q.shape != (7,):
        raise ValueError(f"position command needs 7 values (fr3_joint1..7), got {q.size}")
    if not fr3.within_limits(q):
        raise ValueError(f"position command {np.round(q, 4).tolist()} is NaN or outside the FR3 joint limits")
    return q


def trajectory_from_msg(msg: JointTrajectory, jtc_rules: bool = False) -> tuple[TrajectoryPoints, int]:
    """JointTrajectory → (points in FR3 joint order, start time ns; 0 = now).

    ``jtc_rules``: exactly ros2_controllers' JointTrajectoryController acceptance (jazzy,
    ``validate_trajectory_msg``; allow_partial_joints_goal and allow_nonzero_velocity_at_trajectory_end
    false): no joint limits checked, a non-zero velocity at the last point refused."""
    names = list(msg.joint_names)
    if sorted(names) != sorted(fr3.JOINT_NAMES):
        raise ValueError(f"joint_names must be exactly {list(fr3.JOINT_NAMES)} (any order), got {names}")
    order = [names.index(n) for n in fr3.JOINT_NAMES]
    if not msg.points:
        raise ValueError("trajectory has no points")
    positions, velocities, times = [], [], []
    for i, p in enumerate(msg.points):
        if len(p.positions) != 7:
            raise ValueError(f"point {i} has {len(p.positions)} positions, expected 7")
        positions.append(np.asarray(p.positions, float)[order])
        velocities.append(np.asarray(p.velocities, float)[order] if len(p.velocities) == 7 else None)
        times.append(duration_to_s(p.time_from_start))
    has_vel = [v is not None for v in velocities]
    if any(has_vel) and not all(has_vel):
        raise ValueError("either every point or no point must carry 7 velocities")
    vel = np.array(velocities) if all(has_vel) else None
    if jtc_rules and vel is not None and np.any(vel[-1] != 0):
        joint = fr3.JOINT_NAMES[int(np.flatnonzero(vel[-1] != 0)[0])]
        raise ValueError(f"Velocity of last trajectory point of joint {joint} is not zero")
    if any(len(p.effort) for p in msg.points):
        raise ValueError("trajectory points must not carry efforts")
    points = TrajectoryPoints(np.array(times), np.array(positions), vel, check_limits=not jtc_rules)
    return points, time_to_ns(msg.header.stamp)


def pusher_target_from_msg(msg: PoseStamped, base_frame: str) -> np.ndarray:
    """Cartesian target → pusher (x, y); height and orientation are fixed by the task."""
    if msg.header.frame_id not in ("", base_frame):
        raise ValueError(f"cartesian target must be in frame '{base_frame}', got '{msg.header.frame_id}'")
    xy = np.array([msg.pose.position.x, msg.pose.position.y], dtype=float)
    if not np.all(np.isfinite(xy)) or not np.isfinite(msg.pose.position.z):
        raise ValueError("cartesian target contains NaN or infinite values")
    return xy
