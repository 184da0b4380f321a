"""Teleop node over DDS: a scripted Joy sequence → twists, Cartesian targets, recorder service calls."""

import pytest
from geometry_msgs.msg import PoseStamped, TwistStamped
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from sensor_msgs.msg import Joy

from dp_msgs.srv import StartEpisode, StopEpisode
from dp_ros_common.testing import spin_until
from dp_teleop.teleop_node import TeleopNode

pytestmark = pytest.mark.ros


def test_joy_sequence_drives_twist_pose_and_episode_calls(ros_context):
    teleop = TeleopNode(context=ros_context, parameter_overrides=[Parameter("rate_hz", value=50.0)])
    test = Node("joy_script", context=ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(teleop)
    executor.add_node(test)
    twists: list[TwistStamped] = []
    poses: list[PoseStamped] = []
    calls: list[tuple[str, object]] = []

    def handler(name):
        def serve(request, response):
            calls.append((name, request))
            response.success = True
            return response

        return serve

    test.create_service(StartEpisode, "/recorder/start_episode", handler("start"))
    test.create_service(StopEpisode, "/recorder/stop_episode", handler("stop"))
    test.create_service(StopEpisode, "/recorder/discard_episode", handler("discard"))
    test.create_subscription(TwistStamped, "/teleop/twist", twists.append, 50)
    test.create_subscription(PoseStamped, "/cartesian_target", poses.append, 50)
    joy_pub = test.create_publisher(Joy, "/joy", 10)
    pose_pub = test.create_publisher(PoseStamped, "/current_pose", 10)

    def send_joy(axes, buttons):
        msg = Joy(axes=[0.0] * 8, buttons=[0] * 11)
        for i, v in axes.items():
            msg.axes[i] = v
        for b in buttons:
            msg.buttons[b] = 1
        joy_pub.publish(msg)

    try:
        assert spin_until(
            executor,
            lambda: (
                teleop.episode_clients[next(iter(teleop.episode_clients))].service_is_ready()
                and joy_pub.get_subscription_count() > 0
                and pose_pub.get_subscription_count() > 0
            ),
            20.0,
        )
        assert spin_until(executor, lambda: len(twists) > 3, 10.0) and not poses  # no pose known: no target
        measured = PoseStamped()
        measured.pose.position.x, measured.pose.position.y, measured.pose.position.z = 0.5, 0.1, 0.3
        measured.pose.orientation.w = 1.0
        pose_pub.publish(measured)
        assert spin_until(executor, lambda: bool(poses), 10.0)
        assert (poses[-1].pose.position.x, poses[-1].pose.position.y) == (0.5, 0.1)
        # deadman + full forward: +x at the speed limit (0.2 m/s), target moves +x
        n_before = len(twists)
        ok = spin_until(executor, lambda: (send_joy({1: 1.0}, [4]) or True) and twists[-1].twist.linear.x > 0.19, 10.0)
        assert ok and twists[-1].twist.linear.x == pytest.approx(0.2) and len(twists) > n_before
        moving = spin_until(
            executor, lambda: (send_joy({1: 1.0}, [4]) or True) and poses[-1].pose.position.x > 0.52, 10.0
        )
        assert moving and poses[-1].pose.position.z == pytest.approx(0.3)
        # deadman released (stick still pushed): zero twist, target frozen
        assert spin_until(executor, lambda: (send_joy({1: 1.0}, []) or True) and twists[-1].twist.linear.x == 0.0, 10.0)
        frozen = poses[-1].pose.position.x
        count = len(poses)
        assert spin_until(executor, lambda: (send_joy({1: 1.0}, []) or True) and len(poses) > count + 5, 10.0)
        assert all(p.pose.position.x == frozen for p in poses[count:])
        assert all(t.twist.linear.x == 0 for t in twists[-5:])
        # buttons: start, keep (success), discard
        for button in (0, 1, 2):
            send_joy({}, [button])
            spin_until(executor, lambda: False, 0.1)
            send_joy({}, [])
            spin_until(executor, lambda: False, 0.1)
        assert spin_until(executor, lambda: len(calls) >= 3, 10.0)
        assert [name for name, _ in calls] == ["start", "stop", "discard"]
        assert calls[1][1].task_success is True
        # stale input: the last Joy said "go" but no messages arrive any more → zero within the timeout
        pose_pub.publish(measured)  # (the robot reports its pose: engaging needs a fresh one)
        spin_until(executor, lambda: False, 0.05)
        send_joy({1: 1.0}, [4])
        assert spin_until(executor, lambda: twists[-1].twist.linear.x > 0.1, 5.0)
        assert spin_until(executor, lambda: twists[-1].twist.linear.x == 0.0, 5.0)
    finally:
        executor.shutdown()
        teleop.destroy_node()
        test.destroy_node()


def test_far_target_is_refused_on_engage_and_servo_gets_the_twist(ros_context):
    """A measured pose outside the workspace box would be clamped into it: a jump, so refused."""
    from rclpy.qos import QoSProfile, QoSReliabilityPolicy

    teleop = TeleopNode(
        context=ros_context,
        parameter_overrides=[
            Parameter("rate_hz", value=50.0),
            Parameter("servo_twist_topic", value="/servo_node/delta_twist_cmds"),
        ],
    )
    test = Node("far_script", context=ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    for n in (teleop, test):
        executor.add_node(n)
    poses: list[PoseStamped] = []
    servo: list[TwistStamped] = []
    test.create_subscription(PoseStamped, "/cartesian_target", poses.append, 50)
    test.create_subscription(TwistStamped, "/servo_node/delta_twist_cmds", servo.append, 50)
    joy_pub = test.create_publisher(Joy, "/joy", 10)
    # like franka_robot_state_broadcaster: best effort, depth 1
    pose_pub = test.create_publisher(
        PoseStamped, "/current_pose", QoSProfile(depth=1, reliability=QoSReliabilityPolicy.BEST_EFFORT)
    )
    measured = PoseStamped()
    measured.header.frame_id = "fr3_link0"
    measured.pose.position.x, measured.pose.position.y, measured.pose.position.z = 0.5, 0.0, -0.05  # below the box
    measured.pose.orientation.w = 1.0

    def robot_and_stick() -> bool:
        pose_pub.publish(measured)
        joy_pub.publish(Joy(axes=[0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0], buttons=[0, 0, 0, 0, 1] + [0] * 6))
        return False

    try:
        assert spin_until(
            executor, lambda: pose_pub.get_subscription_count() > 0 and joy_pub.get_subscription_count() > 0, 20.0
        )
        spin_until(executor, lambda: robot_and_stick() or teleop.loop.refused is not None, 5.0)
        assert teleop.loop.refused is not None and "from the measured pose" in teleop.loop.refused
        n = len(poses)
        spin_until(executor, robot_and_stick, 0.5)
        assert len(poses) == n  # nothing is sent while refused
        assert servo and all(t.twist.linear.z == 0.0 for t in servo[-5:])
        # the arm inside the box: released and pressed again, the target follows the stick
        measured.pose.position.z = 0.3
        joy_pub.publish(Joy(axes=[0.0] * 8, buttons=[0] * 11))
        spin_until(executor, lambda: False, 0.1)
        assert spin_until(
            executor, lambda: robot_and_stick() or (bool(poses) and poses[-1].pose.position.z > 0.31), 5.0
        )
        assert teleop.loop.refused is None and servo[-1].twist.linear.z > 0 and servo[-1].header.frame_id == "fr3_link0"
    finally:
        executor.shutdown()
        teleop.destroy_node()
        test.destroy_node()
