"""ready_pose_node: ``~/move_to_ready`` (std_srvs/Trigger) moves the real arm to its ready pose between episodes.

Order of one request, so that nothing fights the motion:
1. the policy node is deactivated (lifecycle ``deactivate`` through its real service); the chunk
   executor sees PolicyStatus "inactive" and holds (its watchdog), so no new chunk is executed;
2. when the rollout uses a streaming controller (joint position or Cartesian), it is switched
   off and the trajectory controller on (controller_manager ``switch_controller``);
3. MoveIt (moveit_py) plans to the SRDF named state ``named_target`` (or to ``joint_positions``)
   and executes through the trajectory controller;
4. the controllers are switched back. The policy stays inactive: the operator (or the episode
   script) activates it for the next episode.

moveit_py and controller_manager_msgs are imported lazily: where they are absent the node still
starts, and the service answers ``success=False`` with what to install. In simulation dp_sim's
``/sim_node/move_to_ready`` plays this role (same service type).

MoveItPy is a C++ node of its own in this process; it gets its parameters only from the params
file ``moveit_params_file`` (written by franka.launch.py from
:mod:`dp_policy_node.moveit_params`), keyed by the name it is created with, ``moveit_node_name``
(checked before MoveItPy is created: a file for another node would leave it without a robot).
"""

from __future__ import annotations

import threading
from typing import Any

from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.parameter import Parameter
from std_srvs.srv import Trigger

from dp_policy_node.moveit_params import check_params_file
from dp_ros_common.node_main import run_node
from dp_ros_common.params import Param, declare_all

PARAMS = [
    Param("planning_group", "fr3_arm", "MoveIt planning group (franka_fr3_moveit_config: fr3_arm)"),
    Param("named_target", "ready", "SRDF named state to move to; empty = use joint_positions"),
    Param("joint_names", [], "joints of joint_positions, in order", Parameter.Type.STRING_ARRAY),
    Param("joint_positions", [], "ready pose in rad (used when named_target is empty)", Parameter.Type.DOUBLE_ARRAY),
    Param("velocity_scaling", 0.2, "MoveIt max velocity scaling factor, 0..1"),
    Param("acceleration_scaling", 0.2, "MoveIt max acceleration scaling factor, 0..1"),
    Param("policy_node", "/policy_node", "lifecycle policy node deactivated before moving; empty = none"),
    Param("trajectory_controller", "fr3_arm_controller", "ros2_control controller MoveIt executes through"),
    Param(
        "streaming_controller", "", "controller switched off during the move (joint position/Cartesian); empty = none"
    ),
    Param("controller_manager", "/controller_manager", "controller_manager node (switch_controller service)"),
    Param("service_timeout_s", 10.0, "timeout of each lifecycle / controller_manager call, s"),
    Param(
        "moveit_node_name", "ready_pose_moveit", "node name of the MoveItPy instance (its params file is keyed by it)"
    ),
    Param(
        "moveit_params_file",
        "",
        "ROS params file with the MoveIt parameters for moveit_node_name; set by franka.launch.py",
    ),
]

MOVEIT_MISSING = (
    "moveit_py is not installed (sudo apt install ros-jazzy-moveit-py; franka_fr3_moveit_config comes from "
    "the franka_ros2 source workspace, docs/robot_bringup.md), or no MoveIt params file was given "
    "(franka.launch.py ready_pose:=true writes it); in simulation call /sim_node/move_to_ready instead"
)


