"""The node graph of a policy rollout, as data.

One description, read by the composed entry point (``dp_bringup``) and by launch files, so the
separate-process and the one-process bring-ups cannot drift: same node names (the YAML block
keys), same executables, same parameter file.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

PACKAGE = "dp_policy_node"
PARAMS_FILE = "config/dp_policy.yaml"  # relative to the package share directory (and to the source package)


@dataclass(frozen=True)
class NodeEntry:
    """One node: its name (and YAML block), console script, Python class, whether it is lifecycle-managed,
    and the package of the console script (launch_graph describes other packages' nodes too)."""

    name: str
    executable: str
    module: str
    class_name: str
    lifecycle: bool = False
    package: str = PACKAGE

    def node_class(self) -> type:
        return getattr(importlib.import_module(self.module), self.class_name)


GRAPH: tuple[NodeEntry, ...] = (
    NodeEntry("observation_node", "observation_node", f"{PACKAGE}.observation_node", "ObservationNode"),
    NodeEntry("policy_node", "policy_node", f"{PACKAGE}.policy_node", "PolicyNode", lifecycle=True),
    NodeEntry("chunk_executor_node", "chunk_executor_node", f"{PACKAGE}.chunk_executor_node", "ChunkExecutorNode"),
)


def entry(name: str) -> NodeEntry:
    for e in GRAPH:
        if e.name == name:
            return e
    raise KeyError(f"no node '{name}' in the graph (have {[e.name for e in GRAPH]})")
