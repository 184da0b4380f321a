"""The diffusion policy module and the inference API used by the nodes."""