class ReadyPoseNode(Node):
    """See the module docstring."""

    def __init__(self, node_name: str = "ready_pose_node", **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        self.values = declare_all(self, PARAMS)
        v = self.values
        if not v["named_target"] and (not v["joint_positions"] or len(v["joint_names"]) != len(v["joint_positions"])):
            raise ValueError("set named_target, or joint_names and joint_positions of the same length")
        for key in ("velocity_scaling", "acceleration_scaling"):
            if not 0.0 < v[key] <= 1.0:
                raise ValueError(f"{key} must be in (0, 1], got {v[key]}")
        group = ReentrantCallbackGroup()
        self.policy_get = self.create_client(GetState, f"{v['policy_node']}/get_state", callback_group=group)
        self.policy_change = self.create_client(ChangeState, f"{v['policy_node']}/change_state", callback_group=group)
        self.create_service(Trigger, "~/move_to_ready", self._on_move_to_ready, callback_group=group)
        self.moveit: Any = None
        self.moveit_error = ""

    # ---- steps -------------------------------------------------------------------------------
    def _call(self, client: Any, request: Any) -> Any:
        timeout_s = self.values["service_timeout_s"]
        if not client.wait_for_service(timeout_sec=timeout_s):
            raise RuntimeError(f"service {client.srv_name} not available within {timeout_s} s")
        # we run in a reentrant group of a MultiThreadedExecutor: another thread completes the future
        event = threading.Event()
        future = client.call_async(request)
        future.add_done_callback(lambda _f: event.set())
        if not event.wait(timeout_s):
            raise RuntimeError(f"no reply from {client.srv_name} within {timeout_s} s")
        return future.result()

    def deactivate_policy(self) -> str:
        """Deactivate the policy node when it is active; return what was done."""
        if not self.values["policy_node"]:
            return "no policy node configured"
        label = self._call(self.policy_get, GetState.Request()).current_state.label
        if label != "active":
            return f"policy was {label}"
        request = ChangeState.Request()
        request.transition.id = Transition.TRANSITION_DEACTIVATE
        if not self._call(self.policy_change, request).success:
            raise RuntimeError(f"{self.values['policy_node']} refused to deactivate")
        return "policy deactivated"

    def switch_controllers(self, activate: list[str], deactivate: list[str]) -> None:
        """controller_manager switch (STRICT); a no-op when nothing to switch."""
        if not activate and not deactivate:
            return
        from controller_manager_msgs.srv import SwitchController  # apt: ros-jazzy-controller-manager-msgs

        client = self.create_client(SwitchController, f"{self.values['controller_manager']}/switch_controller")
        try:
            request = SwitchController.Request(
                activate_controllers=activate,
                deactivate_controllers=deactivate,
                strictness=SwitchController.Request.STRICT,
            )
            if not self._call(client, request).ok:
                raise RuntimeError(f"controller switch refused (activate {activate}, deactivate {deactivate})")
        finally:
            self.destroy_client(client)

    def move(self) -> None:
        """Plan and execute to the ready pose with moveit_py (created on first use)."""
        if self.moveit is None:
            v = self.values
            if not v["moveit_params_file"]:
                raise RuntimeError(f"{MOVEIT_MISSING} (moveit_params_file is empty)")
            try:
                check_params_file(v["moveit_params_file"], v["moveit_node_name"])
            except ValueError as err:
                raise RuntimeError(str(err)) from None
            try:
                from moveit.planning import MoveItPy  # apt: ros-jazzy-moveit-py
            except ImportError as err:
                raise RuntimeError(f"{MOVEIT_MISSING} ({err})") from None
            # the node its parameters are given to (moveit_py planning: MoveItPy(node_name, ...,
            # launch_params_filepaths) makes an rclcpp node with exactly these --params-file args)
            self.moveit = MoveItPy(node_name=v["moveit_node_name"], launch_params_filepaths=[v["moveit_params_file"]])
        from moveit.core.robot_state import RobotState
        from moveit.planning import PlanRequestParameters

        v = self.values
        arm = self.moveit.get_planning_component(v["planning_group"])
        arm.set_start_state_to_current_state()
        if v["named_target"]:
            arm.set_goal_state(configuration_name=v["named_target"])
        else:
            goal = RobotState(self.moveit.get_robot_model())
            goal.joint_positions = dict(zip(v["joint_names"], v["joint_positions"]))
            arm.set_goal_state(robot_state=goal)
        params = PlanRequestParameters(self.moveit, "")
        params.max_velocity_scaling_factor = v["velocity_scaling"]
        params.max_acceleration_scaling_factor = v["acceleration_scaling"]
        plan = arm.plan(single_plan_parameters=params)
        if not plan:
            raise RuntimeError(f"MoveIt found no plan to '{v['named_target'] or v['joint_positions']}'")
        self.moveit.execute(plan.trajectory, controllers=[v["trajectory_controller"]])

    # ---- service -----------------------------------------------------------------------------
    def _on_move_to_ready(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        v = self.values
        streaming = [v["streaming_controller"]] if v["streaming_controller"] else []
        trajectory = [v["trajectory_controller"]] if streaming else []
        try:
            done = self.deactivate_policy()
            self.switch_controllers(activate=trajectory, deactivate=streaming)
            try:
                self.move()
            finally:
                self.switch_controllers(activate=streaming, deactivate=trajectory)
        except (RuntimeError, ImportError) as err:
            response.success, response.message = False, str(err)
            self.get_logger().error(f"move_to_ready failed: {err}")
            return response
        response.success, response.message = True, f"{done}; at the ready pose"
        self.get_logger().info(response.message)
        return response


def main(args: list[str] | None = None) -> None:
    run_node(ReadyPoseNode, "ready_pose_node", args, threads=2)


if __name__ == "__main__":
    main()
