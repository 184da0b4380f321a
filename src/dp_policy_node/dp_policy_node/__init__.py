"""ROS 2 adapters around dp_core: observation sync, lifecycle policy node, chunk executor."""
