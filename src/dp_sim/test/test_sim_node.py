"""sim_node over real DDS: rates, trajectory tracking, command rejection, services."""

import time

import numpy as np
import pytest
from geometry_msgs.msg import PoseStamped
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Float64MultiArray
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from dp_msgs.msg import TaskStatus
from dp_msgs.srv import ResetSim
from dp_ros_common.stamps import time_to_ns
from dp_ros_common.testing import spin_until
from dp_sim import fr3
from dp_sim.joint_trajectory import ActiveTrajectory, TrajectoryPoints
from dp_sim.sim_node import SimNode

pytestmark = pytest.mark.ros
TRACKING_BOUND_RAD = 0.02


class Harness:
    """A SimNode and a probe node in one executor; the probe records everything."""

    def __init__(self, context, **params):
        overrides = [Parameter(k, value=v) for k, v in params.items()]
        self.sim = SimNode(context=context, parameter_overrides=overrides)
        from rclpy.node import Node

        self.probe = Node("probe", context=context)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.sim)
        self.executor.add_node(self.probe)
        self.msgs = {k: [] for k in ("clock", "joints", "pose", "status", "top", "wrist")}
        for key, typ, topic in (
            ("clock", Clock, "/clock"),
            ("joints", JointState, "/joint_states"),
            ("pose", PoseStamped, "/ee_pose"),
            ("status", TaskStatus, "/task_status"),
            ("top", Image, "/camera/top/image_raw"),
            ("wrist", Image, "/camera/wrist/image_raw"),
        ):
            self.probe.create_subscription(typ, topic, lambda m, k=key: self.msgs[k].append((time.monotonic(), m)), 50)
        self.pub_traj = self.probe.create_publisher(
            JointTrajectory, "/joint_trajectory_controller/joint_trajectory", 10
        )
        self.pub_pos = self.probe.create_publisher(Float64MultiArray, "/forward_position_controller/commands", 10)
        self.pub_cart = self.probe.create_publisher(PoseStamped, "/cartesian_target", 10)

    def spin(self, predicate, timeout_s):
        return spin_until(self.executor, predicate, timeout_s)

    def latest_q(self):
        return np.array(self.msgs["joints"][-1][1].position)

    def call(self, srv_type, name, request):
        client = self.probe.create_client(srv_type, name)
        assert self.spin(client.service_is_ready, 5.0), f"service {name} not available"
        future = client.call_async(request)
        assert self.spin(future.done, 5.0)
        return future.result()

    def close(self):
        self.sim.stop()
        self.executor.shutdown()
        self.sim.destroy_node()
        self.probe.destroy_node()


@pytest.fixture
def harness(ros_context):
    h = Harness(ros_context, publish_images=True, image_rate_hz=10.0, image_width=64, image_height=48)
    yield h
    h.close()


def _rate(entries, first_s, last_s):
    inside = [m for t, m in entries if first_s <= t <= last_s]
    return len(inside) / (last_s - first_s), inside


def test_publishes_at_declared_rates(harness):
    assert harness.spin(lambda: len(harness.msgs["joints"]) > 5 and harness.msgs["top"], 10.0)
    start = time.monotonic()
    harness.spin(lambda: False, 2.0)
    end = time.monotonic()
    for key, hz in (
        ("joints", 100.0),
        ("pose", 100.0),
        ("status", 30.0),
        ("top", 10.0),
        ("wrist", 10.0),
        ("clock", 100.0),
    ):
        rate, inside = _rate(harness.msgs[key], start + 0.1, end - 0.1)
        assert rate == pytest.approx(hz, rel=0.25), f"{key}: {rate:.1f} Hz, declared {hz}"
        if key != "clock":  # sim-time stamps: one period apart on average, on 10 ms control ticks
            gaps = np.diff([time_to_ns(m.header.stamp) for m in inside])
            assert np.mean(gaps) == pytest.approx(1e9 / hz, rel=0.05), key
            assert np.all(np.abs(gaps - 1e9 / hz) <= 10_000_000), key
    image = harness.msgs["top"][-1][1]
    assert (image.encoding, image.height, image.width, image.step) == ("rgb8", 48, 64, 64 * 3)
    joints = harness.msgs["joints"][-1][1]
    assert list(joints.name) == list(fr3.JOINT_NAMES)


