"""sim_node: the Push-T simulation behind the real robot's ROS interface.

Physics runs in its own thread (paced by ``real_time_factor``); it publishes /clock and all
state stamped with sim time. With ``lockstep:=true`` there is no thread: the process that
composes this node calls :meth:`SimNode.tick` and lets every other node of the graph finish its
callbacks before the next tick (:mod:`dp_sim.lockstep`), so a rollout does not depend on how fast
the machine is and is reproducible to the bit. Commands arrive on the topics of the real controllers and are
validated before they reach the sim: a rejected command is logged (throttled), counted, and the
arm keeps holding its previous command. All sim logic lives in :mod:`dp_sim.env`.
"""

from __future__ import annotations

import threading
import time

from dp_msgs.msg import TaskStatus
from dp_msgs.srv import ResetSim
from geometry_msgs.msg import PoseStamped
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Float64MultiArray
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory

from dp_policy_node.node_main import run_node

from dp_sim import ros_conversions as conv
from dp_sim.env import PushTSim, PushTSimConfig
from dp_sim.pacing import Pacer, Schedule

# name: (default, description). Declared in one place; defaults mirror config/sim.yaml.
PARAMETERS: dict[str, tuple[object, str]] = {
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
    "cameras": (["top", "wrist"], "cameras to publish on /camera/<name>/image_raw"),
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
        self.sim = PushTSim(PushTSimConfig(tip_height_m=p["tip_height_m"], success_coverage=p["success_coverage"]))
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
        }
        self._lock = threading.Lock()
        self.rejected_commands = 0
        self._pub_clock = self.create_publisher(Clock, "/clock", 10)
        self._pub_joints = self.create_publisher(JointState, "/joint_states", 10)
        self._pub_pose = self.create_publisher(PoseStamped, "/ee_pose", 10)
        self._pub_status = self.create_publisher(TaskStatus, "/task_status", 10)
        self._pub_images = {
            cam: self.create_publisher(Image, f"/camera/{cam}/image_raw", 2) for cam in (p["cameras"] if p["publish_images"] else [])
        }
        self.create_subscription(JointTrajectory, "/joint_trajectory_controller/joint_trajectory", self._on_trajectory, 10)
        self.create_subscription(Float64MultiArray, "/forward_position_controller/commands", self._on_positions, 10)
        self.create_subscription(PoseStamped, "/cartesian_target", self._on_cartesian, 10)
        self.create_service(ResetSim, "~/reset", self._on_reset)
        self.create_service(Trigger, "~/move_to_ready", self._on_ready)
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
        if self._schedules["joint_states"].due(t):
            self._pub_joints.publish(conv.joint_state_msg(t, sim.joint_positions(), sim.joint_velocities(), sim.joint_efforts()))
        if self._schedules["ee_pose"].due(t):
            self._pub_pose.publish(conv.pose_msg(t, self.params["base_frame"], sim.ee_position(), sim.ee_quaternion()))
        if self._schedules["task_status"].due(t):
            self._pub_status.publish(
                conv.task_status_msg(t, sim.seed, sim.coverage(), sim.success, sim.block_pose(), sim.episode_time_s)
            )
        if self._schedules["images"].due(t):
            w, h = int(self.params["image_width"]), int(self.params["image_height"])
            try:
                for cam, pub in self._pub_images.items():
                    pub.publish(conv.image_msg(t, f"{cam}_camera", sim.render(cam, h, w)))
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
            points, start_ns = conv.trajectory_from_msg(msg)
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
