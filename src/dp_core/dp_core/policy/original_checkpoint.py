"""Maps a checkpoint of the original Diffusion Policy code (real-stanford/diffusion_policy) to dp_core.

Input: the payload the original workspaces write (``{"cfg": config tree, "state_dicts":
{"model", "ema_model", "optimizer"}, "pickles": {...}}``), with ``cfg`` already turned into plain
Python containers (the CLI ``dp-import-original`` unpickles and converts; this module never
unpickles anything). Output: a :class:`DiffusionModel` with the same numbers and a dp_core run
config tree, written by the CLI as a normal dp_core checkpoint.

Supported (everything else raises :class:`UnsupportedOriginalCheckpoint` naming what is not):
- policy ``diffusion_policy.policy.diffusion_unet_lowdim_policy.DiffusionUnetLowdimPolicy`` with
  ``obs_as_global_cond: true``, ``obs_as_local_cond: false``, ``pred_action_steps_only: false``,
  ``oa_step_convention: true`` (the paper's low-dim CNN setting, e.g. ``pusht_lowdim``);
- its model ``ConditionalUnet1D`` with ``local_cond_dim: null``, a global condition and
  ``n_groups: 8`` (the original's final Conv1dBlock always uses 8 groups);
- its noise scheduler diffusers ``DDPMScheduler`` or ``DDIMScheduler`` with
  ``variance_type: fixed_small``, beta schedule squaredcos_cap_v2 / linear / scaled_linear,
  prediction ``epsilon`` or ``sample``;
- its ``LinearNormalizer`` keys ``obs`` and ``action`` (any mode: scale and offset are copied);
- policy ``diffusion_policy.policy.diffusion_transformer_lowdim_policy.DiffusionTransformerLowdimPolicy``
  with ``obs_as_cond: true`` and ``pred_action_steps_only: false``, its ``TransformerForDiffusion``
  with ``time_as_cond: true`` (same schedulers and normalizer). Its mapping is by module name and
  shape; unlike the U-Net's, no output of the original transformer is checked here (no fixture);
- the image U-Net policies ``DiffusionUnetImagePolicy`` (``MultiImageObsEncoder`` with
  ``get_resnet`` resnet18) and ``DiffusionUnetHybridImagePolicy`` (robomimic's ResNet18Conv +
  SpatialSoftmax + Linear encoder) with ``obs_as_global_cond: true``: :mod:`dp_core.policy.original_image`.
Facts taken from the original's diffusion_policy/model/diffusion/conditional_unet1d.py,
transformer_for_diffusion.py, policy/diffusion_unet_lowdim_policy.py,
policy/diffusion_transformer_lowdim_policy.py, dataset/pusht_dataset.py; the LinearNormalizer's
state-dict layout (``normalizer.params_dict.<key>.{scale, offset, input_stats.*}``) as the shared
original checkpoint stores it.
Weight renames: :mod:`dp_core.policy.original_weights`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from dp_core.data.normalizer import _KeyStats
from dp_core.diffusion.schedules import NoiseScheduleConfig
from dp_core.models.obs_encoder import EncoderConfig
from dp_core.models.transformer import TransformerConfig
from dp_core.models.unet1d import UNetConfig
from dp_core.policy.diffusion_model import ACTION_KEY, DiffusionModel, DiffusionModelConfig
from dp_core.policy.original_image import (
    IMAGE_POLICIES,
    check_image_supported,
    film_obs_permutation,
    map_image_policy,
)
from dp_core.policy.original_weights import UnsupportedOriginalCheckpoint, map_transformer_weights, map_unet_weights
from dp_core.spec import ObsKeySpec, PolicySpec

LOWDIM_UNET_POLICY = "diffusion_policy.policy.diffusion_unet_lowdim_policy.DiffusionUnetLowdimPolicy"
LOWDIM_TRANSFORMER_POLICY = (
    "diffusion_policy.policy.diffusion_transformer_lowdim_policy.DiffusionTransformerLowdimPolicy"
)
SUPPORTED_POLICIES = (LOWDIM_UNET_POLICY, LOWDIM_TRANSFORMER_POLICY, *IMAGE_POLICIES)
UNET_MODEL = "diffusion_policy.model.diffusion.conditional_unet1d.ConditionalUnet1D"
TRANSFORMER_MODEL = "diffusion_policy.model.diffusion.transformer_for_diffusion.TransformerForDiffusion"
SCHEDULERS = (
    "diffusers.schedulers.scheduling_ddpm.DDPMScheduler",
    "diffusers.schedulers.scheduling_ddim.DDIMScheduler",
)
PUSHT_LOWDIM_DATASET = "diffusion_policy.dataset.pusht_dataset.PushTLowdimDataset"
#: Policies the original code has that this importer does not map (refused by name).
KNOWN_UNSUPPORTED = {
    "DiffusionTransformerHybridImagePolicy": "the hybrid image transformer is not mapped",
    "RobomimicImagePolicy": "a robomimic BC policy, not a diffusion policy",
    "IbcDfoHybridImagePolicy": "an IBC policy, not a diffusion policy",
    "BETLowdimPolicy": "a BET policy, not a diffusion policy",
}


@dataclass
class ImportedPolicy:
    """The mapped policy, its dp_core run-config tree and what the original run recorded."""

    model: DiffusionModel
    config_tree: dict[str, Any]
    global_step: int
    weights: str  # "ema_model" or "model"


def _get(tree: Mapping[str, Any], dotted: str, default: Any = KeyError) -> Any:
    node: Any = tree
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            if default is KeyError:
                raise UnsupportedOriginalCheckpoint(f"original cfg has no '{dotted}'")
            return default
        node = node[part]
    return node


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise UnsupportedOriginalCheckpoint(message)


def check_supported(cfg: Mapping[str, Any]) -> None:
    """Raise naming the first unsupported class or option of an original cfg."""
    target = str(_get(cfg, "policy._target_"))
    name = target.rsplit(".", 1)[-1]
    if target not in SUPPORTED_POLICIES:
        reason = KNOWN_UNSUPPORTED.get(name, "unknown policy class")
        raise UnsupportedOriginalCheckpoint(
            f"policy {target} is not supported ({reason}); dp-import-original supports {', '.join(SUPPORTED_POLICIES)}"
        )
    policy = _get(cfg, "policy")
    model = policy.get("model") or {}
    _require(not policy.get("pred_action_steps_only", False), "pred_action_steps_only: true is not supported")
    if target in IMAGE_POLICIES:
        check_image_supported(cfg)
    elif target == LOWDIM_UNET_POLICY:
        _require(
            bool(policy.get("obs_as_global_cond", False)),
            f"{name} with obs_as_global_cond: false (inpainting the observations) is not supported",
        )
        _require(
            not policy.get("obs_as_local_cond", False), "obs_as_local_cond: true (local condition) is not supported"
        )
        _require(
            bool(policy.get("oa_step_convention", False)),
            "oa_step_convention: false (actions start at n_obs_steps) is not supported",
        )
        _require(
            model.get("_target_") == UNET_MODEL, f"model {model.get('_target_')} is not supported (need {UNET_MODEL})"
        )
        _require(model.get("local_cond_dim") is None, "ConditionalUnet1D with local_cond_dim is not supported")
        _require(
            model.get("global_cond_dim") is not None, "ConditionalUnet1D without a global condition is not supported"
        )
        _require(
            int(model.get("n_groups", 8)) == 8,
            f"ConditionalUnet1D n_groups={model.get('n_groups')} is not supported (the original's final block "
            "always uses 8 groups; dp_core uses n_groups everywhere)",
        )
    else:
        _require(
            bool(policy.get("obs_as_cond", False)),
            f"{name} with obs_as_cond: false (inpainting the observations) is not supported",
        )
        _require(
            model.get("_target_") == TRANSFORMER_MODEL,
            f"model {model.get('_target_')} is not supported (need {TRANSFORMER_MODEL})",
        )
        _require(
            bool(model.get("time_as_cond", True)), "TransformerForDiffusion with time_as_cond: false is not supported"
        )
        _require(
            int(model.get("cond_dim", 0)) == int(policy["obs_dim"]),
            f"TransformerForDiffusion cond_dim {model.get('cond_dim')} != obs_dim {policy['obs_dim']}",
        )
        _require(
            int(model.get("input_dim", 0)) == int(model.get("output_dim", -1)) == int(policy["action_dim"]),
            "TransformerForDiffusion input_dim/output_dim must equal action_dim",
        )
    sched = _get(cfg, "policy.noise_scheduler")
    _require(sched.get("_target_") in SCHEDULERS, f"noise scheduler {sched.get('_target_')} is not supported")
    _require(
        sched.get("variance_type", "fixed_small") == "fixed_small",
        f"variance_type {sched.get('variance_type')!r} is not supported (fixed_small only)",
    )
    _require(not sched.get("thresholding", False), "dynamic thresholding is not supported")


def _noise_config(sched: Mapping[str, Any]) -> NoiseScheduleConfig:
    try:
        return NoiseScheduleConfig(
            num_train_timesteps=int(sched.get("num_train_timesteps", 1000)),
            beta_schedule=sched.get("beta_schedule", "linear"),
            beta_start=float(sched.get("beta_start", 1e-4)),
            beta_end=float(sched.get("beta_end", 0.02)),
            prediction_type=sched.get("prediction_type", "epsilon"),
            clip_sample=bool(sched.get("clip_sample", True)),
        )
    except ValueError as error:
        raise UnsupportedOriginalCheckpoint(f"noise scheduler: {error}") from error


def _spec(cfg: Mapping[str, Any]) -> tuple[PolicySpec, list[tuple[str, int, int]], dict[str, Any]]:
    """The PolicySpec, how the original 'obs' vector splits into keys, and the data section."""
    policy = _get(cfg, "policy")
    obs_dim, action_dim = int(policy["obs_dim"]), int(policy["action_dim"])
    dataset = _get(cfg, "task.dataset", {}) or {}
    fps = _get(cfg, "task.env_runner.fps", 10)
    if dataset.get("_target_") == PUSHT_LOWDIM_DATASET and obs_dim > 2:
        # PushTLowdimDataset: obs = [keypoint (K, 2) flattened, state[:, :2] (agent x, y)].
        keys = [("keypoint", 0, obs_dim - 2), ("agent_pos", obs_dim - 2, obs_dim)]
        names: tuple[str, ...] = ("x", "y") if action_dim == 2 else ()
        sources: dict[str, Any] = {
            "keypoint": dataset.get("obs_key", "keypoint"),
            "agent_pos": {"key": dataset.get("state_key", "state"), "columns": [0, 2]},
        }
    else:
        keys, names, sources = [("obs", 0, obs_dim)], (), {"obs": "obs"}
    spec = PolicySpec(
        obs=tuple(ObsKeySpec(name, "low_dim", (stop - start,)) for name, start, stop in keys),
        action_dim=action_dim,
        action_names=names,
        n_obs_steps=int(policy["n_obs_steps"]),
        horizon=int(policy["horizon"]),
        n_action_steps=int(policy["n_action_steps"]),
        dt_s=1.0 / float(fps),
    )
    return spec, keys, _data_section(cfg, sources)


def _data_section(cfg: Mapping[str, Any], sources: dict[str, Any]) -> dict[str, Any]:
    """The original run's dataset in dp_core's DataConfig terms."""
    dataset = _get(cfg, "task.dataset", {}) or {}
    return {
        "path": str(dataset.get("zarr_path", "")),
        "obs_sources": sources,
        "action_source": "action",
        "val_ratio": float(dataset.get("val_ratio", 0.02)),
        "max_train_episodes": dataset.get("max_train_episodes"),
        "seed": int(dataset.get("seed", 42)),
    }


def _train_section(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The original run's optimisation settings in dp_core's TrainConfig terms."""
    opt, training, ema = _get(cfg, "optimizer", {}), _get(cfg, "training", {}), _get(cfg, "ema", {})
    decay = opt.get("weight_decay", opt.get("transformer_weight_decay", 1e-6))
    return {
        "seed": int(training.get("seed", 42)),
        "batch_size": int(_get(cfg, "dataloader.batch_size", 256)),
        "num_epochs": int(training.get("num_epochs", 3000)),
        "lr": float(opt.get("lr", opt.get("learning_rate", 1e-4))),
        "weight_decay": float(decay),
        "betas": [float(b) for b in opt.get("betas", [0.95, 0.999])],
        "warmup_steps": int(training.get("lr_warmup_steps", 500)),
        "lr_schedule": "cosine",
        "grad_clip_norm": None,
        "ema": bool(training.get("use_ema", True)),
        "ema_power": float(ema.get("power", 0.75)),
        "ema_max_value": float(ema.get("max_value", 0.9999)),
    }


