"""Noise schedules (DDPM/DDIM) and the reverse-diffusion sampling loop."""
