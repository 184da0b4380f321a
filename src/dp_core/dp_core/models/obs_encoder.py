"""Observation encoder: per-camera ResNet-18 → spatial softmax → linear, low-dim keys appended.

Shape letters: B batch, T frames (n_obs_steps), N = B*T images, H, W image size, D low-dim size.

As in the paper's image policies: GroupNorm instead of BatchNorm, spatial-softmax keypoints
instead of global pooling, an independent random crop per image in training and a center crop
of the same size in evaluation (so train and eval see the same field of view scale).

Options that reproduce the original code's two image encoders exactly (``dp-import-original``):
- ``pooling: avg`` + ``imagenet_norm`` + ``random_crop``: the original's ``MultiImageObsEncoder``
  (torchvision resnet18 with ``fc`` removed: global average pool, 512 features per camera;
  ``torchvision.transforms.Normalize`` with the ImageNet statistics after the crop; with
  ``random_crop: false`` a center crop in training too);
- ``pooling: spatial_softmax`` + ``feature_activation: relu``: robomimic's ``ObservationEncoder``
  (``VisualCore``: ResNet18Conv → SpatialSoftmax → flatten → Linear, then the encoder's ReLU).
The random crop's top-left corner is drawn from [0, H - h) x [0, W - w) as the original's and
robomimic's ``CropRandomizer`` draw it (``int(rand * (H - h))``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from dp_core.models.resnet import NormKind, ResNet18, feature_map_size, load_torchvision_state_dict
from dp_core.models.spatial_softmax import SpatialSoftmax
from dp_core.spec import PolicySpec


@dataclass(frozen=True)
class EncoderConfig:
    """Image encoder settings (ignored for a low-dim-only spec)."""

    crop_shape: tuple[int, int] | None = (84, 84)
    num_keypoints: int = 32
    feature_dim_per_camera: int = 64
    norm: NormKind = "group"
    share_trunk: bool = False
    pretrained_path: str | None = None
    pooling: Literal["spatial_softmax", "avg"] = "spatial_softmax"
    feature_activation: Literal["none", "relu"] = "none"
    imagenet_norm: bool = False
    random_crop: bool = True

    def __post_init__(self) -> None:
        if self.crop_shape is not None:
            crop = tuple(int(c) for c in self.crop_shape)
            if len(crop) != 2 or min(crop) < 1:
                raise ValueError(
                    f"crop_shape must be (height, width) with positive sizes or None, got {self.crop_shape}"
                )
            object.__setattr__(self, "crop_shape", crop)
        if self.num_keypoints < 1:
            raise ValueError(f"num_keypoints must be >= 1, got {self.num_keypoints}")
        if self.feature_dim_per_camera < 1:
            raise ValueError(f"feature_dim_per_camera must be >= 1, got {self.feature_dim_per_camera}")
        if self.norm not in ("batch", "group"):
            raise ValueError(f"norm must be 'group' or 'batch', got {self.norm!r}")
        if self.pooling not in ("spatial_softmax", "avg"):
            raise ValueError(f"pooling must be 'spatial_softmax' or 'avg', got {self.pooling!r}")
        if self.pooling == "avg" and self.feature_dim_per_camera != ResNet18.out_channels:
            raise ValueError(
                f"pooling 'avg' gives the trunk's {ResNet18.out_channels} channels per camera (no projection); "
                f"set feature_dim_per_camera: {ResNet18.out_channels}, got {self.feature_dim_per_camera}"
            )
        if self.feature_activation not in ("none", "relu"):
            raise ValueError(f"feature_activation must be 'none' or 'relu', got {self.feature_activation!r}")


#: torchvision.transforms.Normalize statistics of the original's ``imagenet_norm``.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def random_crop(images: Tensor, height: int, width: int) -> Tensor:
    """images: (N, C, H, W) -> (N, C, height, width), an independent random window per image.

    Top-left corners in [0, H - height) x [0, W - width) as the original's CropRandomizer
    (``int(rand * (H - height))``); the whole image when it has the crop's size.
    """
    n, _, full_h, full_w = images.shape
    device = images.device
    top = torch.randint(0, max(full_h - height, 1), (n, 1, 1), device=device)
    left = torch.randint(0, max(full_w - width, 1), (n, 1, 1), device=device)
    rows = top + torch.arange(height, device=device)[None, :, None]  # (N, height, 1)
    cols = left + torch.arange(width, device=device)[None, None, :]  # (N, 1, width)
    batch = torch.arange(n, device=device)[:, None, None]
    return images.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)  # gather as (N, h, w, C)


def center_crop(images: Tensor, height: int, width: int) -> Tensor:
    """images: (N, C, H, W) -> (N, C, height, width), the centred window (a view)."""
    top = (images.shape[-2] - height) // 2
    left = (images.shape[-1] - width) // 2
    return images[..., top : top + height, left : left + width]


class _CameraHead(nn.Module):
    """Spatial softmax + linear for one camera (the trunk may be shared), then the activation."""

    def __init__(self, crop: tuple[int, int], config: EncoderConfig) -> None:
        super().__init__()
        self.keypoints = SpatialSoftmax(ResNet18.out_channels, *feature_map_size(*crop), config.num_keypoints)
        self.projection = nn.Linear(2 * config.num_keypoints, config.feature_dim_per_camera)
        self.relu = config.feature_activation == "relu"

    def forward(self, feature_map: Tensor) -> Tensor:
        """feature_map: (N, 512, h, w) -> (N, feature_dim_per_camera)."""
        features = self.projection(self.keypoints(feature_map).flatten(1))
        return torch.relu(features) if self.relu else features


class _AveragePoolHead(nn.Module):
    """Global average pool (torchvision's resnet18 with ``fc`` removed), then the activation."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.relu = config.feature_activation == "relu"

    def forward(self, feature_map: Tensor) -> Tensor:
        """feature_map: (N, 512, h, w) -> (N, 512)."""
        features = torch.flatten(self.pool(feature_map), 1)
        return torch.relu(features) if self.relu else features


class ObservationEncoder(nn.Module):
    """Encodes an observation window into per-frame features (B, T, feature_dim).

    Image features come first (rgb keys in spec order), then the low-dim keys in spec order.
    """

    def __init__(self, spec: PolicySpec, config: EncoderConfig | None = None) -> None:
        super().__init__()
        self.spec = spec
        self.config = config = config or EncoderConfig()
        self.rgb_keys = tuple(k.name for k in spec.rgb_keys)
        self.low_dim_keys = tuple(k.name for k in spec.low_dim_keys)
        self.crops: dict[str, tuple[int, int]] = {}
        for key in spec.rgb_keys:
            full = key.shape[1:]
            crop = config.crop_shape or full
            if crop[0] > full[0] or crop[1] > full[1]:
                raise ValueError(
                    f"crop_shape {crop} is larger than image '{key.name}' of size {full}; "
                    f"set encoder crop_shape <= the image size or null"
                )
            if min(feature_map_size(*crop)) < 2:
                raise ValueError(
                    f"image '{key.name}' cropped to {crop} gives a {feature_map_size(*crop)} ResNet "
                    f"feature map; spatial softmax needs at least 2x2, use images/crops >= 33x33 pixels"
                )
            self.crops[key.name] = (int(crop[0]), int(crop[1]))
        n_trunks = min(len(self.rgb_keys), 1 if config.share_trunk else len(self.rgb_keys))
        self.trunks = nn.ModuleList(ResNet18(config.norm) for _ in range(n_trunks))
        self.heads = nn.ModuleList(
            _AveragePoolHead(config) if config.pooling == "avg" else _CameraHead(self.crops[k], config)
            for k in self.rgb_keys
        )
        mean, std = torch.tensor(IMAGENET_MEAN)[:, None, None], torch.tensor(IMAGENET_STD)[:, None, None]
        self.register_buffer("imagenet_mean", mean, persistent=False)
        self.register_buffer("imagenet_std", std, persistent=False)
        if config.pretrained_path is not None:
            for trunk in self.trunks:
                load_torchvision_state_dict(trunk, config.pretrained_path)  # type: ignore[arg-type]  # ResNet18s

    @property
    def feature_dim(self) -> int:
        """Features per frame: feature_dim_per_camera per camera + the low-dim sizes."""
        return len(self.rgb_keys) * self.config.feature_dim_per_camera + sum(k.shape[0] for k in self.spec.low_dim_keys)

    def _check(self, obs: dict[str, Tensor]) -> tuple[int, int]:
        """Validates keys and shapes; returns (B, T)."""
        missing = [k for k in (*self.rgb_keys, *self.low_dim_keys) if k not in obs]
        if missing:
            raise ValueError(f"observation is missing keys {missing} (got {sorted(obs)})")
        first = obs[(self.rgb_keys + self.low_dim_keys)[0]]
        batch_time = (int(first.shape[0]), int(first.shape[1]))
        for key in self.spec.obs:
            value = obs[key.name]
            if (
                value.ndim != 2 + len(key.shape)
                or tuple(value.shape[:2]) != batch_time
                or tuple(value.shape[2:]) != key.shape
            ):
                raise ValueError(
                    f"observation '{key.name}' must have shape (B, T, {', '.join(map(str, key.shape))}) "
                    f"with the same B, T as the other keys {batch_time}, got {tuple(value.shape)}"
                )
        return batch_time

    def _crop(self, images: Tensor, key: str) -> Tensor:
        """Crop (random in training unless ``random_crop`` is off), then the optional ImageNet normalization."""
        crop = self.crops[key]
        if tuple(images.shape[-2:]) != crop:
            use_random = self.training and self.config.random_crop
            images = random_crop(images, *crop) if use_random else center_crop(images, *crop)
        if self.config.imagenet_norm:
            mean, std = torch.as_tensor(self.imagenet_mean), torch.as_tensor(self.imagenet_std)
            images = (images - mean.to(images.dtype)) / std.to(images.dtype)
        return images

    def forward(self, obs: dict[str, Tensor]) -> Tensor:
        """obs: {rgb key: (B, T, 3, H, W) in [-1, 1], low-dim key: (B, T, D) normalized} -> (B, T, feature_dim)."""
        batch, steps = self._check(obs)
        features: list[Tensor] = []
        if self.rgb_keys:
            dtype = next(self.trunks[0].parameters()).dtype
            crops = [self._crop(obs[k].flatten(0, 1).to(dtype), k) for k in self.rgb_keys]  # each (N, 3, h, w)
            if len(self.trunks) == 1 and len({c.shape for c in crops}) == 1:
                maps = self.trunks[0](torch.cat(crops)).chunk(len(crops))  # one batch for all cameras
            else:
                maps = [self.trunks[min(i, len(self.trunks) - 1)](c) for i, c in enumerate(crops)]
            features = [head(m).unflatten(0, (batch, steps)) for head, m in zip(self.heads, maps, strict=True)]
        dtype = features[0].dtype if features else obs[self.low_dim_keys[0]].dtype
        features += [obs[k].to(dtype) for k in self.low_dim_keys]
        return features[0] if len(features) == 1 else torch.cat(features, dim=-1)
