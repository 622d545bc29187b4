"""Label Studio's brush RLE: lossless round trips, and the reference converter reads ours and we
read its."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml_data.converters.brush_rle import (
    VECTORISED_MAX_BYTES,
    _decode_vectorised,
    decode_channel,
    decode_rle,
    decode_rle_by_record,
    encode_rle,
    mask_from_rle,
    rle_from_mask,
)
from ml_data.errors import InvalidExport

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


def _stream(draw_bits: list[int]) -> bytes:
    return bytes(np.packbits(np.array(draw_bits, dtype=np.uint8)).tolist())


@settings(max_examples=300, deadline=None)
@given(
    word_size=st.integers(1, 16),
    run_sizes=st.lists(st.integers(1, 16), min_size=4, max_size=4),
    pieces=st.lists(st.tuples(st.integers(1, 70), st.integers(0, 2**16 - 1), st.booleans()), max_size=30),
    cut=st.integers(0, 40),
)
def test_vectorised_decoder_agrees_with_the_record_loop(word_size, run_sizes, pieces, cut):
    """Any stream, whole or cut short: both decoders give the same values or both refuse it."""
    values = np.concatenate(
        [
            np.full(length, value % (1 << word_size)) if run else np.arange(value, value + length) % (1 << word_size)
            for length, value, run in pieces
        ]
        or [np.zeros(0)]
    ).astype(np.uint16)
    stream = bytes(encode_rle(values, word_size=word_size, run_sizes=sorted(run_sizes)))
    stream = stream[: max(0, len(stream) - cut)] if cut < 20 else stream
    outcomes = []
    for decoder in (decode_rle, decode_rle_by_record):
        try:
            outcomes.append(decoder(stream).tolist())
        except InvalidExport as exc:
            outcomes.append(str(exc))
    assert outcomes[0] == outcomes[1]
    if cut >= 20:
        assert outcomes[0] == values.tolist()


@settings(max_examples=200, deadline=None)
@given(stream=st.binary(min_size=7, max_size=300))
def test_arbitrary_bytes_decode_alike_or_fail_typed(stream):
    """Hostile input: random bytes after a small value count never crash either decoder differently."""
    count = int.from_bytes(stream[:2], "big") % 4096  # a value count the decoders may allocate
    stream = count.to_bytes(4, "big") + stream[2:]
    outcomes = []
    for decoder in (decode_rle, decode_rle_by_record):
        try:
            outcomes.append(decoder(stream).tolist())
        except InvalidExport as exc:
            outcomes.append(str(exc))
    assert outcomes[0] == outcomes[1]


def test_large_streams_use_the_record_loop_with_the_same_result():
    rng = np.random.default_rng(5)
    noise = rng.integers(0, 256, 120_000).astype(np.uint8)  # literal blocks: a stream of over 64 KB
    stream = bytes(encode_rle(noise))
    assert len(stream) > VECTORISED_MAX_BYTES
    assert np.array_equal(decode_rle(stream), noise)
    assert np.array_equal(_decode_vectorised(stream), noise)


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.integers(0, 255), max_size=400).map(lambda v: np.repeat(np.array(v, dtype=np.uint8), 3)),
    channels=st.integers(1, 5),
    data=st.data(),
)
def test_one_channel_equals_every_nth_value(values, channels, data):
    channel = data.draw(st.integers(0, channels - 1))
    stream = encode_rle(values)
    assert decode_channel(stream, channel, channels).tolist() == values[channel::channels].tolist()
    binary = decode_channel(stream, channel, channels, binary=True)
    assert binary.tolist() == [255 if v else 0 for v in values[channel::channels].tolist()]


def test_large_stream_masks_match_the_vectorised_ones():
    rng = np.random.default_rng(8)
    mask = (rng.integers(0, 2, (400, 300)) * 255).astype(np.uint8)  # noise: a stream of over 64 KB
    rle = rle_from_mask(mask)
    assert len(rle) > VECTORISED_MAX_BYTES
    assert np.array_equal(mask_from_rle(rle, 300, 400), mask)
    assert np.array_equal(mask_from_rle(rle, 300, 400, binary=True), mask)


@settings(max_examples=60, deadline=None)
@given(
    height=st.integers(1, 40),
    width=st.integers(1, 40),
    seed=st.integers(0, 2**16),
)
def test_mask_pngs_read_back_as_written(height, width, seed):
    """Masks are PNG files any decoder reads: Pillow gives back the same 8-bit grayscale pixels."""
    import io

    from PIL import Image

    from ml_data.converters.png import gray_png

    mask = np.random.default_rng(seed).integers(0, 256, (height, width)).astype(np.uint8)
    with Image.open(io.BytesIO(gray_png(mask))) as image:
        image.load()
        assert image.mode == "L" and image.size == (width, height)
        assert np.array_equal(np.asarray(image), mask)


def test_png_refuses_what_it_cannot_encode():
    from ml_data.converters.png import gray_png

    with pytest.raises(ValueError, match="2-D uint8"):
        gray_png(np.zeros((2, 2, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="cannot be"):
        gray_png(np.zeros((0, 3), dtype=np.uint8))
