"""Datasets in the original ReplayBuffer zarr layout, sequence sampling, normalization."""