def test_joint_trajectory_tracking_within_bound(harness):
    assert harness.spin(lambda: harness.msgs["joints"] and harness.msgs["clock"], 5.0)
    q0 = harness.sim.sim.ready_q
    q1 = q0 + np.array([0.2, 0.15, -0.1, 0.2, 0.3, -0.2, 0.3])
    now_ns = time_to_ns(harness.msgs["clock"][-1][1].clock)
    start_ns = now_ns + 300_000_000
    msg = JointTrajectory()
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(start_ns, 1_000_000_000)
    msg.joint_names = list(reversed(fr3.JOINT_NAMES))  # any order is accepted
    for t, q in ((0.6, q1), (1.2, q0)):
        point = JointTrajectoryPoint(positions=list(reversed(q.tolist())))
        point.time_from_start.sec, point.time_from_start.nanosec = 0, int(t * 1e9)
        msg.points.append(point)
    harness.pub_traj.publish(msg)
    end_ns = start_ns + 1_500_000_000
    assert harness.spin(lambda: time_to_ns(harness.msgs["joints"][-1][1].header.stamp) > end_ns, 10.0)
    reference = ActiveTrajectory(TrajectoryPoints(np.array([0.6, 1.2]), np.array([q1, q0])), start_ns, start_ns, q0)
    errors, moved = [], 0.0
    for _, m in harness.msgs["joints"]:
        t = time_to_ns(m.header.stamp)
        if start_ns <= t <= end_ns:
            errors.append(np.abs(np.array(m.position) - reference.sample(t)[0]).max())
            moved = max(moved, np.abs(np.array(m.position) - q0).max())
    assert len(errors) > 100
    assert max(errors) < TRACKING_BOUND_RAD
    assert moved > 0.25  # the arm really followed the trajectory


def test_malformed_commands_rejected_and_arm_holds(harness):
    assert harness.spin(lambda: harness.msgs["joints"], 5.0)
    q_hold = harness.latest_q()
    harness.pub_pos.publish(Float64MultiArray(data=[0.0] * 6))
    harness.pub_pos.publish(Float64MultiArray(data=[float("nan")] * 7))
    harness.pub_pos.publish(Float64MultiArray(data=(fr3.Q_MAX + 0.2).tolist()))
    bad_names = JointTrajectory(joint_names=["a"] * 7, points=[JointTrajectoryPoint(positions=[0.0] * 7)])
    harness.pub_traj.publish(bad_names)
    far = PoseStamped()
    far.header.frame_id = "fr3_link0"
    far.pose.position.x = 3.0
    harness.pub_cart.publish(far)
    wrong_frame = PoseStamped()
    wrong_frame.header.frame_id = "camera"
    wrong_frame.pose.position.x = 0.4
    harness.pub_cart.publish(wrong_frame)
    assert harness.spin(lambda: harness.sim.rejected_commands >= 6, 5.0), harness.sim.rejected_commands
    n = len(harness.msgs["joints"])
    harness.spin(lambda: len(harness.msgs["joints"]) > n + 30, 5.0)
    np.testing.assert_allclose(harness.latest_q(), q_hold, atol=1e-4)


def test_reset_and_ready_services(harness):
    assert harness.spin(lambda: harness.msgs["status"], 5.0)
    target = PoseStamped()
    target.header.frame_id = "fr3_link0"
    target.pose.position.x, target.pose.position.y = 0.45, 0.15
    harness.pub_cart.publish(target)
    assert harness.spin(lambda: abs(harness.msgs["pose"][-1][1].pose.position.y - 0.15) < 0.002, 10.0)

    assert harness.call(Trigger, "/sim_node/move_to_ready", Trigger.Request()).success
    ready = harness.sim.sim.ready_q
    assert harness.spin(lambda: np.abs(harness.latest_q() - ready).max() < 1e-3, 10.0)

    response = harness.call(ResetSim, "/sim_node/reset", ResetSim.Request(seed=7))
    assert response.success
    expected = harness.sim.sim.sample_block_pose(7)
    assert harness.spin(lambda: harness.msgs["status"][-1][1].seed == 7, 5.0)
    status = harness.msgs["status"][-1][1]
    np.testing.assert_allclose(status.block_pose, expected, atol=2e-3)
    assert status.episode_time_s < 0.5 and not status.success
