"""Episode recording to rosbag2 (MCAP) and conversion of bags to zarr training sets."""
