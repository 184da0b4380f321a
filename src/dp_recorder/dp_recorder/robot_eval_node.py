"""ROS adapter of a robot evaluation session: operator input → RobotSession → recorder and policy calls.

Per episode: prompt for the reset, open a bag (the recorder's StartEpisode), activate the policy;
on the verdict or the time limit deactivate it (the executor stops the arm), close the bag
(StopEpisode, outcome in its note) and write the outcome into its ``episode.yaml`` (when the
recorder's disk is this machine's). At the end ``results.json`` + ``results.png`` in ``output_dir``.
The logic is ``dp_core.evaluation.robot_session``; the CLI (stdin, Ctrl-C) is ``robot_eval_cli``.
Input: terminal lines on ``~/command`` or stdin, sensor_msgs/Joy button presses on ``joy_topic``.
"""

from __future__ import annotations

import queue
from pathlib import Path
from typing import Any

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile
from sensor_msgs.msg import Joy
from std_msgs.msg import String

from dp_core.evaluation.operator_input import ButtonEdges, OperatorButtons, parse_line
from dp_core.evaluation.robot_results import write_results
from dp_core.evaluation.robot_session import (
    RETRY_NS,
    Begin,
    Command,
    Event,
    Finish,
    Halt,
    Outcome,
    Phase,
    RobotSession,
    SessionConfig,
)
from dp_msgs.srv import StartEpisode, StopEpisode
from dp_recorder.episode_metadata import read_metadata, write_metadata
from dp_recorder.lifecycle_remote import LifecycleRemote, call

CONNECT_RETRY_NS = 5_000_000_000  # between attempts to bring the policy node to inactive (a failed configure)
BUTTONS = ("reset", "start", "stop", "success", "failure", "quit")
# fmt: off
PARAMS: dict[str, Any] = {
    "episodes": 10, "time_limit_s": 60.0, "task": "", "label": "", "output_dir": "eval_robot",
    "recorder": "/recorder", "policy_node": "/policy_node", "joy_topic": "/joy", "use_stdin": True,
    "tick_period_s": 0.05, **{f"{b}_button": i for b, i in zip(BUTTONS, (0, 0, 2, 1, 3, -1), strict=True)},
}  # buttons: A resets and starts, X stops, B success, Y failure (OperatorButtons)
# fmt: on


