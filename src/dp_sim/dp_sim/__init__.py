"""MuJoCo simulation of a Franka FR3 Push-T table that behaves like the real robot's ROS interface."""
