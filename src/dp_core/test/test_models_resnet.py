"""ResNet-18: torchvision state-dict compatibility (names, shapes, loading), GroupNorm variant."""

import logging
from pathlib import Path

import pytest
import torch

from dp_core.models.resnet import ResNet18, feature_map_size, load_torchvision_state_dict

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tv_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, torch.Tensor]]:
    """A torchvision-style resnet18 .pth file (BatchNorm model with fc, non-trivial BN stats)."""
    tmp_path = tmp_path_factory.mktemp("resnet")
    torch.manual_seed(0)
    model = ResNet18(norm="batch", num_classes=1000)
    state = model.state_dict()
    for key, value in state.items():
        if value.is_floating_point():
            state[key] = torch.randn_like(value).abs() if key.endswith("running_var") else torch.randn_like(value)
    path = tmp_path / "resnet18.pth"
    torch.save(state, path)
    return path, state


def test_state_dict_matches_torchvision_resnet18_layout() -> None:
    state = ResNet18(norm="batch", num_classes=1000).state_dict()
    # Known facts of torchvision.models.resnet18: 20 convs, 20 BatchNorms (5 entries each), fc;
    # 11,689,512 parameters.
    assert len(state) == 20 + 20 * 5 + 2 == 122
    assert (
        sum(
            v.numel()
            for k, v in state.items()
            if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))
        )
        == 11_689_512
    )
    expected_shapes = {
        "conv1.weight": (64, 3, 7, 7),
        "bn1.running_mean": (64,),
        "layer1.0.conv1.weight": (64, 64, 3, 3),
        "layer1.1.bn2.weight": (64,),
        "layer2.0.conv1.weight": (128, 64, 3, 3),
        "layer2.0.downsample.0.weight": (128, 64, 1, 1),
        "layer2.0.downsample.1.running_var": (128,),
        "layer3.0.downsample.0.weight": (256, 128, 1, 1),
        "layer4.1.conv2.weight": (512, 512, 3, 3),
        "layer4.1.bn2.num_batches_tracked": (),
        "fc.weight": (1000, 512),
        "fc.bias": (1000,),
    }
    for key, shape in expected_shapes.items():
        assert tuple(state[key].shape) == shape, key
    assert "layer1.0.downsample.0.weight" not in state


def test_forward_shapes() -> None:
    images = torch.randn(1, 3, 84, 84)
    assert ResNet18(norm="group")(images).shape == (1, 512, 3, 3)
    assert feature_map_size(84, 84) == (3, 3) and feature_map_size(96, 64) == (3, 2)
    assert ResNet18(norm="batch", num_classes=10).eval()(images).shape == (1, 10)


def test_load_into_batchnorm_model_with_head(tv_file: tuple[Path, dict[str, torch.Tensor]]) -> None:
    path, state = tv_file
    model = ResNet18(norm="batch", num_classes=1000)
    load_torchvision_state_dict(model, path)
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_load_into_groupnorm_trunk_skips_stats_and_fc(
    tv_file: tuple[Path, dict[str, torch.Tensor]], caplog: pytest.LogCaptureFixture
) -> None:
    path, state = tv_file
    model = ResNet18(norm="group")
    assert isinstance(model.layer2[0].downsample[1], torch.nn.GroupNorm)
    assert model.layer2[0].downsample[1].num_groups == 8
    with caplog.at_level(logging.INFO, logger="dp_core.models.resnet"):
        load_torchvision_state_dict(model, path)
    loaded = model.state_dict()
    stats = ("running_mean", "running_var", "num_batches_tracked")
    assert set(loaded) == {k for k in state if not k.startswith("fc.") and not k.endswith(stats)}
    for key, value in loaded.items():
        assert torch.equal(value, state[key]), key
    records = [r for r in caplog.records if r.name == "dp_core.models.resnet"]
    assert len(records) == 1 and "skipped 62" in records[0].getMessage()  # 20 BN x 3 stats + fc.weight/bias


def test_wrong_shape_names_the_key(tv_file: tuple[Path, dict[str, torch.Tensor]], tmp_path: Path) -> None:
    state = dict(tv_file[1])
    state["layer3.0.conv1.weight"] = torch.zeros(256, 128, 5, 5)
    with pytest.raises(ValueError, match=r"'layer3.0.conv1.weight' has shape \(256, 128, 5, 5\)"):
        load_torchvision_state_dict(ResNet18(norm="group"), state)
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    with pytest.raises(ValueError, match="layer3.0.conv1.weight"):
        load_torchvision_state_dict(ResNet18(norm="batch"), path)


def test_unexpected_missing_and_absent_files_fail(
    tv_file: tuple[Path, dict[str, torch.Tensor]], tmp_path: Path
) -> None:
    state = dict(tv_file[1])
    model = ResNet18()
    with pytest.raises(ValueError, match="unexpected key 'layer5.weight'"):
        load_torchvision_state_dict(model, {**state, "layer5.weight": torch.zeros(1)})
    del state["layer1.0.conv2.weight"]
    with pytest.raises(ValueError, match=r"missing 1 keys, e.g. \['layer1.0.conv2.weight'\]"):
        load_torchvision_state_dict(model, state)
    with pytest.raises(ValueError, match="not found"):
        load_torchvision_state_dict(model, tmp_path / "nope.pth")


def test_invalid_norm() -> None:
    with pytest.raises(ValueError, match="norm must be"):
        ResNet18(norm="layer")  # type: ignore[arg-type]
