"""Run config: shipped YAML files load, overrides apply, bad keys and values are named."""

from pathlib import Path

import pytest
import yaml

from dp_core.training.config import Config, TrainConfig, config_from_tree, load_config, to_dict

REPO = Path(__file__).resolve().parents[3]
CONFIGS = REPO / "config" / "train"


@pytest.mark.parametrize("name", ["pusht_lowdim.yaml", "pusht_lowdim_cpu.yaml", "pusht_image.yaml"])
def test_shipped_configs_load_with_paths_relative_to_the_file(name: str) -> None:
    config = load_config(CONFIGS / name)
    assert Path(config.data.path) == (REPO.parent / "shared/data/pusht/pusht_cchi_v7_replay.zarr").resolve()
    assert config.train.output_dir == (REPO / "outputs" / name.removesuffix(".yaml")).resolve()
    assert config.policy.spec.horizon == 16 and config.policy.spec.n_obs_steps == 2


def test_lowdim_config_is_the_papers_architecture() -> None:
    config = load_config(CONFIGS / "pusht_lowdim.yaml")
    assert config.policy.unet.down_dims == (256, 512, 1024)
    assert sum(k.shape[0] for k in config.policy.spec.obs) == 20
    assert config.data.obs_sources["agent_pos"].columns == (0, 2)


def test_overrides_are_parsed_as_yaml_and_paths_resolve_against_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(
        CONFIGS / "pusht_lowdim.yaml",
        [
            "train.batch_size=64",
            "policy.num_inference_steps=8",
            "policy.unet.down_dims=[32, 64]",
            "train.betas=[0.9, 0.99]",
            "train.output_dir=runs/a",
            "policy.num_inference_steps=null",
        ],
    )
    assert config.train.batch_size == 64
    assert config.policy.num_inference_steps is None
    assert config.policy.unet.down_dims == (32, 64)
    assert config.train.betas == (0.9, 0.99)
    assert config.train.output_dir == tmp_path / "runs" / "a"


def test_unknown_keys_are_named_with_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown config key 'train.batch'.*batch_size"):
        load_config(CONFIGS / "pusht_lowdim.yaml", ["train.batch=3"])
    with pytest.raises(ValueError, match=r"unknown config key 'policy.unet.depth'.*down_dims"):
        load_config(CONFIGS / "pusht_lowdim.yaml", ["policy.unet.depth=3"])
    with pytest.raises(ValueError, match="section.key=value"):
        load_config(CONFIGS / "pusht_lowdim.yaml", ["train.batch_size"])


def test_bad_values_raise_naming_the_key() -> None:
    with pytest.raises(ValueError, match="train.batch_size must be >= 1"):
        load_config(CONFIGS / "pusht_lowdim.yaml", ["train.batch_size=0"])
    with pytest.raises(ValueError, match="'train.lr' must be a number"):
        load_config(CONFIGS / "pusht_lowdim.yaml", ["train.lr=fast"])
    with pytest.raises(ValueError, match="divisible"):
        load_config(CONFIGS / "pusht_lowdim.yaml", ["policy.spec.horizon=10"])
    with pytest.raises(ValueError, match="num_epochs or train.max_steps"):
        TrainConfig(num_epochs=None, max_steps=None)
    with pytest.raises(FileNotFoundError):
        load_config(CONFIGS / "missing.yaml")


def test_resolved_config_round_trips_through_yaml() -> None:
    config = load_config(CONFIGS / "pusht_image.yaml")
    tree = yaml.safe_load(yaml.safe_dump(to_dict(config)))
    again = config_from_tree(tree)
    assert isinstance(again, Config)
    assert again == config
