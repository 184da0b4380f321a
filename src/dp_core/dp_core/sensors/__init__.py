"""Sensor data conversion shared by the observation node and the bag converter."""
