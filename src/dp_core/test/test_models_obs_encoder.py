"""ObservationEncoder and spatial softmax: shapes, crops, low-dim concat, gradients, validation."""

import copy
from pathlib import Path

import pytest
import torch

from dp_core.models.obs_encoder import EncoderConfig, ObservationEncoder, center_crop, random_crop
from dp_core.models.resnet import ResNet18
from dp_core.models.spatial_softmax import SpatialSoftmax
from dp_core.spec import ObsKeySpec, PolicySpec

torch.set_num_threads(1)
SMALL = EncoderConfig(crop_shape=(40, 40), num_keypoints=8, feature_dim_per_camera=16)


def two_camera_spec(size: int = 48) -> PolicySpec:
    return PolicySpec(
        obs=(
            ObsKeySpec("agent_pos", "low_dim", (2,)),
            ObsKeySpec("front", "rgb", (3, size, size)),
            ObsKeySpec("wrist", "rgb", (3, size, size)),
            ObsKeySpec("gripper", "low_dim", (1,)),
        ),
        action_dim=2,
        n_obs_steps=2,
    )


@pytest.fixture(scope="module")
def built() -> ObservationEncoder:
    """Built once (two ResNet-18 initialisations are the slow part); tests use ``fresh`` copies."""
    torch.manual_seed(0)
    return ObservationEncoder(two_camera_spec(), SMALL)


@pytest.fixture
def encoder(built: ObservationEncoder) -> ObservationEncoder:
    return copy.deepcopy(built)


