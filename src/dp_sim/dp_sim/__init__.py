"""MuJoCo simulation of a Franka FR3 Push-T table that behaves like the real robot's ROS interface."""

from dp_sim.rendering import select_gl_backend

# Must run before the first `import mujoco` anywhere in the process (MuJoCo reads MUJOCO_GL then).
select_gl_backend()
