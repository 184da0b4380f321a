"""``python -m dp_sim.demo``: the whole pipeline in simulation (``make demo``).

Record expert demonstrations over ROS (sim_node + expert_node + recorder), convert the bags
with ``dp-convert``, train with ``dp-train``, deploy through observation → policy → executor
nodes against the sim, evaluate on held-out seeds, and write an animation and a plot.
Steps live in :mod:`dp_sim.demo.pipeline`; each file here is one concept.
"""