def _strip(state: Mapping[str, Tensor], prefix: str) -> dict[str, Tensor]:
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}


def _normalizer_stats(
    state: Mapping[str, Tensor],
    key: str,
    start: int | None = None,
    stop: int | None = None,
) -> _KeyStats:
    params = _strip(state, f"normalizer.params_dict.{key}.")
    needed = ("scale", "offset", "input_stats.min", "input_stats.max")
    missing = [n for n in needed if n not in params]
    if missing:
        raise UnsupportedOriginalCheckpoint(f"original normalizer '{key}' lacks {missing}")
    part = slice(start, stop)
    values = [params[n].float()[part].clone() for n in needed]
    return _KeyStats("low_dim", *values)


def _image_stats(state: Mapping[str, Tensor], key: str) -> _KeyStats:
    """The original's image range normalizer (x * 2 - 1) as dp_core's fixed rgb map; anything else refused."""
    params = _strip(state, f"normalizer.params_dict.{key}.")
    scale, offset = params.get("scale"), params.get("offset")
    _require(
        scale is not None and offset is not None and bool((scale == 2).all()) and bool((offset == -1).all()),
        f"image normalizer '{key}' is not the original's [0, 1] -> [-1, 1] range normalizer; not supported",
    )
    one = torch.ones(3, 1, 1)
    return _KeyStats("rgb", 2 * one, -one, 0 * one, one)


