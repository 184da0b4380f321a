"""sim_node interface:=franka, the FR3 twin, through real topics: franka_ros2's names and QoS,
O_T_EE, finger joints, and a reflex per command mode (trajectory, position stream, Cartesian)
with the reflex reported, commands refused, and error recovery."""

from __future__ import annotations

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticStatus
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from dp_sim import fr3, reflexes
from dp_sim.interfaces import FINGER_JOINTS, FRANKA
from dp_sim.lockstep import Lockstep

pytestmark = pytest.mark.ros

FRANKA_POSE_QOS = QoSProfile(depth=1, reliability=QoSReliabilityPolicy.BEST_EFFORT)  # franka_robot_state_broadcaster


class Twin:
    def __init__(self, ls: Lockstep) -> None:
        self.ls = ls
        self.sim = ls.add_sim(interface="franka", physics_timestep_s=0.001, control_period_s=0.001)
        self.node = ls.add(Node, "twin_probe")
        n = self.node
        self.poses: list[PoseStamped] = []
        self.joints: list[JointState] = []
        self.fingers: list[JointState] = []
        self.reflex: list[DiagnosticStatus] = []
        n.create_subscription(PoseStamped, FRANKA.ee_pose, self.poses.append, FRANKA_POSE_QOS)
        n.create_subscription(JointState, FRANKA.joint_states, self.joints.append, 10)
        n.create_subscription(JointState, FRANKA.gripper_joint_states, self.fingers.append, qos_profile_sensor_data)
        latched = QoSProfile(depth=1, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)
        n.create_subscription(DiagnosticStatus, "/sim_node/reflex", self.reflex.append, latched)
        self.traj = n.create_publisher(JointTrajectory, "/fr3_arm_controller/joint_trajectory", 10)
        self.pos = n.create_publisher(Float64MultiArray, "/forward_position_controller/commands", 10)
        self.cart = n.create_publisher(PoseStamped, "/cartesian_motion_controller/target_frame", 10)
        self.recovery = n.create_client(Trigger, "/sim_node/error_recovery")

    def run(self, seconds: float) -> None:
        for _ in range(int(round(seconds / 0.001))):
            self.ls.tick()

    def trajectory(self, q: np.ndarray, t_s: float) -> None:
        msg = JointTrajectory(joint_names=list(fr3.JOINT_NAMES))
        point = JointTrajectoryPoint(positions=[float(v) for v in q])
        point.time_from_start.sec, point.time_from_start.nanosec = int(t_s), int(round((t_s % 1) * 1e9))
        msg.points = [point]
        self.traj.publish(msg)  # stamp 0: start on receipt

    def reflex_error(self) -> str:
        last = self.reflex[-1]
        return {kv.key: kv.value for kv in last.values}.get("error", "") if last.level == DiagnosticStatus.ERROR else ""

    def recover(self) -> None:
        assert self.ls.call(self.recovery, Trigger.Request()).message == "recovered from a reflex"
        self.ls.tick()
        assert self.reflex[-1].level == DiagnosticStatus.OK


def q_now(twin: Twin) -> np.ndarray:
    return twin.sim.sim.commanded_positions()


def test_fr3_twin_interface_and_reflexes():
    with Lockstep() as ls:
        twin = Twin(ls)
        twin.run(0.05)
        # franka_ros2's interface: every name and QoS the real bring-up offers
        topics = dict(twin.node.get_topic_names_and_types())
        for name in (
            FRANKA.ee_pose,
            FRANKA.trajectory,
            FRANKA.positions,
            FRANKA.cartesian,
            FRANKA.gripper_joint_states,
        ):
            assert name in topics, name
        (info,) = twin.node.get_publishers_info_by_topic(FRANKA.ee_pose)
        assert info.qos_profile.reliability == QoSReliabilityPolicy.BEST_EFFORT  # (depth is not in the graph)
        assert twin.poses and twin.poses[-1].header.frame_id == "fr3_link0"
        assert list(twin.joints[-1].name) == [*fr3.JOINT_NAMES, *FINGER_JOINTS]
        assert list(twin.fingers[-1].name) == list(FINGER_JOINTS)
        assert twin.fingers[-1].position[0] == pytest.approx(0.04)  # an open Hand: width 0.08 m
        # O_T_EE: the Hand TCP, 0.1034 m from the flange, i.e. 0.30 - 0.1034 m above the pusher tip
        tip = twin.sim.sim.ee_position()
        ee = np.array([twin.poses[-1].pose.position.x, twin.poses[-1].pose.position.y, twin.poses[-1].pose.position.z])
        assert np.linalg.norm(ee - tip) == pytest.approx(0.30 - 0.1034, abs=1e-6)
        assert twin.reflex[-1].level == DiagnosticStatus.OK

        # trajectory mode: 0.6 rad in 0.1 s on joint 1 (6 rad/s) fires; a slow one does not
        twin.trajectory(q_now(twin) + [0.6, 0, 0, 0, 0, 0, 0], 0.1)
        twin.run(0.1)
        assert twin.reflex_error() == reflexes.JOINT_VELOCITY
        held = q_now(twin)
        twin.trajectory(q_now(twin) + [0.05, 0, 0, 0, 0, 0, 0], 2.0)  # refused while the reflex holds
        twin.run(0.2)
        np.testing.assert_array_equal(q_now(twin), held)
        twin.recover()
        twin.trajectory(q_now(twin) + [0.05, 0, 0, 0, 0, 0, 0], 1.0)
        twin.run(1.1)
        assert twin.reflex[-1].level == DiagnosticStatus.OK
        assert np.abs(q_now(twin) - held)[0] == pytest.approx(0.05, abs=1e-6)

        # position stream: a 250 Hz stream into the 1 kHz interface is held between messages: steps
        start = q_now(twin)
        for k in range(1, 50):
            if k % 4 == 0:
                twin.pos.publish(Float64MultiArray(data=[float(v) for v in start + [0, 0, 0, 0, 0, 0, 0.0004 * k]]))
            twin.ls.tick()
        assert twin.reflex_error() in (reflexes.ACCELERATION, reflexes.VELOCITY_LIMITS, reflexes.JERK)
        twin.recover()

        # Cartesian: the end effector 15 cm away at once fires
        p = twin.poses[-1].pose
        target = PoseStamped()
        target.header.frame_id = "fr3_link0"
        target.pose.position.x, target.pose.position.y, target.pose.position.z = (
            p.position.x + 0.15,
            p.position.y,
            p.position.z,
        )
        target.pose.orientation = p.orientation
        twin.cart.publish(target)
        twin.run(0.2)
        assert twin.reflex[-1].level == DiagnosticStatus.ERROR
        assert {kv.key: kv.value for kv in twin.reflex[-1].values}["count"] == "3"


