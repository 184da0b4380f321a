"""Spatial-softmax keypoints (Levine et al. 2016; robomimic's image encoder, used by the paper).

Instead of global average pooling, each of ``num_keypoints`` learned channels becomes a
probability map over the feature map, and its expected (x, y) position is the feature. This keeps
*where* things are, which pooling throws away and which a manipulation policy needs.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class SpatialSoftmax(nn.Module):
    """(N, C, H, W) feature map -> (N, num_keypoints, 2) expected x, y in [-1, 1]."""

    grid: Tensor

    def __init__(
        self, in_channels: int, height: int, width: int, num_keypoints: int = 32, temperature: float = 1.0
    ) -> None:
        super().__init__()
        for name, value in (
            ("in_channels", in_channels),
            ("height", height),
            ("width", width),
            ("num_keypoints", num_keypoints),
        ):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.height, self.width, self.num_keypoints = height, width, num_keypoints
        self.temperature = temperature
        self.keypoint_conv = nn.Conv2d(in_channels, num_keypoints, kernel_size=1)
        ys, xs = torch.meshgrid(torch.linspace(-1.0, 1.0, height), torch.linspace(-1.0, 1.0, width), indexing="ij")
        self.register_buffer("grid", torch.stack((xs.reshape(-1), ys.reshape(-1)), dim=1), persistent=False)

    def forward(self, features: Tensor) -> Tensor:
        """features: (N, C, H, W) -> keypoints (N, K, 2) as (x, y), x along W, y along H."""
        if features.shape[-2:] != (self.height, self.width):
            raise ValueError(
                f"spatial softmax built for {self.height}x{self.width} feature maps, got "
                f"{tuple(features.shape[-2:])}; the image or crop size differs from the encoder's"
            )
        logits = self.keypoint_conv(features).flatten(2)  # (N, K, H*W)
        # Softmax in float32: bf16 rounding of the normaliser biases the expectations.
        attention = torch.softmax(logits.float() / self.temperature, dim=-1)
        return (attention @ self.grid.float()).to(features.dtype)  # (N, K, 2)
