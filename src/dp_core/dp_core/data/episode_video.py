"""One dataset episode as a video: the camera frames on top, the action and state curves below.

The curves are drawn once with matplotlib (Agg, no display); each video frame is that picture
with a cursor at the frame's step, under the frame's camera images (nearest-neighbour scaled
to a common height), so rendering is cheap per frame. Written as MP4 (PyAV, H.264), GIF
(imageio) or the middle frame as PNG (imageio). Pure numpy + matplotlib; no ROS.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from dp_core.data.replay_buffer import is_image_array

IMAGE_HEIGHT = 192  # camera row height in pixels (images are scaled by an integer factor to about this)
PLOT_WIDTH_IN, PLOT_PANEL_IN, DPI = 6.4, 1.6, 100
CURSOR_RGB = (220, 30, 30)
MAX_LEGEND = 8


@dataclass(frozen=True)
class EpisodeView:
    """Which keys of an episode are cameras, the action, and the state curves."""

    images: tuple[str, ...]
    action: str | None
    state: tuple[str, ...]

    @staticmethod
    def of(episode: Mapping[str, np.ndarray]) -> EpisodeView:
        images = tuple(k for k, v in episode.items() if is_image_array(v.shape))
        action = "action" if "action" in episode else None
        state = tuple(
            k for k, v in episode.items() if k not in images and k not in ("action", "timestamp") and v.ndim >= 2
        )
        if not images and action is None and not state:
            raise ValueError(f"nothing to show: no image, action or state key in {sorted(episode)}")
        return EpisodeView(images, action, state)


def to_uint8(images: np.ndarray) -> np.ndarray:
    """uint8 RGB from uint8, [0, 1] float or [0, 255] float images (the original Push-T zarr)."""
    if images.dtype == np.uint8:
        return images
    scale = 255.0 if float(np.nanmax(images)) <= 1.0 else 1.0
    return np.clip(np.nan_to_num(images.astype(np.float32) * scale), 0, 255).astype(np.uint8)


def _camera_row(frames: list[np.ndarray], width: int) -> np.ndarray:
    """Images side by side, each scaled by an integer factor to about IMAGE_HEIGHT, centred in ``width``."""
    scaled = []
    for img in frames:
        k = max(1, IMAGE_HEIGHT // img.shape[0])
        img = img.repeat(k, axis=0).repeat(k, axis=1)
        if img.shape[-1] == 1:
            img = img.repeat(3, axis=-1)
        scaled.append(img[..., :3])
    height = max(img.shape[0] for img in scaled)
    row = np.concatenate([np.pad(img, ((0, height - img.shape[0]), (0, 0), (0, 0))) for img in scaled], axis=1)
    if row.shape[1] > width:  # many cameras: shrink by striding
        step = -(-row.shape[1] // width)
        row = row[::step, ::step]
    canvas = np.full((row.shape[0], width, 3), 255, dtype=np.uint8)
    left = (width - row.shape[1]) // 2
    canvas[:, left : left + row.shape[1]] = row
    return canvas


def _curves(episode: Mapping[str, np.ndarray], view: EpisodeView) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """The plot picture, the x pixel of every step, and the plot area's (top, bottom) rows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = ([("action", [view.action])] if view.action else []) + (
        [("state", list(view.state))] if view.state else []
    )
    n = len(next(iter(episode.values())))
    figure, axes = plt.subplots(
        len(panels), 1, figsize=(PLOT_WIDTH_IN, PLOT_PANEL_IN * len(panels)), dpi=DPI, sharex=True, squeeze=False
    )
    steps = np.arange(n)
    for ax, (title, keys) in zip(axes[:, 0], panels, strict=True):
        for key in keys:
            values = np.asarray(episode[key], dtype=np.float64).reshape(n, -1)
            for d in range(values.shape[1]):
                ax.plot(steps, values[:, d], linewidth=1, label=f"{key}[{d}]")
        ax.set_ylabel(title)
        ax.set_xlim(0, max(n - 1, 1))
        ax.grid(alpha=0.3)
        if len(ax.lines) <= MAX_LEGEND:
            ax.legend(loc="upper right", fontsize=6, ncol=min(4, len(ax.lines)))
    axes[-1, 0].set_xlabel("step")
    figure.tight_layout()
    figure.canvas.draw()
    picture = np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()  # type: ignore[attr-defined]  # Agg canvas
    height = picture.shape[0]
    xs = axes[0, 0].transData.transform(np.stack([steps, np.zeros(n)], axis=1))[:, 0]
    top = height - axes[0, 0].get_window_extent().y1
    bottom = height - axes[-1, 0].get_window_extent().y0
    plt.close(figure)
    return picture, np.round(xs).astype(int), (int(top), int(bottom))


def render_episode(episode: Mapping[str, np.ndarray]) -> Iterator[np.ndarray]:
    """(H, W, 3) uint8 frames, one per step: cameras above, curves with the step's cursor below."""
    view = EpisodeView.of(episode)
    n = len(next(iter(episode.values())))
    plot, xs, (top, bottom) = _curves(episode, view) if (view.action or view.state) else (None, None, (0, 0))
    width = plot.shape[1] if plot is not None else 0
    images = {k: to_uint8(np.asarray(episode[k])) for k in view.images}
    for i in range(n):
        parts = []
        if images:
            row = _camera_row([images[k][i] for k in view.images], width or IMAGE_HEIGHT * len(images))
            parts.append(row)
        if plot is not None and xs is not None:
            frame_plot = plot.copy()
            x = int(np.clip(xs[i], 2, width - 2)) // 2 * 2  # 4 px on even columns: survives 4:2:0 chroma
            frame_plot[top:bottom, x - 2 : x + 2] = CURSOR_RGB
            parts.append(frame_plot)
        frame = np.concatenate(parts, axis=0)
        yield np.pad(frame, ((0, frame.shape[0] % 2), (0, frame.shape[1] % 2), (0, 0)), constant_values=255)


def write_video(frames: Iterator[np.ndarray], path: Path, fps: float) -> int:
    """Write ``frames`` to ``path`` (.mp4, .gif, or .png = the middle frame); returns frames written."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".mp4", ".gif", ".png"):
        raise ValueError(f"{path}: write .mp4, .gif or .png")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".png":
        import imageio.v2 as imageio

        collected = list(frames)
        imageio.imwrite(path, collected[len(collected) // 2])
        return 1
    if suffix == ".gif":
        import imageio.v2 as imageio

        collected = list(frames)
        imageio.mimsave(path, collected, duration=round(1000.0 / fps), loop=0)  # type: ignore[arg-type]  # whole ms per frame
        return len(collected)
    import av

    count = 0
    rate = Fraction(fps).limit_denominator(1000)
    with av.open(str(path), "w") as container:
        stream = None
        for frame in frames:
            if stream is None:
                stream = container.add_stream("h264", rate)
                stream.height, stream.width = frame.shape[:2]
                stream.pix_fmt = "yuv420p"
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")))
            count += 1
        if stream is not None:
            container.mux(stream.encode(None))
    return count
