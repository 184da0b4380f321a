"""Pure math the ROS nodes use: action chunks, plans, interpolation, limits."""
