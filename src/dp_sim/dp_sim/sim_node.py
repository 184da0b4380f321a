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
from typing import Any

from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from std_msgs.msg import Float64MultiArray
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory

from dp_core.time_units import ns_to_s, s_to_ns
from dp_msgs.srv import ResetSim
from dp_ros_common.node_main import run_node
from dp_ros_common.params import declare_all
from dp_sim import ros_conversions as conv
from dp_sim.env import PushTSim, PushTSimConfig
from dp_sim.hand import SimulatedHand
from dp_sim.interfaces import INTERFACES, EndEffector
from dp_sim.pacing import Pacer
from dp_sim.scene import SceneConfig
from dp_sim.sim_parameters import PARAMS
from dp_sim.state_publisher import StatePublisher


class SimNode(Node):
    """Adapter: parameters → PushTSim; physics thread → publishers; command topics → sim."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("sim_node", **kwargs)
        p = declare_all(self, PARAMS)
        self.params = p
        if p["interface"] not in INTERFACES:
            raise ValueError(f"interface must be one of {sorted(INTERFACES)}, got '{p['interface']}'")
        self.names = names = INTERFACES[p["interface"]]
        self.franka = p["interface"] == "franka"
        self.sim = PushTSim(
            PushTSimConfig(
                scene=SceneConfig(timestep_s=float(p["physics_timestep_s"])),
                tip_height_m=p["tip_height_m"],
                success_coverage=p["success_coverage"],
                strict_interface=self.franka,
            )
        )
        self.end_effector = EndEffector(
            float(p["ee_offset_m"]), float(p["ee_yaw_rad"]), self.sim.config.scene.pusher_length_m
        )
        self.hand = SimulatedHand() if self.franka else None
        self.gripper = None
        self.sim.reset(int(p["seed"]))
        self.pacer = Pacer(float(p["real_time_factor"]))
        if not p["control_period_s"] > 0:
            raise ValueError(f"control_period_s must be > 0, got {p['control_period_s']}")
        self._substeps = max(1, int(round(p["control_period_s"] / self.sim.dt_s)))
        self._lock = threading.Lock()
        self.rejected_commands = 0
        self.state = StatePublisher(self, self.names, p, self.end_effector if self.franka else None, self.hand)
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
            self.state.publish(self.sim)
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
                limit_ns = self.sim.time_ns + s_to_ns(self.params["max_future_start_s"])
                if start_ns > limit_ns:
                    raise ValueError(
                        f"trajectory starts {ns_to_s(start_ns - self.sim.time_ns):.1f} s in the future; "
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
    run_node(SimNode, "sim_node", args, on_exit=SimNode.stop)


if __name__ == "__main__":
    main()
