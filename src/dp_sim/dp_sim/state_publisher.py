"""What sim_node publishes after each tick, each stream at its own sim-time rate.

The topic names and QoS come from :mod:`dp_sim.interfaces` (dp_sim's or franka_ros2's). With an
end effector (the FR3 twin), the pose is O_T_EE instead of the pusher tip; with a Hand, the
finger joints join ``/joint_states`` (as franka_bringup's joint_state_publisher merges them) and
go out on franka_gripper's joint_states. The reflex state is published when it changes, latched.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from diagnostic_msgs.msg import DiagnosticStatus
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy, qos_profile_sensor_data
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image, JointState

from dp_msgs.msg import TaskStatus
from dp_ros_common.stamps import ns_to_time
from dp_sim import ros_conversions as conv
from dp_sim.env import PushTSim
from dp_sim.hand import SimulatedHand
from dp_sim.interfaces import FINGER_JOINTS, EndEffector, InterfaceNames
from dp_sim.pacing import Schedule


class StatePublisher:
    """Publishers and schedules of one sim node; :meth:`publish` after every tick."""

    def __init__(
        self,
        node: Node,
        names: InterfaceNames,
        p: Mapping[str, Any],
        end_effector: EndEffector | None,
        hand: SimulatedHand | None,
    ) -> None:
        self.node, self.params, self.end_effector, self.hand = node, p, end_effector, hand
        self.schedules = {
            "joint_states": Schedule(p["joint_state_rate_hz"]),
            "ee_pose": Schedule(p["ee_pose_rate_hz"]),
            "task_status": Schedule(p["task_status_rate_hz"]),
            "images": Schedule(p["image_rate_hz"] if p["publish_images"] else 0.0),
            "gripper": Schedule(p["gripper_state_rate_hz"] if hand else 0.0),
        }
        pub = node.create_publisher
        self._clock = pub(Clock, "/clock", 10)
        self._joints = pub(JointState, names.joint_states, 10)
        best_effort = QoSProfile(depth=1, reliability=QoSReliabilityPolicy.BEST_EFFORT)
        self._pose = pub(PoseStamped, names.ee_pose, best_effort if names.ee_pose_best_effort else 10)
        self._status = pub(TaskStatus, "/task_status", 10)
        published = list(p["camera_names"]) if list(p["camera_names"]) != [""] else list(p["cameras"])
        if len(published) != len(p["cameras"]):
            raise ValueError(f"camera_names needs one name per camera {list(p['cameras'])}, got {published}")
        self.camera_names = dict(zip(p["cameras"], published))
        topics = (
            list(p["camera_topics"])
            if list(p["camera_topics"]) != [""]
            else [names.camera.format(n) for n in published]
        )
        if len(topics) != len(p["cameras"]):
            raise ValueError(f"camera_topics needs one topic per camera {list(p['cameras'])}, got {topics}")
        cams = list(p["cameras"]) if p["publish_images"] else []
        topic_of = dict(zip(p["cameras"], topics))
        self._images = {cam: pub(Image, topic_of[cam], 2) for cam in cams}
        self._camera_frame = names.camera_frame
        self._gripper = pub(JointState, names.gripper_joint_states, qos_profile_sensor_data) if hand else None
        self._reflex = pub(
            DiagnosticStatus, "~/reflex", QoSProfile(depth=1, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)
        )
        self._reported: tuple[int, bool] | None = None

    def publish(self, sim: PushTSim) -> None:
        t = sim.time_ns
        self._clock.publish(Clock(clock=ns_to_time(t)))
        reflex_state = (sim.reflex_count, sim.reflex is None)
        if reflex_state != self._reported:
            self._reported = reflex_state
            self._reflex.publish(conv.reflex_status_msg(sim.reflex, sim.reflex_count))
        fingers = {} if self.hand is None else dict(zip(FINGER_JOINTS, self.hand.finger_positions))
        if self.schedules["joint_states"].due(t):
            self._joints.publish(
                conv.joint_state_msg(t, sim.joint_positions(), sim.joint_velocities(), sim.joint_efforts(), fingers)
            )
        if self._gripper is not None and self.schedules["gripper"].due(t):
            self._gripper.publish(conv.finger_state_msg(t, fingers))
        if self.schedules["ee_pose"].due(t):
            pos, quat = sim.ee_position(), sim.ee_quaternion()
            if self.end_effector is not None:  # O_T_EE: the configured end effector, not the pusher tip
                pos, quat = conv.ee_pose_from_tip(self.end_effector, pos, quat)
            self._pose.publish(conv.pose_msg(t, self.params["base_frame"], pos, quat))
        if self.schedules["task_status"].due(t):
            self._status.publish(
                conv.task_status_msg(t, sim.seed, sim.coverage(), sim.success, sim.block_pose(), sim.episode_time_s)
            )
        if self.schedules["images"].due(t):
            w, h = int(self.params["image_width"]), int(self.params["image_height"])
            try:
                for cam, pub in self._images.items():
                    frame = self._camera_frame.format(self.camera_names[cam])
                    pub.publish(conv.image_msg(t, frame, sim.render(cam, h, w)))
            except (RuntimeError, ValueError) as err:
                self.node.get_logger().error(f"camera images disabled: {err}")
                self.schedules["images"] = Schedule(0.0)
