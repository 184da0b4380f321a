"""dp_ros_common: the ROS helpers every node package uses (one way to run and configure a node).

``node_main.run_node`` (init, spin, clean stop, configuration errors), ``params`` (parameters
with descriptors), ``stamps`` (builtin_interfaces messages from dp_core's time units) and the
pytest plugin ``testing`` (per-process ROS domain, spin/service/lifecycle helpers). Depends on
rclpy and dp_core only, so dp_sim (the robot's stand-in) can use it without importing our nodes.
"""
