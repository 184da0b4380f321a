"""Teleoperation devices (keyboard, gamepad, SpaceMouse) for recording demonstrations."""
