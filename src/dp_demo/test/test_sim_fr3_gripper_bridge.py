"""gripper_bridge_node drives the twin's franka_gripper: a width stream → grasp / move goals,
with hysteresis (no goal while the command wanders inside the band), measured width out."""

from __future__ import annotations

import pytest
from rclpy.node import Node
from std_msgs.msg import Float64, Float64MultiArray

from dp_sim.lockstep import Lockstep

pytestmark = pytest.mark.ros


def test_bridge_grasps_and_opens_the_twins_hand_without_chatter():
    from dp_policy_node.gripper_bridge_node import GripperBridgeNode

    with Lockstep() as ls:
        sim = ls.add_sim(interface="franka", physics_timestep_s=0.001, control_period_s=0.001)
        bridge = ls.add(GripperBridgeNode, close_below_m=0.03, open_above_m=0.05)
        probe = ls.add(Node, "bridge_probe")
        pub = probe.create_publisher(Float64MultiArray, "/dp/gripper_command", 10)
        widths: list[float] = []
        probe.create_subscription(Float64, "/gripper_bridge_node/width", lambda m: widths.append(m.data), 10)
        ls.run_until(lambda: bridge.gripper_clients["grasp"].server_is_ready() and bool(widths), 0.5, "gripper server")
        hand = sim.hand

        def stream(width: float, seconds: float) -> None:
            for _ in range(int(seconds / 0.004)):  # the executor's 250 Hz
                pub.publish(Float64MultiArray(data=[width]))
                for _ in range(4):
                    ls.tick()

        stream(0.08, 0.1)
        assert bridge.goals_sent == 1 and hand.task.kind == "move"  # the first command: open
        stream(0.01, 1.5)  # below close_below_m: one grasp, the Hand closes on nothing (width 0)
        assert bridge.goals_sent == 2 and hand.task.kind == "grasp" and hand.task.done and hand.task.success
        assert hand.width_m == pytest.approx(0.0) and widths[-1] == pytest.approx(0.0)
        for w in (0.035, 0.045, 0.031, 0.049, 0.04):  # inside the band: nothing is sent
            stream(w, 0.05)
        assert bridge.goals_sent == 2
        stream(0.07, 1.5)  # above open_above_m: open fully
        assert bridge.goals_sent == 3 and hand.task.kind == "move" and hand.width_m == pytest.approx(0.08)
        assert widths[-1] == pytest.approx(0.08)
        pub.publish(Float64MultiArray(data=[]))  # bad data: rejected, nothing sent
        ls.tick()
        assert bridge.rejected == 1 and bridge.goals_sent == 3
