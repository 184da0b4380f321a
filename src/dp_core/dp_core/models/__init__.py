"""Denoisers (1D conditional U-Net, causal transformer) and observation encoders."""
