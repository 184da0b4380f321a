"""The original's two image U-Net policies -> dp_core spec, encoder config and encoder weights.

Facts from real-stanford/diffusion_policy (read, not copied): policy/diffusion_unet_image_policy.py,
policy/diffusion_unet_hybrid_image_policy.py, model/vision/multi_image_obs_encoder.py,
model/vision/model_getter.py (``get_resnet``: torchvision resnet18, ``fc = Identity``),
model/vision/crop_randomizer.py, common/pytorch_util.py (``replace_submodules``); and robomimic's
models/obs_nets.py (``ObservationEncoder``: per key randomizer -> net -> ReLU, keys in registration
order), models/obs_core.py and base_nets.py (``VisualCore`` = Sequential(ResNet18Conv, SpatialSoftmax,
Flatten, Linear); ``ResNet18Conv`` = torchvision resnet18's children without avgpool and fc;
``SpatialSoftmax``: 1x1 conv, softmax(logits / temperature) over H*W, expected x, y on
``np.linspace(-1, 1)`` grids; buffers ``pos_x``, ``pos_y``, ``temperature``).

``DiffusionUnetImagePolicy`` + ``MultiImageObsEncoder``: rgb keys sorted, then low-dim keys sorted
(as the original orders them); per camera a ResNet-18 trunk (BatchNorm -> GroupNorm(C // 16) with
``use_group_norm``; a shared model keeps BatchNorm, the original replaces only per-key copies),
global average pool, 512 features; crop random in training (``random_crop``) and centred at
evaluation; optional ImageNet normalization. ``DiffusionUnetHybridImagePolicy``: robomimic's
encoder, features in shape_meta order (dp_core puts cameras first: the U-Net's FiLM columns are
permuted to match, the same function).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from dp_core.models.obs_encoder import EncoderConfig
from dp_core.models.resnet import ResNet18, feature_map_size
from dp_core.policy.original_weights import UnsupportedOriginalCheckpoint
from dp_core.spec import ObsKeySpec, PolicySpec

IMAGE_POLICY = "diffusion_policy.policy.diffusion_unet_image_policy.DiffusionUnetImagePolicy"
HYBRID_POLICY = "diffusion_policy.policy.diffusion_unet_hybrid_image_policy.DiffusionUnetHybridImagePolicy"
IMAGE_POLICIES = (IMAGE_POLICY, HYBRID_POLICY)
HYBRID_DEFAULT_CROP = (76, 76)  # DiffusionUnetHybridImagePolicy.__init__'s crop_shape default
MULTI_IMAGE_ENCODER = "diffusion_policy.model.vision.multi_image_obs_encoder.MultiImageObsEncoder"
GET_RESNET = "diffusion_policy.model.vision.model_getter.get_resnet"
PUSHT_IMAGE_DATASET = "diffusion_policy.dataset.pusht_image_dataset.PushTImageDataset"
#: robomimic ResNet18Conv's Sequential index -> torchvision resnet18 child name (avgpool, fc cut).
_ROBOMIMIC_TRUNK = {"0": "conv1", "1": "bn1", "4": "layer1", "5": "layer2", "6": "layer3", "7": "layer4"}


@dataclass
class ImageMapping:
    """What the image importer derived: spec, encoder config, encoder weights, feature order."""

    spec: PolicySpec
    encoder: EncoderConfig
    encoder_state: dict[str, Tensor]
    original_order: list[tuple[str, int]]  # (key, features per frame) in the original's concat order
    obs_sources: dict[str, Any]


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise UnsupportedOriginalCheckpoint(message)


def _shape_meta(policy: Mapping[str, Any]) -> tuple[list[tuple[str, str, tuple[int, ...]]], int]:
    meta = policy.get("shape_meta")
    _require(isinstance(meta, Mapping) and "obs" in meta and "action" in meta, "policy has no shape_meta")
    assert isinstance(meta, Mapping)  # _require above
    keys = []
    for key, attr in meta["obs"].items():
        kind = attr.get("type", "low_dim")
        _require(kind in ("rgb", "low_dim"), f"observation '{key}' of type {kind!r} is not supported (rgb, low_dim)")
        keys.append((str(key), kind, tuple(int(s) for s in attr["shape"])))
    action = [int(s) for s in meta["action"]["shape"]]
    _require(len(action) == 1, f"action shape {action} is not supported (one dimension)")
    return keys, action[0]


def _single_crop(crop: Any, rgb: Sequence[str]) -> tuple[int, int] | None:
    if crop is None:
        return None
    if isinstance(crop, Mapping):
        values = {tuple(int(c) for c in crop[k]) for k in rgb}
        _require(len(values) == 1, f"per-camera crop_shape {dict(crop)} is not supported (one crop for all cameras)")
        return values.pop()  # type: ignore[return-value]
    return (int(crop[0]), int(crop[1]))


def _check_crop(crop: tuple[int, int] | None, keys: Sequence[tuple[str, str, tuple[int, ...]]]) -> None:
    for key, kind, shape in keys:
        if kind != "rgb" or crop is None:
            continue
        margins = (shape[1] - crop[0], shape[2] - crop[1])
        _require(min(margins) > 0, f"crop {crop} is not smaller than image '{key}' {shape[1:]}")
        # torchvision's center_crop rounds half margins to even; dp_core's floor agrees on even margins.
        _require(
            all(m % 2 == 0 for m in margins),
            f"crop {crop} of image '{key}' {shape[1:]} leaves an odd margin: the original's center crop "
            "(torchvision, round half to even) differs there from dp_core's; not supported",
        )


def check_image_supported(cfg: Mapping[str, Any]) -> None:
    """Raise naming the first unsupported option of an original image U-Net policy cfg."""
    policy = cfg["policy"]
    target = policy["_target_"]
    name = target.rsplit(".", 1)[-1]
    keys, _ = _shape_meta(policy)
    rgb = [k for k, kind, _ in keys if kind == "rgb"]
    _require(bool(rgb), f"{name} without an rgb observation is not supported")
    _require(bool(policy.get("obs_as_global_cond", True)), f"{name} with obs_as_global_cond: false is not supported")
    _require(
        int(policy.get("n_groups", 8)) == 8,
        f"ConditionalUnet1D n_groups={policy.get('n_groups')} is not supported (the original's final block "
        "always uses 8 groups; dp_core uses n_groups everywhere)",
    )
    if target == IMAGE_POLICY:
        enc = policy.get("obs_encoder") or {}
        _require(enc.get("_target_") == MULTI_IMAGE_ENCODER, f"obs_encoder {enc.get('_target_')} is not supported")
        model = enc.get("rgb_model") or {}
        _require(
            model.get("_target_") == GET_RESNET and model.get("name") == "resnet18",
            f"rgb_model {model.get('_target_')}({model.get('name')}) is not supported "
            "(only get_resnet name: resnet18, a torchvision ResNet-18)",
        )
        _require(str(model.get("weights")).lower() != "r3m", "rgb_model weights: r3m (an R3M ResNet) is not supported")
        _require(
            enc.get("resize_shape") is None, "MultiImageObsEncoder resize_shape (torchvision Resize) is not supported"
        )
        _check_crop(_single_crop(enc.get("crop_shape"), rgb), keys)
    else:
        crop = policy.get("crop_shape", HYBRID_DEFAULT_CROP)
        _check_crop(None if crop is None else (int(crop[0]), int(crop[1])), keys)
        _require(
            crop is None or bool(policy.get("eval_fixed_crop", False)),
            f"{name} with eval_fixed_crop: false is not supported (robomimic's own CropRandomizer may crop "
            "randomly at evaluation, depending on its version; dp_core center-crops)",
        )


def _trunk_state(state: Mapping[str, Tensor], prefix: str, rename: Mapping[str, str] | None) -> dict[str, Tensor]:
    """The torchvision-named weights of one ResNet-18 under ``prefix`` (robomimic indices renamed)."""
    out = {}
    for key, value in state.items():
        if not key.startswith(prefix):
            continue
        rest = key[len(prefix) :]
        if rename is not None:
            head, _, tail = rest.partition(".")
            _require(head in rename, f"robomimic ResNet18Conv weight '{key}' is not mapped")
            rest = f"{rename[head]}.{tail}"
        out[rest] = value
    return out


def _norm_of(trunk: Mapping[str, Tensor]) -> str:
    return "batch" if any(k.endswith("running_mean") for k in trunk) else "group"


def map_image_policy(cfg: Mapping[str, Any], state: Mapping[str, Tensor]) -> ImageMapping:
    """Spec, encoder config and ``encoder.*`` weights of an original image U-Net policy."""
    policy = cfg["policy"]
    keys, action_dim = _shape_meta(policy)
    hybrid = policy["_target_"] == HYBRID_POLICY
    if hybrid:
        ordered = [k for k in keys if k[1] == "rgb"] + [k for k in keys if k[1] == "low_dim"]
        crop = policy.get("crop_shape", HYBRID_DEFAULT_CROP)
        crop = None if crop is None else (int(crop[0]), int(crop[1]))
    else:  # MultiImageObsEncoder sorts each kind
        ordered = sorted(k for k in keys if k[1] == "rgb") + sorted(k for k in keys if k[1] == "low_dim")
        enc = policy["obs_encoder"]
        crop = _single_crop(enc.get("crop_shape"), [k for k, kind, _ in keys if kind == "rgb"])
    rgb = [k for k, kind, _ in ordered if kind == "rgb"]
    encoder_state: dict[str, Tensor] = {}
    trunks: list[dict[str, Tensor]] = []
    if hybrid:
        heads = []
        for i, key in enumerate(rgb):
            net = f"obs_encoder.obs_nets.{key}.nets."
            trunks.append(_trunk_state(state, net + "0.nets.", _ROBOMIMIC_TRUNK))
            heads.append(_hybrid_head(state, net, key, crop or keys_shape(keys, key), i, encoder_state))
        num_keypoints, feature_dim = heads[0]
        _require(all(h == heads[0] for h in heads), f"cameras with different keypoints/feature sizes {heads}")
        encoder = EncoderConfig(
            crop_shape=crop,
            num_keypoints=num_keypoints,
            feature_dim_per_camera=feature_dim,
            norm=_norm_of(trunks[0]),  # type: ignore[arg-type]
            feature_activation="relu",
        )
    else:
        share = bool(enc.get("share_rgb_model", False))
        names = ["rgb"] if share else rgb
        trunks = [_trunk_state(state, f"obs_encoder.key_model_map.{name}.", None) for name in names]
        encoder = EncoderConfig(
            crop_shape=crop,
            feature_dim_per_camera=ResNet18.out_channels,
            norm=_norm_of(trunks[0]),  # type: ignore[arg-type]
            share_trunk=share,
            pooling="avg",
            imagenet_norm=bool(enc.get("imagenet_norm", False)),
            random_crop=bool(enc.get("random_crop", True)),
        )
    labels = rgb if hybrid else names
    for i, trunk in enumerate(trunks):
        _require(bool(trunk), f"original checkpoint has no ResNet-18 weights for camera '{labels[i]}'")
        _require(_norm_of(trunk) == encoder.norm, "cameras mix BatchNorm and GroupNorm trunks; not supported")
        encoder_state.update({f"trunks.{i}.{k}": v for k, v in trunk.items()})
    used_prefixes = ("obs_encoder.obs_nets.",) if hybrid else ("obs_encoder.key_model_map.",)
    stray = [
        k
        for k in state
        if k.startswith("obs_encoder.") and not k.startswith(used_prefixes) and not k.endswith("_dummy_variable")
    ]
    _require(not stray, f"original encoder weights not mapped (unsupported modules?): {stray[:8]}")
    spec = PolicySpec(
        obs=tuple(ObsKeySpec(k, kind, shape) for k, kind, shape in ordered),  # type: ignore[arg-type]  # rgb/low_dim, checked
        action_dim=action_dim,
        action_names=("x", "y") if action_dim == 2 else (),
        n_obs_steps=int(policy["n_obs_steps"]),
        horizon=int(policy["horizon"]),
        n_action_steps=int(policy["n_action_steps"]),
        dt_s=1.0 / float(cfg.get("task", {}).get("env_runner", {}).get("fps", 10)),
    )
    per_key = {k: (encoder.feature_dim_per_camera if kind == "rgb" else shape[0]) for k, kind, shape in keys}
    original = keys if hybrid else ordered
    dataset = (cfg.get("task") or {}).get("dataset") or {}
    if dataset.get("_target_") == PUSHT_IMAGE_DATASET:
        sources: dict[str, Any] = {"image": "img", "agent_pos": {"key": "state", "columns": [0, 2]}}
    else:
        sources = {k: k for k, _, _ in keys}
    return ImageMapping(spec, encoder, encoder_state, [(k, per_key[k]) for k, _, _ in original], sources)


def keys_shape(keys: Sequence[tuple[str, str, tuple[int, ...]]], key: str) -> tuple[int, int]:
    """(H, W) of an rgb key (no crop: the trunk sees the whole image)."""
    shape = next(s for k, _, s in keys if k == key)
    return shape[1], shape[2]


def _hybrid_head(
    state: Mapping[str, Tensor], net: str, key: str, crop: tuple[int, int], index: int, out: dict[str, Tensor]
) -> tuple[int, int]:
    """robomimic SpatialSoftmax (``nets.1``) + Linear (``nets.3``) -> dp_core head ``index``; (K, features)."""
    needed = ("1.nets.weight", "1.nets.bias", "1.pos_x", "1.pos_y", "1.temperature", "3.weight", "3.bias")
    missing = [net + n for n in needed if net + n not in state]
    _require(not missing, f"robomimic VisualCore of '{key}' lacks {missing} (SpatialSoftmax with keypoints + Linear)")
    stray = [
        k for k in state if k.startswith(net) and not k.startswith(net + "0.nets.") and k[len(net) :] not in needed
    ]
    _require(not stray, f"robomimic VisualCore weights not mapped (output_variance / other pool?): {stray[:4]}")
    temperature = state[net + "1.temperature"].float()
    _require(
        temperature.numel() == 1 and float(temperature) == 1.0,
        f"spatial-softmax temperature {temperature.tolist()} is not supported (dp_core's is fixed at 1.0; a "
        "learnable_temperature run stores a learnt value)",
    )
    height, width = feature_map_size(*crop)
    ys, xs = torch.meshgrid(torch.linspace(-1.0, 1.0, height), torch.linspace(-1.0, 1.0, width), indexing="ij")
    for axis, grid in (("pos_x", xs), ("pos_y", ys)):
        stored = state[f"{net}1.{axis}"].float().reshape(-1)
        _require(
            stored.shape == grid.reshape(-1).shape and torch.allclose(stored, grid.reshape(-1), atol=1e-6),
            f"robomimic SpatialSoftmax {axis} of '{key}' is not the {height}x{width} linspace(-1, 1) grid",
        )
    head = f"heads.{index}."
    out[head + "keypoints.keypoint_conv.weight"] = state[net + "1.nets.weight"]
    out[head + "keypoints.keypoint_conv.bias"] = state[net + "1.nets.bias"]
    out[head + "projection.weight"] = state[net + "3.weight"]
    out[head + "projection.bias"] = state[net + "3.bias"]
    return int(state[net + "1.nets.weight"].shape[0]), int(state[net + "3.weight"].shape[0])


def film_obs_permutation(mapping: ImageMapping, n_obs_steps: int) -> Tensor:
    """Column order taking the original's global condition layout to dp_core's (per frame, cameras first)."""
    offsets, start = {}, 0
    for key, size in mapping.original_order:
        offsets[key] = (start, size)
        start += size
    per_frame = torch.cat([torch.arange(offsets[k.name][0], sum(offsets[k.name])) for k in mapping.spec.obs])
    return torch.cat([per_frame + t * start for t in range(n_obs_steps)])
