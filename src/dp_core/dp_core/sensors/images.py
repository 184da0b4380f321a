"""Camera frames to the policy's input: decode to RGB uint8 (H, W, 3), crop and resize.

Used by the observation node (live) and the bag converter (offline) so a frame yields the same
pixels in both. No cv_bridge: raw sensor_msgs/Image fields (height, width, step, encoding,
data) and sensor_msgs/CompressedImage fields (format, data) are passed in as plain values.

Depth (16UC1, millimetres as RealSense publishes it) is mapped linearly to 8 bit:
0 mm -> 0, ``depth_max_mm`` and beyond -> 255 (0 = "no reading" stays black), then replicated
to 3 channels (default, so a depth camera can feed an "rgb" key) or kept as (H, W, 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import cv2
import numpy as np

# bytes per pixel and channels of each supported raw encoding
_RAW_LAYOUT: dict[str, tuple[np.dtype, int]] = {
    "rgb8": (np.dtype(np.uint8), 3),
    "bgr8": (np.dtype(np.uint8), 3),
    "rgba8": (np.dtype(np.uint8), 4),
    "bgra8": (np.dtype(np.uint8), 4),
    "mono8": (np.dtype(np.uint8), 1),
    "8uc1": (np.dtype(np.uint8), 1),
    "16uc1": (np.dtype(np.uint16), 1),
    "mono16": (np.dtype(np.uint16), 1),
}
SUPPORTED_ENCODINGS = tuple(_RAW_LAYOUT)
_JPEG_MAGIC = b"\xff\xd8"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_COMPRESSED_DEPTH_HEADER = 12  # image_transport compressedDepth: int32 format + float32[2] before the PNG


class ImageDecodeError(ValueError):
    """A frame cannot be decoded; the message says what is wrong with it."""


@dataclass(frozen=True)
class DecodeConfig:
    """How non-colour frames become 8-bit.

    Attributes:
        depth_max_mm: depth mapped to 255 (and clipped beyond), in millimetres.
        depth_channels: 3 replicates depth/mono16 to RGB; 1 keeps (H, W, 1).
    """

    depth_max_mm: float = 2000.0
    depth_channels: Literal[1, 3] = 3

    def __post_init__(self) -> None:
        if not (np.isfinite(self.depth_max_mm) and self.depth_max_mm > 0):
            raise ValueError(f"depth_max_mm must be a finite number > 0, got {self.depth_max_mm}")
        if self.depth_channels not in (1, 3):
            raise ValueError(f"depth_channels must be 1 or 3, got {self.depth_channels}")


def depth_to_uint8(depth_mm: np.ndarray, config: DecodeConfig) -> np.ndarray:
    """(H, W) uint16 millimetres -> (H, W, C) uint8 with C = ``config.depth_channels``."""
    scaled = np.clip(depth_mm.astype(np.float32) * (255.0 / config.depth_max_mm), 0, 255)
    out = np.rint(scaled).astype(np.uint8)[:, :, None]
    return np.repeat(out, 3, axis=2) if config.depth_channels == 3 else out


def decode_raw(
    encoding: str,
    height: int,
    width: int,
    step: int,
    data: bytes | bytearray | memoryview | np.ndarray | Sequence[int],
    *,
    is_bigendian: bool = False,
    config: DecodeConfig = DecodeConfig(),
) -> np.ndarray:
    """Decode a raw sensor_msgs/Image payload to RGB uint8 (H, W, 3) (or (H, W, 1), see module doc).

    ``step`` is the row length in bytes and may include padding beyond ``width * bytes_per_pixel``.
    """
    key = encoding.strip().lower()
    if key not in _RAW_LAYOUT:
        raise ImageDecodeError(
            f"unsupported image encoding '{encoding}'; supported: {', '.join(SUPPORTED_ENCODINGS)} "
            "(or publish sensor_msgs/CompressedImage jpeg/png)"
        )
    dtype, channels = _RAW_LAYOUT[key]
    if height < 1 or width < 1:
        raise ImageDecodeError(f"image size must be positive, got height={height} width={width}")
    row_bytes = width * channels * dtype.itemsize
    if step < row_bytes:
        raise ImageDecodeError(
            f"step {step} is shorter than one row ({width} px x {channels * dtype.itemsize} B = {row_bytes} B)"
        )
    buf = _as_bytes(data)
    if buf.size < step * height:
        raise ImageDecodeError(
            f"{encoding} image {width}x{height} with step {step} needs {step * height} bytes, got {buf.size}"
        )
    rows = buf[: step * height].reshape(height, step)[:, :row_bytes]
    pixels = np.ascontiguousarray(rows).view(
        dtype.newbyteorder(">" if is_bigendian else "<") if dtype.itemsize > 1 else dtype
    )
    pixels = pixels.reshape(height, width, channels)
    if dtype.itemsize > 1:
        return depth_to_uint8(pixels[:, :, 0].astype(np.uint16), config)
    return _to_rgb(pixels, bgr_order=key.startswith("bgr"))


def _as_bytes(data: bytes | bytearray | memoryview | np.ndarray | Sequence[int]) -> np.ndarray:
    """Message data (bytes, array.array('B'), uint8 array or list of ints) as a flat uint8 array, no copy if possible."""
    if isinstance(data, np.ndarray):
        if data.dtype != np.uint8:
            raise ImageDecodeError(f"image data must be bytes/uint8, got an array of {data.dtype}")
        return data.reshape(-1)
    try:
        return np.frombuffer(bytes(data), dtype=np.uint8)
    except TypeError:
        return np.asarray(data, dtype=np.uint8).reshape(-1)


def _to_rgb(pixels: np.ndarray, *, bgr_order: bool) -> np.ndarray:
    """(H, W, C) uint8 with C in {1, 3, 4} -> (H, W, 3) RGB (mono replicated, alpha dropped)."""
    channels = pixels.shape[2]
    if channels == 1:
        return np.ascontiguousarray(np.repeat(pixels, 3, axis=2))
    colour = pixels[:, :, :3]
    if bgr_order:
        colour = colour[:, :, ::-1]
    return np.ascontiguousarray(colour)


def decode_compressed(
    format: str,
    data: bytes | bytearray | memoryview | np.ndarray | Sequence[int],
    *,
    config: DecodeConfig = DecodeConfig(),
) -> np.ndarray:
    """Decode a sensor_msgs/CompressedImage (jpeg or png) to RGB uint8 (H, W, 3).

    ``format`` is "jpeg", "png", or image_transport's "rgb8; jpeg compressed bgr8" style. The
    compressed_image_transport plugin encodes colour as BGR, and OpenCV decodes to BGR, so the
    result is always reordered BGR -> RGB. "16UC1; compressedDepth png" (a 12-byte header, then
    a 16-bit PNG) is decoded as depth.
    """
    buf = _as_bytes(data)
    fmt = format.lower()
    if "compresseddepth" in fmt and buf[:8].tobytes() != _PNG_MAGIC:
        buf = buf[_COMPRESSED_DEPTH_HEADER:]
    head = buf[:8].tobytes()
    if not (head.startswith(_JPEG_MAGIC) or head == _PNG_MAGIC):
        known = any(word in fmt for word in ("jpeg", "jpg", "png")) or not fmt.strip()
        what = (
            "data is neither JPEG nor PNG (corrupt or truncated)"
            if known
            else f"unsupported compressed format '{format}'"
        )
        raise ImageDecodeError(f"cannot decode compressed image: {what}; expected jpeg or png")
    decoded = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    if decoded is None or decoded.size == 0:
        raise ImageDecodeError(
            f"cannot decode compressed image ({format!r}, {buf.size} bytes): corrupt or truncated data"
        )
    if decoded.ndim == 2:
        decoded = decoded[:, :, None]
    if decoded.dtype == np.uint16:
        if decoded.shape[2] == 1:
            return depth_to_uint8(decoded[:, :, 0], config)
        decoded = (decoded.astype(np.uint16) >> 8).astype(np.uint8)  # 16-bit colour PNG: keep the high byte
    if decoded.dtype != np.uint8:
        raise ImageDecodeError(f"compressed image decoded to unsupported pixel type {decoded.dtype}")
    return _to_rgb(decoded, bgr_order=True)


@dataclass(frozen=True)
class ImageTransform:
    """Bring a decoded frame to the policy's (out_h, out_w).

    Attributes:
        out_h, out_w: output size in pixels.
        crop: "center" crops the largest centred region with the output aspect ratio first (no
            distortion); "none" resizes the whole frame (aspect may change).
    """

    out_h: int
    out_w: int
    crop: Literal["center", "none"] = "center"

    def __post_init__(self) -> None:
        if not (isinstance(self.out_h, int) and isinstance(self.out_w, int) and self.out_h >= 1 and self.out_w >= 1):
            raise ValueError(f"output size must be positive ints, got out_h={self.out_h!r} out_w={self.out_w!r}")
        if self.crop not in ("center", "none"):
            raise ValueError(f"crop must be 'center' or 'none', got {self.crop!r}")

    @classmethod
    def for_shape(cls, chw: Sequence[int], crop: Literal["center", "none"] = "center") -> ImageTransform:
        """From an ObsKeySpec rgb shape (3, H, W)."""
        return cls(out_h=int(chw[1]), out_w=int(chw[2]), crop=crop)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """(H, W, C) uint8 -> (out_h, out_w, C) uint8."""
        if image.ndim != 3 or image.shape[0] < 1 or image.shape[1] < 1:
            raise ImageDecodeError(f"expected an (H, W, C) image, got shape {image.shape}")
        if self.crop == "center":
            image = center_crop_to_aspect(image, self.out_h / self.out_w)
        h, w = image.shape[:2]
        if (h, w) == (self.out_h, self.out_w):
            return np.ascontiguousarray(image)
        # INTER_AREA averages source pixels when shrinking (no aliasing); it degrades to
        # nearest-like blockiness when enlarging, where bilinear is the better choice.
        interp = cv2.INTER_AREA if self.out_h <= h and self.out_w <= w else cv2.INTER_LINEAR
        out = cv2.resize(np.ascontiguousarray(image), (self.out_w, self.out_h), interpolation=interp)
        return out.reshape(self.out_h, self.out_w, image.shape[2])


def center_crop_to_aspect(image: np.ndarray, aspect_hw: float) -> np.ndarray:
    """The largest centred crop whose height/width ratio is ``aspect_hw`` (a view, no copy)."""
    h, w = image.shape[:2]
    if h / w > aspect_hw:
        new_h = max(1, round(w * aspect_hw))
        top = (h - new_h) // 2
        return image[top : top + new_h]
    new_w = max(1, round(h / aspect_hw))
    left = (w - new_w) // 2
    return image[:, left : left + new_w]


def prepare_image(image: np.ndarray, out_hw: tuple[int, int], crop: Literal["center", "none"] = "center") -> np.ndarray:
    """Centre-crop to the target aspect and resize to ``out_hw`` = (H, W)."""
    return ImageTransform(out_h=int(out_hw[0]), out_w=int(out_hw[1]), crop=crop)(image)


def decode_message(msg: Any, config: DecodeConfig = DecodeConfig()) -> np.ndarray:
    """A sensor_msgs/Image or /CompressedImage, from rclpy or from rosbags (fields read by name) → RGB uint8.

    Raw images are recognised by their ``encoding`` field, compressed ones have ``format``.
    """
    if hasattr(msg, "encoding"):
        return decode_raw(
            msg.encoding,
            int(msg.height),
            int(msg.width),
            int(msg.step),
            msg.data,
            is_bigendian=bool(msg.is_bigendian),
            config=config,
        )
    return decode_compressed(msg.format, msg.data, config=config)


def message_to_frame(msg: Any, transform: ImageTransform, config: DecodeConfig = DecodeConfig()) -> np.ndarray:
    """The one message → decode → crop/resize path: the observation node (live) and the bag
    converter (offline) both call it, so a recorded frame gives the policy the pixels it saw live."""
    return transform(decode_message(msg, config))
