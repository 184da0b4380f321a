"""ResNet-18 with torchvision's parameter names, written here (torchvision is not available).

Parameter names match ``torchvision.models.resnet18`` (conv1, bn1, layer1.0.conv1, ...,
layer2.0.downsample.0/1, fc) so a torchvision state dict file loads with
``load_torchvision_state_dict``. With ``norm="group"`` every BatchNorm becomes
GroupNorm(channels // 16, channels) under the same name, as in the paper's image policies
(BatchNorm statistics interact badly with the EMA weights and small batches). Loading a
torchvision file into the GroupNorm variant keeps the affine weights and skips the running
statistics.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor, nn

logger = logging.getLogger(__name__)

NormKind = Literal["batch", "group"]
_BN_STATS = ("running_mean", "running_var", "num_batches_tracked")


def make_norm(norm: NormKind, channels: int) -> nn.Module:
    """BatchNorm2d, or GroupNorm with 16 channels per group."""
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "group":
        return nn.GroupNorm(num_groups=channels // 16, num_channels=channels)
    raise ValueError(f"norm must be 'batch' or 'group', got {norm!r}")


class BasicBlock(nn.Module):
    """Two 3x3 convs with a residual (1x1 strided conv + norm when the shape changes)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, norm: NormKind) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = make_norm(norm, out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = make_norm(norm, out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), make_norm(norm, out_channels)
            )

    def forward(self, x: Tensor) -> Tensor:
        """x: (N, C_in, H, W) -> (N, C_out, H/stride, W/stride)."""
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet18(nn.Module):
    """ResNet-18; without ``num_classes`` it is a trunk returning the last feature map."""

    out_channels = 512

    def __init__(self, norm: NormKind = "batch", num_classes: int | None = None) -> None:
        super().__init__()
        self.norm = norm
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = make_norm(norm, 64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        widths = (64, 128, 256, 512)
        in_channels = 64
        for i, width in enumerate(widths):
            stride = 1 if i == 0 else 2
            layer = nn.Sequential(BasicBlock(in_channels, width, stride, norm), BasicBlock(width, width, 1, norm))
            self.add_module(f"layer{i + 1}", layer)
            in_channels = width
        self.avgpool: nn.Module | None = None
        self.fc: nn.Linear | None = None
        if num_classes is not None:
            if num_classes < 1:
                raise ValueError(f"num_classes must be >= 1 or None, got {num_classes}")
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(512, num_classes)
        for module in self.modules():  # torchvision's initialisation
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:
        """x: (N, 3, H, W) -> (N, 512, ceil(H/32), ceil(W/32)), or (N, num_classes) with a head."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        if self.fc is None or self.avgpool is None:
            return x
        return self.fc(torch.flatten(self.avgpool(x), 1))

    # the stages, added by name (torchvision's state-dict keys), typed for readers
    layer1: nn.Sequential
    layer2: nn.Sequential
    layer3: nn.Sequential
    layer4: nn.Sequential


def feature_map_size(height: int, width: int) -> tuple[int, int]:
    """Spatial size of the trunk output: five stride-2 stages, each ceil(x / 2)."""
    for _ in range(5):
        height, width = (height - 1) // 2 + 1, (width - 1) // 2 + 1
    return height, width


def load_torchvision_state_dict(model: ResNet18, source: str | Path | Mapping[str, Tensor]) -> None:
    """Loads a torchvision resnet18 state dict (a ``.pth`` path or a mapping) into ``model``.

    Keys the model cannot use are skipped with one log line: BatchNorm running statistics for a
    GroupNorm model, and ``fc.*`` for a trunk without a head. Any other mismatch raises ValueError
    naming the key, so a wrong file never loads silently.
    """
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise ValueError(f"pretrained ResNet-18 weights not found: '{path}'")
        state = torch.load(path, map_location="cpu", weights_only=True)
    else:
        state = source
    if not isinstance(state, Mapping):
        raise ValueError(f"expected a state dict (mapping of name -> tensor), got {type(state).__name__}")
    expected = model.state_dict()
    usable: dict[str, Tensor] = {}
    skipped: list[str] = []
    for key, value in state.items():
        if key in expected:
            if tuple(value.shape) != tuple(expected[key].shape):
                raise ValueError(
                    f"ResNet-18 weights: '{key}' has shape {tuple(value.shape)}, the model needs "
                    f"{tuple(expected[key].shape)}; is this a torchvision resnet18 state dict?"
                )
            usable[key] = value
        elif (model.norm == "group" and key.endswith(_BN_STATS)) or (model.fc is None and key.startswith("fc.")):
            skipped.append(key)
        else:
            raise ValueError(f"ResNet-18 weights: unexpected key '{key}'; is this a torchvision resnet18 state dict?")
    missing = sorted(set(expected) - set(usable))
    if missing:
        raise ValueError(f"ResNet-18 weights: missing {len(missing)} keys, e.g. {missing[:5]}")
    model.load_state_dict(usable, strict=True)
    if skipped:
        logger.info(
            "ResNet-18 weights: loaded %d tensors, skipped %d unused (BatchNorm statistics / fc)",
            len(usable),
            len(skipped),
        )
