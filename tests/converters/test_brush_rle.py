"""Label Studio's brush RLE: lossless round trips, and the reference converter reads ours and we
read its."""

from __future__ import annotations

import numpy as np
import pytest

from ml_data.converters.brush_rle import decode_rle, encode_rle, mask_from_rle, rle_from_mask

reference = pytest.importorskip("label_studio_sdk.converter.brush")


@pytest.mark.parametrize("word_size", [3, 8, 12])
def test_random_arrays_round_trip(word_size):
    rng = np.random.default_rng(word_size)
    for _ in range(30):
        size = int(rng.integers(1, 5000))
        values = rng.integers(0, 1 << word_size, size).astype(np.uint16 if word_size > 8 else np.uint8)
        values[rng.integers(0, size, size // 2)] = 0  # runs as well as lone values
        assert np.array_equal(decode_rle(encode_rle(values, word_size=word_size)), values)


def test_long_runs_are_split_at_the_largest_run_size():
    values = np.zeros(200_000, dtype=np.uint8)
    values[-1] = 9
    assert np.array_equal(decode_rle(encode_rle(values)), values)


def test_compatible_with_the_reference_both_ways():
    rng = np.random.default_rng(1)
    for _ in range(20):
        values = np.repeat(rng.integers(0, 3, 300).astype(np.uint8), rng.integers(1, 40, 300))
        assert np.array_equal(reference.decode_rle(encode_rle(values)), values)
        assert np.array_equal(decode_rle(reference.encode_rle(values)), values)


def test_masks_round_trip_through_rgba(fixtures):
    from PIL import Image

    with Image.open(fixtures / "test_brush" / "test.png") as image:
        mask = ((np.array(image.convert("L")) > 128) * 255).astype(np.uint8)
    height, width = mask.shape
    rle = rle_from_mask(mask)
    assert np.array_equal(mask_from_rle(rle, width, height), mask)
    assert np.array_equal(reference.decode_rle(rle).reshape(height, width, 4)[:, :, 3], mask)


def test_colored_rgba_layers_decode(tmp_path):
    rgba = np.zeros((40, 60, 4), dtype=np.uint8)
    rgba[10:30, 5:50] = [200, 30, 60, 255]
    values = decode_rle(encode_rle(rgba.ravel()))
    assert np.array_equal(values, rgba.ravel())
    assert np.array_equal(mask_from_rle(encode_rle(rgba.ravel()), 60, 40), rgba[:, :, 3])


@pytest.mark.parametrize("rle", [b"", b"\x00\x00\x00\x05", encode_rle(np.arange(50, dtype=np.uint8))[:-3]])
def test_malformed_rle_is_a_clear_error(rle):
    with pytest.raises(ValueError, match="RLE"):
        decode_rle(rle)


def test_mask_size_must_match():
    with pytest.raises(ValueError, match="not 3x3 RGBA"):
        mask_from_rle(rle_from_mask(np.zeros((2, 2), dtype=np.uint8)), 3, 3)
