"""sim_node: the Push-T simulation behind the real robot's ROS interface.

Physics runs in its own thread (paced by ``real_time_factor``); it publishes /clock and all
state stamped with sim time. With ``lockstep:=true`` there is no thread: the process that
composes this node calls :meth:`SimNode.tick` and lets every other node of the graph finish its
callbacks before the next tick (:mod:`dp_sim.lockstep`), so a rollout does not depend on how fast
the machine is and is reproducible to the bit. Commands arrive on the topics of the real controllers and are
validated before they reach the sim: a rejected command is logged (throttled), counted, and the
arm keeps holding its previous command. All sim logic lives in :mod:`dp_sim.env`.

``interface:=franka`` is the FR3 twin: franka_ros2's topic names and QoS (:mod:`dp_sim.interfaces`),
commands judged raw at the interface like libfranka (``strict_interface``), a simulated Hand.
In both, a reflex (:mod:`dp_sim.reflexes`) stops the arm, is logged and latched on ``~/reflex``
(diagnostic_msgs/DiagnosticStatus, transient local), and ``~/error_recovery`` (std_srvs/Trigger,
the twin of franka's ``/action_server/error_recovery``) lets commands in again.
"""

from __future__ import annotations

import threading
import time

from diagnostic_msgs.msg import DiagnosticStatus
from dp_msgs.msg import TaskStatus
from dp_msgs.srv import ResetSim
from geometry_msgs.msg import PoseStamped
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy, qos_profile_sensor_data
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Float64MultiArray
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory

from dp_policy_node.node_main import run_node

from dp_sim import ros_conversions as conv
from dp_sim.env import PushTSim, PushTSimConfig
from dp_sim.hand import SimulatedHand
from dp_sim.interfaces import FINGER_JOINTS, INTERFACES, EndEffector
from dp_sim.pacing import Pacer, Schedule
from dp_sim.scene import SceneConfig

# name: (default, description). Declared in one place; defaults mirror config/sim.yaml.
PARAMETERS: dict[str, tuple[object, str]] = {
    "interface": ("dp_sim", "dp_sim (own names, forgiving goal filter) | franka (the FR3 twin: franka_ros2's names, strict)"),
    "physics_timestep_s": (0.002, "physics step = one command-interface cycle, s (the FR3's is 0.001)"),
    "ee_offset_m": (0.1034, "franka: flange -> end effector along z (Desk setting; Hand TCP 0.1034), m"),
    "ee_yaw_rad": (-0.785398, "franka: end effector rotation about the flange z axis (Hand: -pi/4), rad"),
    "gripper_state_rate_hz": (50.0, "franka: /franka_gripper/joint_states rate (franka_gripper state_publish_rate), Hz"),
    "real_time_factor": (1.0, "sim seconds per wall second; 0 = as fast as possible"),
    "lockstep": (False, "no physics thread: the composing process calls tick() (dp_sim.lockstep)"),
    "control_period_s": (0.01, "sim time advanced per loop iteration and /clock period, s"),
    "seed": (0, "seed of the first episode"),
    "base_frame": ("fr3_link0", "frame of /ee_pose and of accepted /cartesian_target"),
    "joint_state_rate_hz": (100.0, "/joint_states rate in sim time, Hz (0 = off); stamps fall on control ticks"),
    "ee_pose_rate_hz": (100.0, "/ee_pose rate in sim time, Hz (0 = off)"),
    "task_status_rate_hz": (30.0, "/task_status rate in sim time, Hz (0 = off)"),
    "image_rate_hz": (10.0, "camera image rate in sim time, Hz"),
    "publish_images": (False, "render and publish cameras (needs headless GL)"),
    "cameras": (["top", "wrist"], "scene cameras to publish (top, wrist)"),
    "camera_names": ([""], "published name per camera ([''] = the scene names): /camera/<name>/..."),
    "image_width": (96, "image width, px"),
    "image_height": (96, "image height, px"),
    "tip_height_m": (0.015, "pusher tip height above the table, m"),
    "success_coverage": (0.90, "coverage of the target that counts as success, 0..1"),
    "max_future_start_s": (5.0, "reject trajectories starting later than this after now, s"),
}


