"""``python -m dp_demo``: the whole pipeline in simulation (``make demo``).

Record expert demonstrations over ROS (sim_node + expert_node + recorder), convert the bags
with ``dp-convert``, train with ``dp-train``, deploy through observation → policy → executor
nodes against the sim, evaluate on held-out seeds, and write an animation and a plot.
Steps live in :mod:`dp_demo.pipeline`; each file here is one concept. This package sits at the top of
the graph: it composes dp_sim (the robot stand-in), dp_recorder and dp_policy_node, which never import it.
"""
