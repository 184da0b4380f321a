"""dp-dataset-viz on a dataset dp-convert made from real bags (and on the original Push-T zarr):
one video frame per step, the episode's camera image on top, a cursor that walks the curves."""

from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from dp_core.data.episode_video import IMAGE_HEIGHT
from dp_core.data.replay_buffer import ReplayBuffer
from dp_core.data.viz_cli import main as viz_main
from dp_recorder.convert import convert_bags
from dp_recorder.convert_config import config_from_dict
from dp_recorder.synthetic import CONVERT_CONFIG, StreamRates, write_synthetic_bag

CONFIG = CONVERT_CONFIG
PUSHT = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "pusht" / "pusht_cchi_v7_replay.zarr"


def _dataset(tmp_path: Path) -> Path:
    bags = []
    for i, duration in enumerate((1.5, 2.5)):
        write_synthetic_bag(tmp_path / f"ep{i}", 5_000_000_000, duration, StreamRates(), seed=i)
        bags.append(tmp_path / f"ep{i}")
    convert_bags(bags, config_from_dict(CONFIG), tmp_path / "ds.zarr")
    return tmp_path / "ds.zarr"


def _cursor_x(frame: np.ndarray, top: int) -> float:
    """Mean column of the red cursor pixels below the camera row."""
    plot = frame[top:].astype(int)
    red = (plot[..., 0] > 170) & (plot[..., 1] < 90) & (plot[..., 2] < 90)
    cols = np.nonzero(red.sum(axis=0) > 20)[0]  # a vertical line, not a red curve
    assert len(cols), "no cursor found"
    return float(cols.mean())


def test_mp4_and_gif_of_an_episode(tmp_path, capsys):
    dataset = _dataset(tmp_path)
    episode = ReplayBuffer.open(dataset).get_episode(1)
    n = len(episode["action"])
    assert viz_main([str(dataset), "--episode", "1", "--out", str(tmp_path / "ep1.mp4")]) == 0
    assert f"{n} frame(s) at 10 fps" in capsys.readouterr().out
    with av.open(str(tmp_path / "ep1.mp4")) as container:
        stream = container.streams.video[0]
        assert stream.average_rate == 10
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == n
    height, width = frames[0].shape[:2]
    scale = IMAGE_HEIGHT // 24
    assert height > 24 * scale and width >= 32 * scale
    left = (width - 32 * scale) // 2
    camera = frames[0][: 24 * scale, left : left + 32 * scale].astype(int)
    want = episode["top_image"][0].repeat(scale, axis=0).repeat(scale, axis=1).astype(int)
    assert np.abs(camera - want).mean() < 8, "the camera row shows the episode's first image"
    xs = [_cursor_x(f, 24 * scale) for f in (frames[0], frames[n // 2], frames[-1])]
    assert xs[0] < xs[1] < xs[2], f"the cursor walks along the steps, got x = {xs}"

    assert viz_main([str(dataset), "--episode", "-1", "--out", str(tmp_path / "ep1.gif")]) == 0
    gif = Image.open(tmp_path / "ep1.gif")
    assert gif.n_frames == n and gif.size == (width, height) and gif.info["duration"] == 100

    assert viz_main([str(dataset), "--episode", "2", "--out", str(tmp_path / "x.mp4")]) == 2
    assert "out of range" in capsys.readouterr().err
    assert viz_main([str(dataset), "--out", str(tmp_path / "x.avi")]) == 2
    assert not (tmp_path / "x.mp4").exists() and not (tmp_path / "x.avi").exists()


@pytest.mark.skipif(not PUSHT.exists(), reason=f"original Push-T zarr not found at {PUSHT}")
def test_png_of_an_original_pusht_episode(tmp_path):
    """Float [0, 255] images and state/keypoint arrays of the original dataset (no timestamp key)."""
    assert viz_main([str(PUSHT), "--episode", "3", "--out", str(tmp_path / "p.png")]) == 0
    picture = np.asarray(Image.open(tmp_path / "p.png"))
    assert picture.shape[0] > IMAGE_HEIGHT and picture.dtype == np.uint8
    assert picture[:IMAGE_HEIGHT].std() > 10, "the camera row is not blank"
