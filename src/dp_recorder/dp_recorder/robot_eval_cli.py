"""``dp-eval-robot [--episodes N] [--time-limit S] [--out DIR] [--task T] [--label L] [--ros-args ...]``.

Evaluates the deployed policy on the robot: N judged episodes, each recorded as a bag with its
outcome (success / failure / timeout), then ``DIR/results.json`` and ``DIR/results.png``. Start it
next to the deployment (``franka.launch.py ... autostart:=false``) and the recorder, in a terminal
(ssh is fine): type a letter and Enter, or press the gamepad buttons (``joy_node`` on ``/joy``):

    r / A  the scene is reset        s / A  start the policy        x / X  stop (judge after)
    y / B  success                   n / Y  failure                 q      quit

Ctrl-C ends a running episode as aborted (policy deactivated, bag kept) and writes the results;
so do SIGTERM and SIGHUP (the ssh connection dropped), which would otherwise leave the policy active.
Further signals are ignored while it ends; before exiting it reads the policy node's state back and
deactivates it when active. Exit status 1 when the policy could not be confirmed inactive (a loud
message names the command to run) or the session never began.
The options set the node's parameters (``--ros-args -p name:=value`` sets the others).
"""

from __future__ import annotations

import argparse
import os
import queue
import signal
import sys
import threading

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.signals import SignalHandlerOptions

from dp_recorder.robot_eval_node import PARAMS, RobotEvalNode

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


INTERRUPTED = threading.Event()


def _interrupt(signum: int, frame: object) -> None:
    """SIGINT / SIGTERM / SIGHUP → one clean end; later ones are ignored.

    A flag, not KeyboardInterrupt: an exception raised inside a callback (a service reply being handled)
    could lose the very reply that confirms the policy off."""
    for sig in SIGNALS:  # a second Ctrl-C during the end must not cut it short
        signal.signal(sig, signal.SIG_IGN)
    if signum == signal.SIGHUP:  # the terminal is gone: printing to it would fail the clean end
        sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - for the rest of the process
    INTERRUPTED.set()


def _confirm_inactive(node: RobotEvalNode, executor: SingleThreadedExecutor, timeout_s: float = 5.0) -> bool:
    """The policy's lifecycle state read back (deactivated first when active); a loud error when not off."""
    answer: list[tuple[bool, str]] = []
    node.policy.ensure_inactive(lambda ok, err: answer.append((ok, err)))
    for _ in range(round(timeout_s / 0.1)):
        if answer:
            break
        executor.spin_once(timeout_sec=0.1)
    ok, err = answer[0] if answer else (False, "no answer from its get_state / change_state")
    if not ok:
        t = node.policy.target
        print(f"dp-eval-robot: THE POLICY {t} MAY STILL BE ACTIVE ({err}): STOP THE ARM, then run", file=sys.stderr)
        print(f"    ros2 lifecycle set {t} deactivate", file=sys.stderr)
    return ok


def _read_stdin(lines: queue.SimpleQueue[str]) -> None:
    for line in sys.stdin:
        lines.put(line)


def main(args: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="dp-eval-robot", description=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--episodes", type=int, help=f"judged episodes (default {PARAMS['episodes']})")
    parser.add_argument("--time-limit", type=float, help=f"s of policy time per episode ({PARAMS['time_limit_s']})")
    parser.add_argument("--out", help=f"directory of results.json and results.png ({PARAMS['output_dir']})")
    parser.add_argument("--task", help="task label of the bags")
    parser.add_argument("--label", help="e.g. the checkpoint: in the results and the bag notes")
    known, ros_args = parser.parse_known_args(sys.argv[1:] if args is None else args)
    given = {"episodes": known.episodes, "time_limit_s": known.time_limit, "output_dir": known.out}
    given.update(task=known.task, label=known.label)
    # no rclpy signal handler: Ctrl-C must reach us with the context alive, to deactivate the policy
    rclpy.init(args=["dp-eval-robot", *ros_args], signal_handler_options=SignalHandlerOptions.NO)
    node = RobotEvalNode(parameter_overrides=[Parameter(k, value=v) for k, v in given.items() if v is not None])
    for sig in SIGNALS:
        signal.signal(sig, _interrupt)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    if node.p["use_stdin"]:
        threading.Thread(target=_read_stdin, args=(node.lines,), daemon=True).start()
    off = True
    try:
        while not node.done and not INTERRUPTED.is_set():
            executor.spin_once(timeout_sec=0.1)
        if not node.done:
            node.quit()
            for _ in range(100):  # at most ~10 s for deactivate + stop
                if node.done:
                    break
                executor.spin_once(timeout_sec=0.1)
        if node.connected or node.connecting:  # it may have activated the policy: never exit leaving it so
            off = _confirm_inactive(node, executor)
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    if not node.summary:
        print("dp-eval-robot: ended before the session began (no recorder or policy node reached)", file=sys.stderr)
    return 0 if node.summary and off else 1


if __name__ == "__main__":
    sys.exit(main())