def make_obs(spec: PolicySpec, batch: int = 1, seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    obs = {}
    for key in spec.obs:
        shape = (batch, spec.n_obs_steps, *key.shape)
        values = torch.rand(shape, generator=gen) * 2 - 1 if key.kind == "rgb" else torch.randn(shape, generator=gen)
        obs[key.name] = values
    return obs


def test_spatial_softmax_finds_the_peak() -> None:
    layer = SpatialSoftmax(in_channels=1, height=5, width=7, num_keypoints=1)
    with torch.no_grad():
        layer.keypoint_conv.weight.fill_(1.0)
        layer.keypoint_conv.bias.zero_()
    features = torch.zeros(2, 1, 5, 7)
    features[0, 0, 0, 6] = 50.0  # top right -> x=1, y=-1
    features[1, 0, 2, 3] = 50.0  # centre -> 0, 0
    keypoints = layer(features)
    assert keypoints.shape == (2, 1, 2)
    assert torch.allclose(keypoints[0, 0], torch.tensor([1.0, -1.0]), atol=1e-4)
    assert torch.allclose(keypoints[1, 0], torch.tensor([0.0, 0.0]), atol=1e-4)
    uniform = layer(torch.zeros(1, 1, 5, 7))
    assert torch.allclose(uniform, torch.zeros(1, 1, 2), atol=1e-6)
    with pytest.raises(ValueError, match="built for 5x7"):
        layer(torch.zeros(1, 1, 4, 7))


def test_random_crop_takes_in_bounds_windows_per_image() -> None:
    torch.manual_seed(0)
    n, height, width = 64, 10, 12
    position = (torch.arange(height)[:, None] * 100 + torch.arange(width)[None, :]).float()
    images = position.expand(n, 3, height, width).clone()
    images[:, 1] += 1000  # channels must stay with their pixels
    crops = random_crop(images, 4, 5)
    assert crops.shape == (n, 3, 4, 5)
    tops, lefts = crops[:, 0, 0, 0] // 100, crops[:, 0, 0, 0] % 100
    # the original's CropRandomizer range: corners in [0, H - h) x [0, W - w)
    assert tops.min() >= 0 and tops.max() == height - 4 - 1 and lefts.min() >= 0 and lefts.max() == width - 5 - 1
    for i in range(n):
        t, left = int(tops[i]), int(lefts[i])
        assert torch.equal(crops[i], images[i, :, t : t + 4, left : left + 5])
    assert len(set(zip(tops.tolist(), lefts.tolist(), strict=True))) > 10  # independent offsets per image
    centre = center_crop(images, 4, 5)
    assert torch.equal(centre, images[:, :, 3:7, 3:8])


def test_output_layout_images_first_then_low_dim(encoder: ObservationEncoder) -> None:
    spec = encoder.spec
    encoder.eval()
    assert encoder.feature_dim == 2 * 16 + 2 + 1
    obs = make_obs(spec, batch=2)
    features = encoder(obs)
    assert features.shape == (2, 2, 35)
    assert torch.equal(features[..., 32:34], obs["agent_pos"])
    assert torch.equal(features[..., 34:], obs["gripper"])
    # frames are encoded independently: changing frame 0 of camera 'wrist' only moves its slice
    changed = dict(obs, wrist=obs["wrist"].clone())
    changed["wrist"][:, 0] = -changed["wrist"][:, 0]
    diff = (encoder(changed) - features).abs()
    assert diff[:, 0, 16:32].max() > 0 and diff[:, 1].max() == 0 and diff[..., :16].max() == 0


def test_eval_center_crop_is_deterministic_train_crop_is_random(encoder: ObservationEncoder) -> None:
    spec = encoder.spec
    obs = make_obs(spec)
    encoder.eval()
    first = encoder(obs)
    assert torch.equal(first, encoder(obs))
    encoder.train()
    torch.manual_seed(1)
    a = encoder(obs)
    torch.manual_seed(1)
    assert torch.equal(a, encoder(obs))  # seeded crops repeat
    assert not torch.equal(a, encoder(obs))
    # without cropping (image == crop size) train and eval agree (GroupNorm has no batch stats)
    encoder.crops = {k: (48, 48) for k in encoder.crops}
    assert torch.equal(encoder.train()(obs), encoder.eval()(obs))


def test_gradients_reach_every_parameter(encoder: ObservationEncoder) -> None:
    encoder.train()
    encoder(make_obs(encoder.spec)).square().mean().backward()
    missing = [n for n, p in encoder.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert not missing
    assert isinstance(encoder.trunks[0].bn1, torch.nn.GroupNorm)


def test_shared_trunk_uses_one_trunk(encoder: ObservationEncoder) -> None:
    torch.manual_seed(0)
    spec = two_camera_spec()
    config = EncoderConfig(crop_shape=(40, 40), num_keypoints=8, feature_dim_per_camera=16, share_trunk=True)
    shared = ObservationEncoder(spec, config).eval()
    separate = encoder
    assert len(shared.trunks) == 1 and len(separate.trunks) == 2
    trunk_params = sum(p.numel() for p in separate.trunks[0].parameters())
    n_shared = sum(p.numel() for p in shared.parameters())
    assert sum(p.numel() for p in separate.parameters()) - n_shared == trunk_params
    obs = make_obs(spec)
    features = shared(obs)
    # the batched shared path equals running each camera through the trunk on its own
    wrist = shared.heads[1](shared.trunks[0](center_crop(obs["wrist"].flatten(0, 1), 40, 40))).unflatten(0, (1, 2))
    assert torch.allclose(features[..., 16:32], wrist, atol=1e-5)


def test_low_dim_only_spec_has_no_trunk() -> None:
    spec = PolicySpec(obs=(ObsKeySpec("a", "low_dim", (3,)), ObsKeySpec("b", "low_dim", (2,))), action_dim=2)
    encoder = ObservationEncoder(spec)
    assert encoder.feature_dim == 5 and len(encoder.trunks) == 0
    assert sum(p.numel() for p in encoder.parameters()) == 0
    obs = make_obs(spec)
    assert torch.equal(encoder(obs), torch.cat((obs["a"], obs["b"]), dim=-1))


def test_pretrained_weights_are_loaded_into_each_trunk(tmp_path: Path) -> None:
    torch.manual_seed(0)
    source = ResNet18(norm="batch", num_classes=1000)
    path = tmp_path / "resnet18.pth"
    torch.save(source.state_dict(), path)
    config = EncoderConfig(crop_shape=(40, 40), num_keypoints=8, feature_dim_per_camera=16, pretrained_path=str(path))
    encoder = ObservationEncoder(two_camera_spec(), config)
    for trunk in encoder.trunks:
        assert torch.equal(trunk.layer3[0].conv1.weight, source.layer3[0].conv1.weight)
        assert torch.equal(trunk.bn1.weight, source.bn1.weight)


def test_bfloat16_encoder_close_to_float32(encoder: ObservationEncoder) -> None:
    encoder.eval()
    obs = make_obs(encoder.spec)
    with torch.inference_mode():
        expected = encoder(obs)
        out = encoder.to(torch.bfloat16)(obs)  # float32 inputs are cast to the weights' dtype
    assert out.dtype == torch.bfloat16
    assert (out.float() - expected).norm() / expected.norm() < 3e-2


def test_bad_inputs_raise_clear_errors(encoder: ObservationEncoder) -> None:
    spec = two_camera_spec()
    with pytest.raises(ValueError, match="at least 2x2"):
        ObservationEncoder(spec, EncoderConfig(crop_shape=(32, 40)))
    with pytest.raises(ValueError, match="larger than image 'front'"):
        ObservationEncoder(spec, EncoderConfig(crop_shape=(50, 40)))
    obs = make_obs(spec)
    with pytest.raises(ValueError, match=r"missing keys \['gripper'\]"):
        encoder({k: v for k, v in obs.items() if k != "gripper"})
    with pytest.raises(ValueError, match=r"'front' must have shape \(B, T, 3, 48, 48\)"):
        encoder(dict(obs, front=obs["front"][..., :30]))
    with pytest.raises(ValueError, match="same B, T"):
        encoder(dict(obs, gripper=obs["gripper"][:, :1]))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"crop_shape": (0, 10)}, "crop_shape"),
        ({"crop_shape": (10,)}, "crop_shape"),
        ({"num_keypoints": 0}, "num_keypoints"),
        ({"feature_dim_per_camera": 0}, "feature_dim_per_camera"),
        ({"norm": "layer"}, "norm"),
    ],
)
def test_config_validation(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EncoderConfig(**kwargs)


def test_original_encoder_options() -> None:
    """pooling avg (512 per camera), ReLU features, ImageNet normalization, center crop in training."""
    spec = PolicySpec(obs=(ObsKeySpec("cam", "rgb", (3, 44, 44)), ObsKeySpec("pos", "low_dim", (2,))), action_dim=2)
    with pytest.raises(ValueError, match="feature_dim_per_camera: 512"):
        EncoderConfig(pooling="avg")
    with pytest.raises(ValueError, match="feature_activation"):
        EncoderConfig(feature_activation="gelu")  # type: ignore[arg-type]
    torch.manual_seed(0)
    config = EncoderConfig(
        crop_shape=(40, 40),
        feature_dim_per_camera=512,
        pooling="avg",
        feature_activation="relu",
        imagenet_norm=True,
        random_crop=False,
    )
    encoder = ObservationEncoder(spec, config)
    assert encoder.feature_dim == 514 and not list(encoder.heads.parameters())
    assert set(encoder.state_dict()) == {f"trunks.0.{k}" for k in encoder.trunks[0].state_dict()}
    obs = make_obs(spec, batch=2)
    features = encoder.train()(obs)
    assert torch.equal(features, encoder.eval()(obs))  # random_crop: false -> center crop in training too
    assert features[..., :512].min() >= 0
    image = center_crop(obs["cam"].flatten(0, 1), 40, 40)
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    trunk_input = (image - mean[:, None, None]) / std[:, None, None]
    expected = torch.relu(encoder.trunks[0](trunk_input).mean((-2, -1)))
    assert torch.allclose(features[..., :512].flatten(0, 1), expected, atol=1e-5)
