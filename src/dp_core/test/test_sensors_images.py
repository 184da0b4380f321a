"""Image decoding (raw encodings, jpeg/png) and crop/resize to the policy's input size."""

import array
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from dp_core.sensors.images import (
    DecodeConfig,
    ImageDecodeError,
    ImageTransform,
    decode_compressed,
    decode_message,
    decode_raw,
    message_to_frame,
    prepare_image,
)

RED_RGB = (200, 10, 30)


def rgb_test_image(h: int = 6, w: int = 8) -> np.ndarray:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    img[0, 0] = RED_RGB
    return img


def padded(pixels: np.ndarray, pad: int) -> tuple[int, bytes]:
    """Row-major bytes with ``pad`` junk bytes after each row, as a driver with aligned rows sends."""
    h = pixels.shape[0]
    rows = pixels.reshape(h, -1).view(np.uint8)
    junk = np.full((h, pad), 0xAB, dtype=np.uint8)
    data = np.concatenate([rows, junk], axis=1)
    return data.shape[1], data.tobytes()


@pytest.mark.parametrize("pad", [0, 5])
def test_rgb8_bgr8_rgba8_bgra8_give_the_same_rgb(pad):
    rgb = rgb_test_image()
    variants = {
        "rgb8": rgb,
        "bgr8": rgb[:, :, ::-1],
        "rgba8": np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 7, np.uint8)], axis=2),
        "bgra8": np.concatenate([rgb[:, :, ::-1], np.full(rgb.shape[:2] + (1,), 7, np.uint8)], axis=2),
    }
    for encoding, pixels in variants.items():
        step, data = padded(np.ascontiguousarray(pixels), pad)
        out = decode_raw(encoding, rgb.shape[0], rgb.shape[1], step, data)
        assert out.dtype == np.uint8 and out.shape == rgb.shape, encoding
        assert tuple(out[0, 0]) == RED_RGB, encoding  # channel order checked by pixel value
        np.testing.assert_array_equal(out, rgb, err_msg=encoding)


def test_mono8_replicates_and_accepts_array_and_list_data():
    mono = np.arange(12, dtype=np.uint8).reshape(3, 4)
    for data in (mono.tobytes(), array.array("B", mono.tobytes()), list(mono.reshape(-1)), mono):
        out = decode_raw("mono8", 3, 4, 4, data)
        assert out.shape == (3, 4, 3)
        np.testing.assert_array_equal(out[:, :, 0], mono)
        np.testing.assert_array_equal(out[:, :, 2], mono)


def test_16uc1_depth_scaling_endianness_and_one_channel():
    depth = np.array([[0, 500, 1000], [2000, 4000, 65535]], dtype=np.uint16)
    step, data = padded(depth.astype("<u2"), 2)
    out = decode_raw("16UC1", 2, 3, step, data, config=DecodeConfig(depth_max_mm=2000.0))
    assert out.shape == (2, 3, 3)
    assert out[:, :, 0].tolist() == [[0, 64, 128], [255, 255, 255]]
    big = decode_raw(
        "16UC1",
        2,
        3,
        6,
        depth.astype(">u2").tobytes(),
        is_bigendian=True,
        config=DecodeConfig(depth_max_mm=2000.0, depth_channels=1),
    )
    assert big.shape == (2, 3, 1) and big[:, :, 0].tolist() == [[0, 64, 128], [255, 255, 255]]


def test_raw_errors_are_clear():
    with pytest.raises(ImageDecodeError, match="unsupported image encoding 'yuv422'"):
        decode_raw("yuv422", 2, 2, 4, bytes(8))
    with pytest.raises(ImageDecodeError, match="needs 24 bytes, got 23"):
        decode_raw("rgb8", 2, 4, 12, bytes(23))
    with pytest.raises(ImageDecodeError, match="step 10 is shorter"):
        decode_raw("rgb8", 2, 4, 10, bytes(40))
    with pytest.raises(ImageDecodeError, match="positive"):
        decode_raw("rgb8", 0, 4, 12, b"")
    with pytest.raises(ImageDecodeError, match="uint8"):
        decode_raw("rgb8", 1, 1, 3, np.zeros(3, dtype=np.float32))


def test_png_round_trip_is_exact_and_rgb_ordered():
    rgb = rgb_test_image(10, 12)
    ok, png = cv2.imencode(".png", np.ascontiguousarray(rgb[:, :, ::-1]))  # image_transport encodes BGR
    assert ok
    out = decode_compressed("rgb8; png compressed bgr8", png.tobytes())
    np.testing.assert_array_equal(out, rgb)
    assert tuple(out[0, 0]) == RED_RGB


