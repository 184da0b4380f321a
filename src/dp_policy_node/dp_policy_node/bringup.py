"""dp_bringup: observation, policy and chunk executor in one process (one executor).

Same YAML as the separate processes (``--ros-args --params-file dp_policy.yaml``); the nodes
come from ``graph.GRAPH``. ``--autostart`` configures and activates the policy node once
(otherwise an operator drives its lifecycle services, as with the separate processes).
"""

from __future__ import annotations

import argparse
import sys

from rclpy.context import Context
from rclpy.lifecycle import LifecycleNode, TransitionCallbackReturn
from rclpy.node import Node
from rclpy.utilities import remove_ros_args

from dp_policy_node.graph import GRAPH
from dp_ros_common.node_main import run_nodes

# single: the chunk executor (the safety node) runs here too, and rclpy's EventsExecutor is still
# experimental (dp_ros_common.node_main says what it lacks); --executor events to try it
DEFAULT_EXECUTOR = "single"


def create_nodes(context: Context | None = None) -> list[Node]:
    """One instance of every node in the graph, named as in the graph (parameters from the context's args)."""
    nodes: list[Node] = []
    try:
        for e in GRAPH:
            nodes.append(e.node_class()(e.name, context=context))
    except Exception:
        for node in nodes:
            node.destroy_node()
        raise
    return nodes


def autostart(nodes: list[Node]) -> bool:
    """Configure and activate every lifecycle node; False (logged) when a transition fails."""
    for node in nodes:
        if not isinstance(node, LifecycleNode):
            continue
        if node.trigger_configure() != TransitionCallbackReturn.SUCCESS:
            node.get_logger().error("autostart: configure failed; the node stays unconfigured")
            return False
        if node.trigger_activate() != TransitionCallbackReturn.SUCCESS:
            node.get_logger().error("autostart: activate failed")
            return False
    return True


def main(args: list[str] | None = None) -> None:
    argv = sys.argv if args is None else args
    parser = argparse.ArgumentParser(prog="dp_bringup", description=__doc__)
    parser.add_argument("--autostart", action="store_true", help="configure and activate the policy node")
    # Default 1: rclpy's MultiThreadedExecutor polls its futures in Python while callbacks run,
    # holding the GIL; with 200-500 Hz sensor callbacks that starved the inference thread
    # (seconds per chunk). Inference already has its own worker thread.
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="executor threads (default 1 = one executor thread; inference has its own thread)",
    )
    parser.add_argument(
        "--executor", choices=("single", "events"), default=DEFAULT_EXECUTOR, help=f"default {DEFAULT_EXECUTOR}"
    )
    options = parser.parse_args(remove_ros_args(argv)[1:])
    run_nodes(
        create_nodes,
        "dp_bringup",
        argv,
        threads=options.threads,
        on_start=autostart if options.autostart else None,
        release=_stop_worker,
        executor=options.executor,
    )


def _stop_worker(node: Node) -> None:
    """The policy node's inference thread ends before its node is destroyed."""
    worker = getattr(node, "worker", None)
    if isinstance(node, LifecycleNode) and worker is not None:
        worker.stop(timeout_s=5.0)


if __name__ == "__main__":
    main()