class RobotEvalNode(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("robot_eval", **kwargs)
        self.p = p = {name: self.declare_parameter(name, value).value for name, value in PARAMS.items()}
        self.session = RobotSession(SessionConfig(episodes=p["episodes"], time_limit_s=p["time_limit_s"]))
        self.edges = ButtonEdges(OperatorButtons(**{b: p[f"{b}_button"] for b in BUTTONS}))
        self.policy = LifecycleRemote(self, p["policy_node"])
        self.start_client = self.create_client(StartEpisode, f"{p['recorder']}/start_episode")
        self.stop_client = self.create_client(StopEpisode, f"{p['recorder']}/stop_episode")
        latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.prompt_pub = self.create_publisher(String, "~/prompt", latched)
        self.create_subscription(Joy, p["joy_topic"], self._on_joy, 10)
        self.create_subscription(String, "~/command", self._on_command, 10)
        self.lines: queue.SimpleQueue[str] = queue.SimpleQueue()  # stdin, filled by the CLI's reader thread
        self.connected = self.connecting = self.done = False
        self.summary: dict[str, Any] = {}
        self._shown, self._retry_ns = "", 0
        self.create_timer(p["tick_period_s"], self._tick)

    # ---- input and clock -----------------------------------------------------------------
    def _now(self) -> int:
        return self.get_clock().now().nanoseconds

    def _tick(self) -> None:
        while not self.lines.empty():
            self._line(self.lines.get())
        if self.connected:
            self._execute(self.session.tick(self._now()))
        elif self._now() >= self._retry_ns and not self.connecting and self.policy.ready() and self._recorder_ready():
            self.connecting = True
            self._show(f"preparing {self.policy.target} (configure loads the checkpoint)")
            self.policy.make_inactive(self._prepared)

    def _recorder_ready(self) -> bool:
        return self.start_client.service_is_ready() and self.stop_client.service_is_ready()

    def _prepared(self, ok: bool, err: str) -> None:
        self.connecting, self.connected = False, ok
        self._retry_ns = self._now() + CONNECT_RETRY_NS
        retry = f"retrying in {CONNECT_RETRY_NS / 1e9:g} s"
        self._show("" if ok else f"cannot make {self.policy.target} inactive: {err}; {retry}")

    def _on_joy(self, msg: Joy) -> None:
        self._events(self.edges.update(msg.buttons))

    def _on_command(self, msg: String) -> None:
        self._line(msg.data)

    def _line(self, line: str) -> None:
        event = parse_line(line)
        if event is Event.QUIT and not self.connected:
            return self.quit()
        if event is not None:
            return self._events([event])
        self._shown = ""  # an empty or unknown line shows the prompt again
        return self._show(f"unknown input {line.strip()!r}: r s x y n q" if line.strip() else "")

    def _events(self, events: list[Event]) -> None:
        if events and self.connected:
            commands = self.session.handle(events, self._now())
            self._show(self.session.refused)
            self._execute(commands)

    def quit(self) -> None:
        """Ctrl-C or 'q': a running episode ends as aborted (policy off, bag closed), then the results."""
        if self.connected:
            return self._events([Event.QUIT])
        self.done = True  # nothing started: no results
        return None

    # ---- commands ------------------------------------------------------------------------
    def _execute(self, commands: list[Command]) -> None:
        for command in commands:
            if isinstance(command, Begin):
                self._begin(command)
            elif isinstance(command, Halt):
                self.policy.ensure_inactive(self._deactivated)
            elif isinstance(command, Finish):
                self._finish(command)
        self._show()
        if self.session.phase is Phase.DONE and not self.done:
            self._results()

    def _begin(self, begin: Begin) -> None:
        note = f"evaluation episode {begin.episode}/{self.session.config.episodes} {self.p['label']}".strip()

        def failed(reason: str, bag_open: bool) -> None:
            self._show(f"start failed: {reason}")
            self._execute(self.session.start_failed(reason, bag_open, self._now()))

        def activated(ok: bool, err: str) -> None:
            return self._execute(self.session.started(self._now())) if ok else failed(err, True)

        def opened(r: Any, err: str) -> None:
            if r is None or not r.success:
                return failed(err or r.message, False)
            return self.policy.activate(activated)

        call(self.start_client, StartEpisode.Request(task=self.p["task"], note=note), opened)

    def _deactivated(self, ok: bool, err: str) -> None:
        if not ok:  # the executor keeps executing: say so loudly; the session retries and waits
            t = self.policy.target
            self.get_logger().error(f"deactivating {t} failed ({err}): STOP THE ARM BY HAND or run")
            self.get_logger().error(f"  ros2 lifecycle set {t} deactivate   (retrying every {RETRY_NS / 1e9:g} s)")
        self._execute(self.session.deactivated(ok, err, self._now()))

    def _finish(self, finish: Finish) -> None:
        outcome = finish.outcome

        def closed(r: Any, err: str) -> None:
            path = r.bag_path if r is not None and r.success else ""
            if path:
                self._write_outcome(Path(path), outcome)
            record = self.session.finished(path, "" if path else f"closing the bag failed: {err or r.message}")
            self._show(f"episode {record.index}: {outcome.value} after {record.duration_s:.1f} s -> {path}")
            self._execute([])

        note = f"[evaluation] outcome: {outcome.value}"  # the session sends Finish once the policy is off
        call(self.stop_client, StopEpisode.Request(task_success=outcome is Outcome.SUCCESS, note=note), closed)

    def _write_outcome(self, bag: Path, outcome: Outcome) -> None:
        meta = read_metadata(bag)
        if meta is None:  # the recorder runs on another machine: its note carries the outcome
            return self.get_logger().warning(f"no {bag}/episode.yaml on this machine: the outcome is in its note")
        meta.outcome = outcome.value
        write_metadata(bag, meta)
        return None

    def _results(self) -> None:
        out = Path(self.p["output_dir"])
        self.summary = write_results(self.session.records, self.session.config, out, self.p["label"])
        self._show(f"{self.summary['counts']}, success rate {self.summary['success_rate']} -> {out / 'results.json'}")
        self.done = True

    def _show(self, message: str = "") -> None:
        """A message, then the prompt when it changed (stdout and the latched ``~/prompt``)."""
        prompt = self.session.prompt() if self.connected else "waiting for the recorder and the policy node"
        if message:
            print(message, flush=True)
        if prompt != self._shown:
            self._shown = prompt
            print(f"> {prompt}", flush=True)
            self.prompt_pub.publish(String(data=prompt))