def import_original(
    payload: Mapping[str, Any], use_ema: bool = True, num_inference_steps: int | None = None
) -> ImportedPolicy:
    """Map an original payload (cfg as plain containers) to a dp_core policy and run config.

    Args:
        use_ema: take ``state_dicts.ema_model`` (the original evaluates with it) or ``model``.
        num_inference_steps: DDIM steps stored in the config; None keeps the original's sampler
            (its DDPM chain when it trained with DDPMScheduler and num_inference_steps = train steps).
    """
    cfg = payload.get("cfg")
    if not isinstance(cfg, Mapping):
        raise UnsupportedOriginalCheckpoint("payload has no 'cfg' mapping; not an original Diffusion Policy checkpoint")
    check_supported(cfg)
    weights = "ema_model" if use_ema else "model"
    state = _get(payload, f"state_dicts.{weights}")
    target = _get(cfg, "policy._target_")
    image = map_image_policy(cfg, state) if target in IMAGE_POLICIES else None
    if image is None:
        spec, obs_keys, data = _spec(cfg)
        model_cfg = _get(cfg, "policy.model")
    else:  # the U-Net's settings sit on the policy itself
        spec, obs_keys, data = image.spec, [], _data_section(cfg, image.obs_sources)
        model_cfg = _get(cfg, "policy")
    sched = _get(cfg, "policy.noise_scheduler")
    noise = _noise_config(sched)
    steps = num_inference_steps
    if steps is None:
        original_steps = int(
            _get(cfg, "policy.num_inference_steps", noise.num_train_timesteps) or noise.num_train_timesteps
        )
        is_ddim = sched.get("_target_") == SCHEDULERS[1]
        _require(
            is_ddim or original_steps == noise.num_train_timesteps,
            f"DDPMScheduler with num_inference_steps={original_steps} < {noise.num_train_timesteps} is not "
            "supported as the stored sampler; pass --num-inference-steps N to store DDIM-N",
        )
        steps = original_steps if is_ddim else None
    original_model = _strip(state, "model.")
    if target == LOWDIM_UNET_POLICY or image is not None:
        _require(
            image is not None
            or int(model_cfg["global_cond_dim"]) == spec.n_obs_steps * sum(k.shape[0] for k in spec.obs),
            f"global_cond_dim {model_cfg.get('global_cond_dim')} != n_obs_steps x obs_dim",
        )
        unet = UNetConfig(  # the image policies' defaults: kernel 5, FiLM scale (their __init__ signatures)
            down_dims=tuple(model_cfg.get("down_dims", (256, 512, 1024))),
            kernel_size=int(model_cfg.get("kernel_size", 3 if image is None else 5)),
            n_groups=int(model_cfg.get("n_groups", 8)),
            diffusion_step_embed_dim=int(model_cfg.get("diffusion_step_embed_dim", 256)),
            cond_predict_scale=bool(model_cfg.get("cond_predict_scale", image is not None)),
        )
        encoder = image.encoder if image is not None else EncoderConfig()
        config = DiffusionModelConfig(
            spec=spec, denoiser="unet", unet=unet, encoder=encoder, noise=noise, num_inference_steps=steps
        )
        mapped = map_unet_weights(original_model, len(unet.down_dims), unet.diffusion_step_embed_dim)
        if image is not None:
            mapped["film_obs.weight"] = mapped["film_obs.weight"][:, film_obs_permutation(image, spec.n_obs_steps)]
    else:
        _require(
            int(model_cfg.get("n_obs_steps") or spec.n_obs_steps) == spec.n_obs_steps,
            "TransformerForDiffusion n_obs_steps differs from the policy's",
        )
        n_cond_layers = int(model_cfg.get("n_cond_layers", 0))
        transformer = TransformerConfig(
            n_layer=int(model_cfg.get("n_layer", 12)),
            n_head=int(model_cfg.get("n_head", 12)),
            n_emb=int(model_cfg.get("n_emb", 768)),
            p_drop_emb=float(model_cfg.get("p_drop_emb", 0.1)),
            p_drop_attn=float(model_cfg.get("p_drop_attn", 0.1)),
            causal_attn=bool(model_cfg.get("causal_attn", False)),
            n_cond_layers=n_cond_layers,
            causal_cond_encoder=False,
        )  # the original's encoder is bidirectional
        config = DiffusionModelConfig(
            spec=spec, denoiser="transformer", transformer=transformer, noise=noise, num_inference_steps=steps
        )
        mapped = map_transformer_weights(original_model)
    model = DiffusionModel(config)
    try:
        model.denoiser.load_state_dict(mapped, strict=True)
    except RuntimeError as error:
        raise UnsupportedOriginalCheckpoint(f"original weights do not map onto dp_core's denoiser: {error}") from error
    if image is not None:
        try:
            model.encoder.load_state_dict(image.encoder_state, strict=True)
        except RuntimeError as error:
            raise UnsupportedOriginalCheckpoint(f"original encoder weights do not map: {error}") from error
        for key in spec.obs:
            model.normalizer.stats[key.name] = (
                _image_stats(state, key.name) if key.kind == "rgb" else _normalizer_stats(state, key.name)
            )
    for name, start, stop in obs_keys:
        model.normalizer.stats[name] = _normalizer_stats(state, "obs", start, stop)
    model.normalizer.stats[ACTION_KEY] = _normalizer_stats(state, "action")
    from dp_core.training.config import to_dict  # local: training.config imports this package

    tree = {"policy": to_dict(config), "data": data, "train": _train_section(cfg)}
    step = _get(payload, "pickles.global_step", 0)
    return ImportedPolicy(
        model=model, config_tree=tree, global_step=step if isinstance(step, int) else 0, weights=weights
    )