def test_fr3_twin_franka_gripper_actions():
    from control_msgs.action import GripperCommand
    from control_msgs.msg import GripperCommand as GripperCommandMsg
    from franka_msgs.action import Grasp, Homing, Move
    from franka_msgs.msg import GraspEpsilon
    from rclpy.action import ActionClient

    with Lockstep() as ls:
        twin = Twin(ls)
        n = twin.node
        clients = {
            name: ActionClient(n, t, f"/franka_gripper/{name}")
            for name, t in (("homing", Homing), ("move", Move), ("grasp", Grasp), ("gripper_action", GripperCommand))
        }
        twin.run(0.01)
        assert all(c.server_is_ready() for c in clients.values())
        feedback: list[float] = []

        def run_goal(name: str, goal, max_s: float = 3.0):
            sent = clients[name].send_goal_async(
                goal,
                feedback_callback=lambda m: feedback.append(
                    m.feedback.current_width if hasattr(m.feedback, "current_width") else 2 * m.feedback.position
                ),
            )
            ls.run_until(sent.done, 0.1, f"{name} accepted")
            handle = sent.result()
            assert handle.accepted
            result = handle.get_result_async()
            ls.run_until(result.done, max_s, f"{name} result")
            return result.result().result

        def width() -> float:
            return 2 * twin.fingers[-1].position[0]

        res = run_goal("move", Move.Goal(width=0.02, speed=0.05))
        assert res.success and res.error == ""
        twin.run(0.05)
        assert width() == pytest.approx(0.02, abs=1e-6)
        assert feedback and 0.02 < feedback[0] < 0.08  # current_width while moving
        # nothing between the fingers: a grasp at 0 succeeds (stops at 0), one at 3 cm fails
        res = run_goal(
            "grasp", Grasp.Goal(width=0.0, speed=0.05, force=20.0, epsilon=GraspEpsilon(inner=0.005, outer=0.005))
        )
        assert res.success
        res = run_goal(
            "grasp", Grasp.Goal(width=0.03, speed=0.05, force=20.0, epsilon=GraspEpsilon(inner=0.005, outer=0.005))
        )
        assert not res.success and "outside" in res.error
        res = run_goal("move", Move.Goal(width=0.2, speed=0.05))  # wider than the Hand: refused
        assert not res.success and "outside" in res.error
        res = run_goal("homing", Homing.Goal())
        assert res.success
        twin.run(0.05)
        assert width() == pytest.approx(0.08)
        res = run_goal("gripper_action", GripperCommand.Goal(command=GripperCommandMsg(position=0.01, max_effort=10.0)))
        assert res.position == pytest.approx(0.0) and not res.reached_goal  # closes on nothing: a failed grasp at 2 cm


def test_fr3_twin_fr3_arm_controller_acceptance_rules():
    """ros2_controllers' JTC (jazzy) as franka_ros2 configures fr3_arm_controller: what it refuses,
    and that it accepts what breaks the FR3's limits (the robot's reflex stops that)."""
    with Lockstep() as ls:
        twin = Twin(ls)
        twin.run(0.02)
        sim = twin.sim

        def send(names, points, expect_rejected: bool) -> None:
            before = sim.rejected_commands
            msg = JointTrajectory(joint_names=list(names), points=points)
            twin.traj.publish(msg)
            twin.run(0.002)
            assert (sim.rejected_commands == before + 1) is expect_rejected, (names, points)

        q = [float(v) for v in q_now(twin)]
        p = JointTrajectoryPoint(positions=q)
        p.time_from_start.sec = 1
        send(fr3.JOINT_NAMES, [], True)  # "Empty trajectory received."
        send([], [p], True)  # joints don't match
        send([*fr3.JOINT_NAMES[:6], "panda_joint7"], [p], True)  # unknown joint
        moving = JointTrajectoryPoint(positions=q, velocities=[0.1] * 7)
        moving.time_from_start.sec = 1
        send(fr3.JOINT_NAMES, [moving], True)  # allow_nonzero_velocity_at_trajectory_end: false
        send(
            list(reversed(fr3.JOINT_NAMES)),
            [JointTrajectoryPoint(positions=list(reversed(q)), time_from_start=p.time_from_start)],
            False,
        )
        # beyond the joint limits: accepted (the JTC checks none), then the FR3 reflexes
        beyond = list(q)
        beyond[3] = float(fr3.Q_MAX[3]) + 0.05
        far = JointTrajectoryPoint(positions=beyond)
        far.time_from_start.sec = 2
        send(fr3.JOINT_NAMES, [far], False)
        twin.run(2.0)
        assert twin.reflex_error() == reflexes.JOINT_POSITION_LIMITS
