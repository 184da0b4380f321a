"""Training: configs, EMA, checkpoints, the loop and the dp-train CLI."""
