"""Time alignment of sensor streams into observation windows."""