def test_jpeg_round_trip_keeps_colour_order():
    rgb = np.zeros((32, 32, 3), dtype=np.uint8)
    rgb[:, :16] = RED_RGB
    rgb[:, 16:] = (20, 30, 220)
    ok, jpg = cv2.imencode(".jpg", np.ascontiguousarray(rgb[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    out = decode_compressed("jpeg", jpg.tobytes())
    assert out.shape == (32, 32, 3)
    assert np.abs(out[8, 4].astype(int) - RED_RGB).max() <= 6
    assert np.abs(out[8, 28].astype(int) - (20, 30, 220)).max() <= 6


def test_compressed_mono_and_depth():
    gray = np.arange(64, dtype=np.uint8).reshape(8, 8)
    _, png = cv2.imencode(".png", gray)
    out = decode_compressed("mono8; png compressed mono8", png.tobytes())
    assert out.shape == (8, 8, 3) and np.array_equal(out[:, :, 1], gray)
    depth = np.full((4, 5), 1000, dtype=np.uint16)
    _ok, png16 = cv2.imencode(".png", depth)
    header = bytes(12)  # compressedDepth config header precedes the PNG
    out = decode_compressed(
        "16UC1; compressedDepth png", header + png16.tobytes(), config=DecodeConfig(depth_max_mm=4000.0)
    )
    assert out.shape == (4, 5, 3) and np.all(out == 64)


def test_corrupt_and_unknown_compressed_data():
    rgb = rgb_test_image(16, 16)
    _ok, jpg = cv2.imencode(".jpg", rgb)
    with pytest.raises(ImageDecodeError, match="corrupt or truncated"):
        decode_compressed("jpeg", b"not an image at all")
    with pytest.raises(ImageDecodeError, match="corrupt or truncated"):
        decode_compressed("jpeg", jpg.tobytes()[:20])
    with pytest.raises(ImageDecodeError, match="unsupported compressed format 'tiff'"):
        decode_compressed("tiff", b"II*\x00" + bytes(20))


def test_center_crop_then_resize_keeps_aspect():
    # 4:3 frame with a marker column in the centre; target is square -> centre crop 480x480
    img = np.zeros((480, 640, 3), dtype=np.uint8)
    img[:, 80:560] = 100  # exactly the centred square
    out = prepare_image(img, (96, 96))
    assert out.shape == (96, 96, 3) and np.all(out == 100)
    stretched = ImageTransform(96, 96, crop="none")(img)
    assert stretched.shape == (96, 96, 3) and stretched[:, 0].max() == 0  # borders survive without crop
    tall = np.zeros((100, 10, 3), dtype=np.uint8)
    tall[45:55] = 255
    out = prepare_image(tall, (10, 10))
    assert np.all(out == 255)


def test_transform_upscale_identity_one_channel_and_validation():
    img = rgb_test_image(6, 8)
    assert np.array_equal(ImageTransform(6, 8)(img), img)
    assert ImageTransform(12, 16)(img).shape == (12, 16, 3)
    assert ImageTransform(3, 4)(np.zeros((6, 8, 1), np.uint8)).shape == (3, 4, 1)
    assert ImageTransform.for_shape((3, 84, 96)) == ImageTransform(84, 96)
    with pytest.raises(ValueError, match="crop"):
        ImageTransform(4, 4, crop="random")
    with pytest.raises(ValueError, match="positive"):
        ImageTransform(0, 4)
    with pytest.raises(ImageDecodeError, match="expected an"):
        ImageTransform(4, 4)(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="depth_max_mm"):
        DecodeConfig(depth_max_mm=0)


def test_one_message_path_for_raw_and_compressed_messages() -> None:
    """decode_message reads a message's fields by name (rclpy and rosbags messages alike); both
    transports of the same frame give the same pixels through message_to_frame."""
    img = rgb_test_image(12, 16)
    bgr = np.ascontiguousarray(img[:, :, ::-1])
    padded = np.zeros((12, 16 * 3 + 4), np.uint8)
    padded[:, : 16 * 3] = bgr.reshape(12, -1)
    raw = SimpleNamespace(encoding="bgr8", height=12, width=16, step=16 * 3 + 4, data=padded.tobytes(), is_bigendian=0)
    ok, png = cv2.imencode(".png", bgr)
    assert ok
    compressed = SimpleNamespace(format="png", data=png.tobytes())
    np.testing.assert_array_equal(decode_message(raw), img)
    np.testing.assert_array_equal(decode_message(compressed), img)
    transform = ImageTransform(out_h=6, out_w=6, crop="center")
    frame = message_to_frame(raw, transform)
    assert frame.shape == (6, 6, 3)
    np.testing.assert_array_equal(frame, transform(img))
    np.testing.assert_array_equal(message_to_frame(compressed, transform), frame)
    with pytest.raises(ImageDecodeError, match="unsupported image encoding"):
        decode_message(SimpleNamespace(encoding="yuv422", height=1, width=1, step=2, data=b"00", is_bigendian=0))
