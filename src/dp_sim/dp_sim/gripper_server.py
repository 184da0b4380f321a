"""franka_gripper's ROS interface on the twin's simulated Hand (:class:`dp_sim.hand.SimulatedHand`).

The same names and types as ``franka_gripper_node`` (franka_ros2 jazzy,
``franka_gripper/src/gripper_action_server.cpp``, node ``franka_gripper``): actions ``~/homing``,
``~/move``, ``~/grasp`` (franka_msgs) and ``~/gripper_action`` (control_msgs GripperCommand:
position is half the width; opening is a move, closing a grasp with the default speed and
epsilons), and the ``~/stop`` service. Goals are accepted and a new one preempts the running
one, as on the Hand. Feedback ``current_width`` goes out while a goal runs.

The sim advances the Hand in :meth:`GripperServer.step` (from the physics tick); the goal's
execute coroutine awaits futures that the tick completes, so no executor thread ever blocks on
the physics (the lockstep composition is single-threaded).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from control_msgs.action import GripperCommand
from franka_msgs.action import Grasp, Homing, Move
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.node import Node
from rclpy.task import Future
from std_srvs.srv import Trigger

from dp_sim.hand import MAX_SPEED_MPS, HandTask, SimulatedHand

FEEDBACK_PERIOD_S = 1 / 30  # franka_gripper feedback_publish_rate
DEFAULT_EPSILON_M = 0.005  # franka_gripper default_grasp_epsilon
DEFAULT_SPEED_MPS = MAX_SPEED_MPS


class GripperServer:
    """Action servers of ``/<namespace>`` driving ``hand``; call :meth:`step` from the sim tick."""

    def __init__(self, node: Node, hand: SimulatedHand, namespace: str = "/franka_gripper") -> None:
        self.node, self.hand = node, hand
        self._lock = threading.Lock()
        self._waiting: list[tuple[HandTask, Future]] = []  # futures the next update completes
        self._since_feedback = 0.0
        ns = namespace.rstrip("/")
        handlers = {
            "goal_callback": lambda _g: GoalResponse.ACCEPT,
            "cancel_callback": lambda _g: CancelResponse.ACCEPT,
        }
        self.servers = [
            ActionServer(node, Homing, f"{ns}/homing", self._run(lambda g: hand.homing()), **handlers),
            ActionServer(node, Move, f"{ns}/move", self._run(lambda g: hand.move(g.width, g.speed)), **handlers),
            ActionServer(
                node,
                Grasp,
                f"{ns}/grasp",
                self._run(lambda g: hand.grasp(g.width, g.speed, g.force, g.epsilon.inner, g.epsilon.outer)),
                **handlers,
            ),
            ActionServer(node, GripperCommand, f"{ns}/gripper_action", self._run_gripper_command, **handlers),
        ]
        node.create_service(Trigger, f"{ns}/stop", self._on_stop)

    # ---- the sim side ------------------------------------------------------------------------
    def step(self, dt_s: float) -> None:
        """Advance the Hand; wake running goals when they finish, or for feedback."""
        with self._lock:
            self.hand.step(dt_s)
            self._since_feedback += dt_s
            feedback_due = self._since_feedback >= FEEDBACK_PERIOD_S
            if feedback_due:
                self._since_feedback = 0.0
            keep = []
            for task, future in self._waiting:
                if task.done or feedback_due:
                    future.set_result(self.hand.width_m)
                else:
                    keep.append((task, future))
            self._waiting = keep

    async def _wait(self, task: HandTask) -> float:
        future = Future()
        with self._lock:
            self._waiting.append((task, future))
        return await future

    # ---- goals -------------------------------------------------------------------------------
    def _run(self, start: Callable[[Any], HandTask]) -> Callable:  # start(goal message)
        async def execute(goal_handle):
            action = type(goal_handle.request).__qualname__.split("_")[0]
            result = {"Homing": Homing, "Move": Move, "Grasp": Grasp}[action].Result()
            try:
                with self._lock:
                    task = start(goal_handle.request)
            except ValueError as err:  # libfranka refuses it: the goal aborts with the reason
                result.success, result.error = False, str(err)
                goal_handle.abort()
                return result
            feedback_type = {"Homing": Homing, "Move": Move, "Grasp": Grasp}[action].Feedback
            while True:
                width = await self._wait(task)
                if task.done:
                    break
                if goal_handle.is_cancel_requested:
                    with self._lock:
                        self.hand.stop()
                    result.success, result.error = False, "canceled"
                    goal_handle.canceled()
                    return result
                goal_handle.publish_feedback(feedback_type(current_width=width))
            result.success, result.error = task.success, task.error
            (goal_handle.succeed if task.success else goal_handle.abort)()
            return result

        return execute

    async def _run_gripper_command(self, goal_handle):
        width = 2 * goal_handle.request.command.position
        result = GripperCommand.Result()
        try:
            with self._lock:
                if width >= self.hand.width_m:
                    task = self.hand.move(width, DEFAULT_SPEED_MPS)
                else:
                    task = self.hand.grasp(
                        width,
                        DEFAULT_SPEED_MPS,
                        max(goal_handle.request.command.max_effort, 1e-3),
                        DEFAULT_EPSILON_M,
                        DEFAULT_EPSILON_M,
                    )
        except ValueError as err:
            self.node.get_logger().error(f"gripper_action: {err}")
            goal_handle.abort()
            return result
        while True:
            w = await self._wait(task)
            if task.done:
                break
            goal_handle.publish_feedback(GripperCommand.Feedback(position=w / 2))
        result.position, result.reached_goal = self.hand.width_m / 2, task.success
        (goal_handle.succeed if task.success else goal_handle.abort)()
        return result

    def _on_stop(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        with self._lock:
            self.hand.stop()
        response.success = True
        return response

    def destroy(self) -> None:
        for server in self.servers:
            server.destroy()
