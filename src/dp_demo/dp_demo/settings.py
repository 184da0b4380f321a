"""Settings of one demo run (embedded defaults; the CLI overrides them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


def _config_dir() -> Path:
    """``config/`` of the repository (source checkout), else of the current directory."""
    source = Path(__file__).resolve().parents[3] / "config"  # src/dp_demo/dp_demo -> repository root
    return source if (source / "demo").is_dir() else Path.cwd() / "config"


CONFIG_DIR = _config_dir()


@dataclass
class DemoSettings:
    """Sizes, seeds and paths. Seeds: recording uses ``seed_base + i``; evaluation uses
    ``eval_seed_base + i``, a disjoint range, so evaluation never sees a training start pose.

    Attributes:
        episodes: expert episodes to record.
        eval_episodes: policy episodes to evaluate.
        seed: seeds training and policy sampling; also offsets the episode seeds.
        episode_timeout_s: sim seconds before an episode counts as failed.
        train_overrides: extra ``key=value`` for dp-train (e.g. train.max_steps=50).
        images: train and deploy on the top camera instead of the low-dim state.
        checkpoint: skip recording and training; evaluate this checkpoint.
        output_dir: everything of the run goes here.
    """

    episodes: int = 150
    eval_episodes: int = 30
    seed: int = 0
    episode_timeout_s: float = 20.0
    train_overrides: list[str] = field(default_factory=list)
    images: bool = False
    checkpoint: Path | None = None
    output_dir: Path = Path("outputs/demo")

    def __post_init__(self) -> None:
        if self.episodes < 1 and self.checkpoint is None:
            raise ValueError(f"episodes must be >= 1 (or give a checkpoint), got {self.episodes}")
        if self.eval_episodes < 1:
            raise ValueError(f"eval_episodes must be >= 1, got {self.eval_episodes}")
        if not self.episode_timeout_s > 0:
            raise ValueError(f"episode_timeout_s must be > 0, got {self.episode_timeout_s}")
        self.output_dir = Path(self.output_dir).resolve()
        if self.checkpoint is not None:
            self.checkpoint = Path(self.checkpoint).resolve()

    @property
    def record_seeds(self) -> list[int]:
        return [100_000 + 1000 * self.seed + i for i in range(self.episodes)]

    @property
    def eval_seeds(self) -> list[int]:
        return [900_000 + 1000 * self.seed + i for i in range(self.eval_episodes)]

    @property
    def mode(self) -> str:
        return "image" if self.images else "lowdim"

    @property
    def train_config(self) -> Path:
        return CONFIG_DIR / "train" / f"sim_pusht_{self.mode}.yaml"

    @property
    def convert_config(self) -> Path:
        return CONFIG_DIR / "demo" / f"convert_{self.mode}.yaml"

    @property
    def deploy_config(self) -> Path:
        return CONFIG_DIR / "demo" / f"deploy_{self.mode}.yaml"

    @property
    def recorder_config(self) -> Path:
        return CONFIG_DIR / "demo" / ("recorder_image.yaml" if self.images else "recorder.yaml")

    bags_dir = property(lambda self: self.output_dir / "bags")
    dataset = property(lambda self: self.output_dir / "dataset.zarr")
    train_dir = property(lambda self: self.output_dir / "train")
    log_dir = property(lambda self: self.output_dir / "logs")