class SimNode(Node):
    """Adapter: parameters → PushTSim; physics thread → publishers; command topics → sim."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__("sim_node", **kwargs)
        for name, (default, text) in PARAMETERS.items():
            self.declare_parameter(name, default, ParameterDescriptor(description=text))
        p = {name: self.get_parameter(name).value for name in PARAMETERS}
        self.params = p
        if p["interface"] not in INTERFACES:
            raise ValueError(f"interface must be one of {sorted(INTERFACES)}, got '{p['interface']}'")
        self.names = names = INTERFACES[p["interface"]]
        self.franka = p["interface"] == "franka"
        self.sim = PushTSim(PushTSimConfig(
            scene=SceneConfig(timestep_s=float(p["physics_timestep_s"])), tip_height_m=p["tip_height_m"],
            success_coverage=p["success_coverage"], strict_interface=self.franka))
        self.end_effector = EndEffector(float(p["ee_offset_m"]), float(p["ee_yaw_rad"]), self.sim.config.scene.pusher_length_m)
        self.hand = SimulatedHand() if self.franka else None
        self.gripper = None
        self.sim.reset(int(p["seed"]))
        self.pacer = Pacer(float(p["real_time_factor"]))
        if not p["control_period_s"] > 0:
            raise ValueError(f"control_period_s must be > 0, got {p['control_period_s']}")
        self._substeps = max(1, int(round(p["control_period_s"] / self.sim.dt_s)))
        self._schedules = {
            "joint_states": Schedule(p["joint_state_rate_hz"]),
            "ee_pose": Schedule(p["ee_pose_rate_hz"]),
            "task_status": Schedule(p["task_status_rate_hz"]),
            "images": Schedule(p["image_rate_hz"] if p["publish_images"] else 0.0),
            "gripper": Schedule(p["gripper_state_rate_hz"] if self.hand else 0.0),
        }
        self._lock = threading.Lock()
        self.rejected_commands = 0
        self._pub_clock = self.create_publisher(Clock, "/clock", 10)
        self._pub_joints = self.create_publisher(JointState, names.joint_states, 10)
        best_effort = QoSProfile(depth=1, reliability=QoSReliabilityPolicy.BEST_EFFORT)
        self._pub_pose = self.create_publisher(PoseStamped, names.ee_pose, best_effort if names.ee_pose_best_effort else 10)
        self._pub_status = self.create_publisher(TaskStatus, "/task_status", 10)
        cams = list(p["cameras"]) if p["publish_images"] else []
        published = list(p["camera_names"]) if list(p["camera_names"]) != [""] else list(p["cameras"])
        if len(published) != len(p["cameras"]):
            raise ValueError(f"camera_names needs one name per camera {list(p['cameras'])}, got {published}")
        self._camera_names = dict(zip(p["cameras"], published))
        self._pub_images = {cam: self.create_publisher(Image, names.camera.format(self._camera_names[cam]), 2) for cam in cams}
        self._pub_gripper = self.create_publisher(JointState, names.gripper_joint_states, qos_profile_sensor_data) if self.hand else None
        latched = QoSProfile(depth=1, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)
        self._pub_reflex = self.create_publisher(DiagnosticStatus, "~/reflex", latched)
        self._reported_reflexes, self._reflex_clear = -1, True
        self.create_subscription(JointTrajectory, names.trajectory, self._on_trajectory, 10)
        self.create_subscription(Float64MultiArray, names.positions, self._on_positions, 10)
        self.create_subscription(PoseStamped, names.cartesian, self._on_cartesian, 10)
        self.create_service(ResetSim, "~/reset", self._on_reset)
        self.create_service(Trigger, "~/move_to_ready", self._on_ready)
        self.create_service(Trigger, "~/error_recovery", self._on_error_recovery)
        if self.hand is not None:
            try:  # franka_gripper's actions need franka_msgs and control_msgs (vendor/ has stand-ins)
                from dp_sim.gripper_server import GripperServer
            except ImportError as err:
                self.get_logger().warning(f"no franka_gripper actions on the twin ({err}); finger states only")
            else:
                self.gripper = GripperServer(self, self.hand)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if not p["lockstep"]:
            self._thread = threading.Thread(target=self._run, name="sim_physics", daemon=True)
            self._thread.start()

    # ---- physics ---------------------------------------------------------------------------
    def tick(self) -> int:
        """Advance one control period and publish what is due; returns the new sim time (ns)."""
        with self._lock:
            self.sim.step(self._substeps)
            if self.gripper is not None:
                self.gripper.step(self._substeps * self.sim.dt_s)
            elif self.hand is not None:
                self.hand.step(self._substeps * self.sim.dt_s)
            self._publish_state()
            return self.sim.time_ns

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self.tick()
                wait = self.pacer.wait_s(self.sim.time_ns, time.monotonic())
                if wait > 0:
                    self._stop.wait(wait)
        finally:
            self.sim.close()  # GL contexts belong to this thread
    def _publish_state(self) -> None:
        sim, t = self.sim, self.sim.time_ns
        self._pub_clock.publish(Clock(clock=conv.stamp(t)))
        if self._reported_reflexes != sim.reflex_count or (sim.reflex is None) != self._reflex_clear:
            self._reported_reflexes, self._reflex_clear = sim.reflex_count, sim.reflex is None
            self._pub_reflex.publish(conv.reflex_status_msg(sim.reflex, sim.reflex_count))
        fingers = {} if self.hand is None else dict(zip(FINGER_JOINTS, self.hand.finger_positions))
        if self._schedules["joint_states"].due(t):
            self._pub_joints.publish(conv.joint_state_msg(t, sim.joint_positions(), sim.joint_velocities(), sim.joint_efforts(), fingers))
        if self._pub_gripper is not None and self._schedules["gripper"].due(t):
            self._pub_gripper.publish(conv.finger_state_msg(t, fingers))
        if self._schedules["ee_pose"].due(t):
            pos, quat = sim.ee_position(), sim.ee_quaternion()
            if self.franka:  # O_T_EE: the configured end effector, not the pusher tip
                pos, quat = conv.ee_pose_from_tip(self.end_effector, pos, quat)
            self._pub_pose.publish(conv.pose_msg(t, self.params["base_frame"], pos, quat))
        if self._schedules["task_status"].due(t):
            self._pub_status.publish(
                conv.task_status_msg(t, sim.seed, sim.coverage(), sim.success, sim.block_pose(), sim.episode_time_s)
            )
        if self._schedules["images"].due(t):
            w, h = int(self.params["image_width"]), int(self.params["image_height"])
            try:
                for cam, pub in self._pub_images.items():
                    name = self._camera_names[cam]
                    frame = f"{name}_color_optical_frame" if self.franka else f"{name}_camera"  # realsense2_camera's name
                    pub.publish(conv.image_msg(t, frame, sim.render(cam, h, w)))
            except (RuntimeError, ValueError) as err:
                self.get_logger().error(f"camera images disabled: {err}")
                self._schedules["images"] = Schedule(0.0)

    # ---- commands ------------------------------------------------------------------------
    def _reject(self, what: str, err: Exception) -> None:
        self.rejected_commands += 1
        self.get_logger().warning(
            f"rejected {what} ({self.rejected_commands} so far), holding: {err}", throttle_duration_sec=1.0
        )

    def _on_trajectory(self, msg: JointTrajectory) -> None:
        try:
            points, start_ns = conv.trajectory_from_msg(msg, jtc_rules=self.franka)
            with self._lock:
                limit_ns = self.sim.time_ns + int(self.params["max_future_start_s"] * 1e9)
                if start_ns > limit_ns:
                    raise ValueError(
                        f"trajectory starts {(start_ns - self.sim.time_ns) / 1e9:.1f} s in the future; "
                        "stamp it with sim time (use_sim_time:=true) or 0 for 'now'"
                    )
                self.sim.set_joint_trajectory(points, start_ns)
        except ValueError as err:
            self._reject("joint trajectory", err)

    def _on_positions(self, msg: Float64MultiArray) -> None:
        try:
            q = conv.joint_positions_from_command(msg)
            with self._lock:
                self.sim.set_joint_targets(q)
        except ValueError as err:
            self._reject("position command", err)

    def _on_cartesian(self, msg: PoseStamped) -> None:
        try:
            if self.franka:  # a full end-effector pose, as the Cartesian controller takes it
                pos, rot = conv.tip_target_from_ee_msg(msg, self.params["base_frame"], self.end_effector)
                with self._lock:
                    self.sim.set_tip_pose_target(pos, rot)
                return
            xy = conv.pusher_target_from_msg(msg, self.params["base_frame"])
            with self._lock:
                self.sim.set_pusher_target(xy)
        except ValueError as err:
            self._reject("cartesian target", err)

    def _on_reset(self, request: ResetSim.Request, response: ResetSim.Response) -> ResetSim.Response:
        with self._lock:
            self.sim.reset(int(request.seed))
            pose = self.sim.block_pose()
        response.success = True
        response.message = f"episode seed {request.seed}: block at x={pose[0]:.3f} y={pose[1]:.3f} yaw={pose[2]:.3f}"
        self.get_logger().info(response.message)
        return response

    def _on_ready(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        with self._lock:
            self.sim.move_to_ready()
        response.success, response.message = True, "moving to the ready pose"
        return response

    def _on_error_recovery(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        with self._lock:
            had = self.sim.recover()
        response.success = True
        response.message = "recovered from a reflex" if had else "no reflex to recover from"
        self.get_logger().info(response.message)
        return response

    def stop(self) -> None:
        """Stop the physics thread (before destroy_node)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        else:
            self.sim.close()


def main(args: list[str] | None = None) -> None:
    run_node(SimNode, "sim_node", args, on_exit=lambda node: node.stop())


if __name__ == "__main__":
    main()
