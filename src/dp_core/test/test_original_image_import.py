"""dp-import-original for the original's image U-Net policies, against encoders built with torchvision.

No original image checkpoint is shared, so each test builds the original's encoder from its facts
with torchvision (a real library): MultiImageObsEncoder = per camera ``torchvision.models.resnet18``
with every BatchNorm2d replaced by GroupNorm(C // 16, C) and ``fc = Identity``, torchvision's
CenterCrop (evaluation) and ImageNet Normalize; robomimic's encoder = VisualCore(ResNet18Conv
(resnet18's children without avgpool/fc), SpatialSoftmax (1x1 conv, buffers pos_x/pos_y from
np.linspace grids, temperature), Flatten, Linear) followed by the ObservationEncoder's ReLU, keys in
shape_meta order. Random weights; the state dicts go into an original-format payload (dill-pickled
``{cfg: OmegaConf, state_dicts: {model, ema_model}, pickles}``) that the CLI imports. The U-Net part
uses original names produced from a dp_core U-Net (its mapping is checked against the original's
own outputs in test_original_import.py); its reference output takes the features in the
original's order, so the FiLM column order is checked too.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from dp_core.import_original import main as import_main
from dp_core.models.unet1d import ConditionalUnet1D, UNetConfig
from dp_core.policy.inference import Policy
from dp_core.policy.original_checkpoint import UnsupportedOriginalCheckpoint, import_original


def _import_torchvision() -> Any:
    """torchvision, also where its compiled ops cannot load (PyPI's CUDA build next to a CPU torch).

    Only its pure-Python models and transforms are used here. Its import registers fake kernels for
    the ``torchvision::nms``/``qnms`` operators unconditionally; without the compiled library those
    operators are undefined and the import fails, so their schemas (torchvision's csrc/ops/nms.cpp)
    are declared first. Nothing here calls them.
    """
    if importlib.util.find_spec("torchvision") is None:
        pytest.skip("torchvision (requirements/python.txt) builds the references", allow_module_level=True)
    try:
        import torchvision
    except RuntimeError as error:
        if "torchvision::nms" not in str(error):
            raise
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]
        _TORCHVISION_SCHEMAS.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        _TORCHVISION_SCHEMAS.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        import torchvision
    return torchvision


_TORCHVISION_SCHEMAS = torch.library.Library("torchvision", "FRAGMENT")
torchvision = _import_torchvision()
dill = pytest.importorskip("dill", reason="dill (requirements/python.txt) writes original-format checkpoints")
omegaconf = pytest.importorskip("omegaconf", reason="omegaconf (requirements/python.txt) holds original cfgs")

torch.set_num_threads(1)
SIZE, CROP, B, T = 48, 40, 2, 2
UNET = UNetConfig(down_dims=(16, 32), kernel_size=5, n_groups=8, diffusion_step_embed_dim=16, cond_predict_scale=True)
SCHEDULER = {
    "_target_": "diffusers.schedulers.scheduling_ddpm.DDPMScheduler",
    "num_train_timesteps": 100,
    "beta_schedule": "squaredcos_cap_v2",
    "clip_sample": True,
    "prediction_type": "epsilon",
    "variance_type": "fixed_small",
}


def _group_norm(module: nn.Module) -> nn.Module:
    """The original's replace_submodules(BatchNorm2d -> GroupNorm(num_features // 16))."""
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            setattr(module, name, nn.GroupNorm(child.num_features // 16, child.num_features))
        else:
            _group_norm(child)
    return module


def _randomize(module: nn.Module, seed: int) -> nn.Module:
    """Random weights everywhere (norm affines too), so a wrong mapping cannot pass."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            scale = 0.2 if name.endswith("bias") or p.ndim == 1 else 1.0 / np.sqrt(p[0].numel())
            p.copy_(torch.randn(p.shape, generator=gen) * scale + (1.0 if p.ndim == 1 and "weight" in name else 0.0))
    return module


def _resnet(seed: int, group_norm: bool = True) -> nn.Module:
    net = torchvision.models.resnet18(weights=None)
    net.fc = nn.Identity()  # get_resnet
    return _randomize(_group_norm(net) if group_norm else net, seed).eval()


class _RobomimicSpatialSoftmax(nn.Module):
    """robomimic SpatialSoftmax (num_kp, temperature buffer, np.linspace grids), from its facts."""

    def __init__(self, channels: int, height: int, width: int, num_kp: int) -> None:
        super().__init__()
        self.nets = nn.Conv2d(channels, num_kp, kernel_size=1)
        self.register_buffer("temperature", torch.ones(1))
        pos_x, pos_y = np.meshgrid(np.linspace(-1.0, 1.0, width), np.linspace(-1.0, 1.0, height))
        self.register_buffer("pos_x", torch.from_numpy(pos_x.reshape(1, height * width)).float())
        self.register_buffer("pos_y", torch.from_numpy(pos_y.reshape(1, height * width)).float())
        self.num_kp, self.hw = num_kp, height * width

    def forward(self, feature: Tensor) -> Tensor:
        attention = torch.softmax(self.nets(feature).reshape(-1, self.hw) / self.temperature, dim=-1)
        expected = torch.cat(
            [(self.pos_x * attention).sum(1, keepdim=True), (self.pos_y * attention).sum(1, keepdim=True)], 1
        )
        return expected.view(-1, self.num_kp, 2)


class _ResNet18Conv(nn.Module):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.nets = nn.Sequential(*list(net.children())[:-2])

    def forward(self, x: Tensor) -> Tensor:
        return self.nets(x)


class _VisualCore(nn.Module):
    def __init__(self, seed: int, num_kp: int = 8, feature_dim: int = 24) -> None:
        super().__init__()
        trunk = _group_norm(torchvision.models.resnet18(weights=None))
        pool = _RobomimicSpatialSoftmax(512, 2, 2, num_kp)  # 40 x 40 crop -> 2 x 2 feature map
        self.nets = nn.Sequential(_ResNet18Conv(trunk), pool, nn.Flatten(1), nn.Linear(2 * num_kp, feature_dim))
        _randomize(self, seed).eval()

    def forward(self, x: Tensor) -> Tensor:
        return self.nets(x)


def _unet_to_original(unet: ConditionalUnet1D) -> dict[str, Tensor]:
    """A dp_core U-Net's weights under the original ConditionalUnet1D's names (``model.`` prefix)."""
    ours, out = unet.state_dict(), {}
    n = len(unet.config.down_dims)

    def block(dst: str, src: str) -> None:
        for theirs, mine in (("blocks.0.block", "conv_in"), ("blocks.1.block", "conv_out")):
            for part in ("0", "1"):
                for p in ("weight", "bias"):
                    out[f"{dst}.{theirs}.{part}.{p}"] = ours[f"{src}.{mine}.{part}.{p}"]
        for p in ("weight", "bias"):
            if f"{src}.residual.{p}" in ours:
                out[f"{dst}.residual_conv.{p}"] = ours[f"{src}.residual.{p}"]

    blocks = [(f"down_modules.{i}.{j}", f"down.{i}.block{j + 1}") for i in range(n) for j in range(2)]
    blocks += [(f"mid_modules.{j}", f"mid.block{j + 1}") for j in range(2)]
    blocks += [(f"up_modules.{i}.{j}", f"up.{i}.block{j + 1}") for i in range(n - 1) for j in range(2)]
    rows = np.cumsum([0, *unet._film_sizes])
    step_dim = unet.config.diffusion_step_embed_dim
    for k, (dst, src) in enumerate(blocks):
        block(dst, src)
        part = slice(rows[k], rows[k + 1])
        out[f"{dst}.cond_encoder.1.weight"] = torch.cat(
            [ours["film_step.weight"][part], ours["film_obs.weight"][part]], 1
        )
        out[f"{dst}.cond_encoder.1.bias"] = ours["film_step.bias"][part]
        assert out[f"{dst}.cond_encoder.1.weight"].shape[1] == step_dim + unet.film_obs.in_features
    for i in range(n):
        if i < n - 1:
            for p in ("weight", "bias"):
                out[f"down_modules.{i}.2.conv.{p}"] = ours[f"down.{i}.resample.{p}"]
    for i in range(n - 1):
        for p in ("weight", "bias"):
            out[f"up_modules.{i}.2.conv.{p}"] = ours[f"up.{i}.resample.{p}"]
    for theirs, mine in (("diffusion_step_encoder.1", "step_mlp.0"), ("diffusion_step_encoder.3", "step_mlp.2")):
        for p in ("weight", "bias"):
            out[f"{theirs}.{p}"] = ours[f"{mine}.{p}"]
    for theirs, mine in (
        ("final_conv.0.block.0", "final.0.0"),
        ("final_conv.0.block.1", "final.0.1"),
        ("final_conv.1", "final.1"),
    ):
        for p in ("weight", "bias"):
            out[f"{theirs}.{p}"] = ours[f"{mine}.{p}"]
    return {f"model.{k}": v for k, v in out.items()}


LOW, HIGH = torch.tensor([10.0, 20.0]), torch.tensor([500.0, 480.0])
SCALE, OFFSET = 2 / (HIGH - LOW), -1 - 2 * LOW / (HIGH - LOW)


def _normalized_pos(obs: dict[str, Tensor]) -> Tensor:
    """The original LinearNormalizer's x * scale + offset, (B*T, 2)."""
    return obs["agent_pos"].flatten(0, 1) * SCALE + OFFSET


def _normalizer(keys: dict[str, str]) -> dict[str, Tensor]:
    state = {}
    for key, kind in keys.items():
        if kind == "rgb":
            scale, offset, low, high = torch.tensor([2.0]), torch.tensor([-1.0]), torch.zeros(1), torch.ones(1)
        else:
            scale, offset, low, high = SCALE, OFFSET, LOW, HIGH
        state |= {
            f"normalizer.params_dict.{key}.scale": scale,
            f"normalizer.params_dict.{key}.offset": offset,
            f"normalizer.params_dict.{key}.input_stats.min": low,
            f"normalizer.params_dict.{key}.input_stats.max": high,
        }
    return state


def _policy_cfg(target: str, shape_meta: dict[str, Any], **policy: Any) -> dict[str, Any]:
    base = {
        "_target_": f"diffusion_policy.policy.{target}",
        "shape_meta": shape_meta,
        "noise_scheduler": SCHEDULER,
        "horizon": 16,
        "n_action_steps": 8,
        "n_obs_steps": T,
        "num_inference_steps": 100,
        "obs_as_global_cond": True,
        "diffusion_step_embed_dim": UNET.diffusion_step_embed_dim,
        "down_dims": list(UNET.down_dims),
        "kernel_size": UNET.kernel_size,
        "n_groups": 8,
        "cond_predict_scale": True,
    }
    return {"policy": base | policy, "task": {"env_runner": {"fps": 10}}}


def _image_encoder_cfg(shape_meta: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    return {
        "_target_": "diffusion_policy.model.vision.multi_image_obs_encoder.MultiImageObsEncoder",
        "shape_meta": shape_meta,
        "rgb_model": {
            "_target_": "diffusion_policy.model.vision.model_getter.get_resnet",
            "name": "resnet18",
            "weights": None,
        },
        "resize_shape": None,
        "crop_shape": [CROP, CROP],
        "random_crop": True,
        "use_group_norm": True,
        "share_rgb_model": False,
        "imagenet_norm": True,
    } | overrides


def _shape_meta(order: list[tuple[str, str]]) -> dict[str, Any]:
    obs = {k: {"shape": [3, SIZE, SIZE] if kind == "rgb" else [2], "type": kind} for k, kind in order}
    return {"obs": obs, "action": {"shape": [2]}}


def _write(tmp_path: Path, cfg: dict[str, Any], state: dict[str, Tensor]) -> Path:
    payload = {
        "cfg": omegaconf.OmegaConf.create(cfg),
        "state_dicts": {"model": state, "ema_model": state, "optimizer": {}},
        "pickles": {"global_step": dill.dumps(12)},
    }
    path = tmp_path / "original.ckpt"
    with open(path, "wb") as handle:
        torch.save(payload, handle, pickle_module=dill)
    return path


def _obs(seed: int) -> dict[str, Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {
        "front_image": torch.rand(B, T, 3, SIZE, SIZE, generator=gen),
        "wrist_image": torch.rand(B, T, 3, SIZE, SIZE, generator=gen),
        "agent_pos": torch.rand(B, T, 2, generator=gen) * 400 + 50,
    }


def _check(
    imported: Path, reference_features: Tensor, unet: ConditionalUnet1D, obs: dict[str, Tensor], names: list[str]
) -> Tensor:
    """Our encoder features and denoiser outputs equal the references within 1e-5 relative."""
    model = Policy.from_checkpoint(imported, device="cpu", precision="fp32").model.eval()
    with torch.inference_mode():
        ours = model.encode_observations(obs)  # (B, T, F), dp_core's order: cameras, then low-dim
        assert [k.name for k in model.spec.obs] == names
        sample = torch.randn(B, 16, 2, generator=torch.Generator().manual_seed(3))
        for t in (0, 10, 99):
            expected = unet(sample, torch.full((B,), t), reference_features)
            got = model.denoiser(sample, torch.full((B,), t), ours)
            assert (got - expected).norm() / expected.norm() < 1e-5, t
    return ours


def test_image_unet_policy_equals_torchvision_multi_image_encoder(tmp_path: Path) -> None:
    order = [("wrist_image", "rgb"), ("agent_pos", "low_dim"), ("front_image", "rgb")]  # sorted: front, wrist
    meta = _shape_meta(order)
    cfg = _policy_cfg(
        "diffusion_unet_image_policy.DiffusionUnetImagePolicy", meta, obs_encoder=_image_encoder_cfg(meta)
    )
    cfg["task"]["dataset"] = {"_target_": "diffusion_policy.dataset.real_image_dataset.RealImageDataset"}
    nets = {"front_image": _resnet(1), "wrist_image": _resnet(2)}
    torch.manual_seed(0)
    unet = _randomize(ConditionalUnet1D(2, 512 * 2 + 2, T, 16, UNET), 5).eval()
    state = {f"obs_encoder.key_model_map.{k}.{n}": v for k, net in nets.items() for n, v in net.state_dict().items()}
    state |= _unet_to_original(unet) | _normalizer(dict(order) | {"action": "low_dim"})
    state |= {"_dummy_variable": torch.zeros(0), "obs_encoder._dummy_variable": torch.zeros(0)}
    out = tmp_path / "imported"
    assert import_main([str(_write(tmp_path, cfg, state)), str(out)]) == 0
    obs = _obs(0)
    crop = torchvision.transforms.CenterCrop((CROP, CROP))
    norm = torchvision.transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
    with torch.inference_mode():
        features = [nets[k](norm(crop(obs[k].flatten(0, 1) * 2 - 1))) for k in ("front_image", "wrist_image")]
        low = _normalized_pos(obs)
        reference = torch.cat([*features, low], -1).reshape(B, T, -1)
    ours = _check(out, reference, unet, obs, ["front_image", "wrist_image", "agent_pos"])
    assert ((ours - reference).norm() / reference.norm()) < 1e-5
    config = Policy.from_checkpoint(out, device="cpu").model.config.encoder
    assert (config.pooling, config.imagenet_norm, config.norm, config.random_crop) == ("avg", True, "group", True)


def test_hybrid_policy_equals_robomimic_encoder_structure(tmp_path: Path) -> None:
    order = [("agent_pos", "low_dim"), ("wrist_image", "rgb"), ("front_image", "rgb")]  # robomimic keeps this order
    meta = _shape_meta(order)
    cfg = _policy_cfg(
        "diffusion_unet_hybrid_image_policy.DiffusionUnetHybridImagePolicy",
        meta,
        crop_shape=[CROP, CROP],
        obs_encoder_group_norm=True,
        eval_fixed_crop=True,
    )
    cores = {"wrist_image": _VisualCore(3), "front_image": _VisualCore(4)}
    unet = _randomize(ConditionalUnet1D(2, 2 + 24 * 2, T, 16, UNET), 6).eval()
    state = {f"obs_encoder.obs_nets.{k}.{n}": v for k, core in cores.items() for n, v in core.state_dict().items()}
    state |= _unet_to_original(unet) | _normalizer(dict(order) | {"action": "low_dim"})
    out = tmp_path / "imported"
    assert import_main([str(_write(tmp_path, cfg, state)), str(out)]) == 0
    obs = _obs(1)
    crop = torchvision.transforms.CenterCrop((CROP, CROP))
    with torch.inference_mode():
        low = _normalized_pos(obs)
        per_key = {k: torch.relu(core(crop(obs[k].flatten(0, 1) * 2 - 1))) for k, core in cores.items()}
        reference = torch.cat([low, per_key["wrist_image"], per_key["front_image"]], -1).reshape(B, T, -1)
    ours = _check(out, reference, unet, obs, ["wrist_image", "front_image", "agent_pos"])  # cameras first
    expected_ours = torch.cat([reference[..., 2:], reference[..., :2]], -1)
    assert ((ours - expected_ours).norm() / expected_ours.norm()) < 1e-5
    config = Policy.from_checkpoint(out, device="cpu").model.config.encoder
    assert (config.pooling, config.feature_activation, config.num_keypoints) == ("spatial_softmax", "relu", 8)


def _refused(cfg: dict[str, Any], match: str, state: dict[str, Tensor] | None = None) -> None:
    with pytest.raises(UnsupportedOriginalCheckpoint, match=match):
        import_original({"cfg": cfg, "state_dicts": {"ema_model": state or {}, "model": state or {}}})


def test_unmappable_image_options_are_refused_by_name() -> None:
    meta = _shape_meta([("front_image", "rgb"), ("agent_pos", "low_dim")])
    image = "diffusion_unet_image_policy.DiffusionUnetImagePolicy"
    hybrid = "diffusion_unet_hybrid_image_policy.DiffusionUnetHybridImagePolicy"
    _refused(_policy_cfg(image, meta, obs_encoder=_image_encoder_cfg(meta, resize_shape=[64, 64])), "resize_shape")
    _refused(_policy_cfg(image, meta, obs_encoder=_image_encoder_cfg(meta, crop_shape=[41, 41])), "odd margin")
    resnet34 = {"_target_": "diffusion_policy.model.vision.model_getter.get_resnet", "name": "resnet34"}
    _refused(_policy_cfg(image, meta, obs_encoder=_image_encoder_cfg(meta, rgb_model=resnet34)), "resnet34")
    r3m = dict(resnet34, name="resnet18", weights="r3m")
    _refused(_policy_cfg(image, meta, obs_encoder=_image_encoder_cfg(meta, rgb_model=r3m)), "r3m")
    _refused(
        _policy_cfg(image, meta, obs_encoder=_image_encoder_cfg(meta), obs_as_global_cond=False), "obs_as_global_cond"
    )
    _refused(_policy_cfg(hybrid, meta, crop_shape=[CROP, CROP], eval_fixed_crop=False), "eval_fixed_crop")
    _refused(
        {
            "policy": {
                "_target_": "diffusion_policy.policy.diffusion_transformer_hybrid_image_policy.DiffusionTransformerHybridImagePolicy"
            }
        },
        "DiffusionTransformerHybridImagePolicy.*not mapped",
    )
    core = _VisualCore(0)
    learnt = {f"obs_encoder.obs_nets.front_image.{n}": v for n, v in core.state_dict().items()}
    learnt["obs_encoder.obs_nets.front_image.nets.1.temperature"] = torch.tensor([0.5])
    cfg = _policy_cfg(hybrid, meta, crop_shape=[CROP, CROP], eval_fixed_crop=True)
    _refused(cfg, "temperature", learnt)
