"""Label Studio's brush RLE (thi-ng's rle-pack), decoded and encoded with numpy.

Layout: 32 bits value count, 5 bits word size - 1, four 4-bit run-size codes (each size - 1); then
records: 1 bit repeat flag, 2 bits run-size code, that many bits of run length - 1, then one value
(repeat) or run-length values (literal). A brush result holds an RGBA image; the mask is its alpha
channel. Headers are read one record at a time, values in bulk: a literal block is sliced out of
the bit array as one matrix, so a 1080p mask decodes in milliseconds rather than a bit at a time.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ml_data.errors import InvalidExport

DEFAULT_RUN_SIZES = (3, 4, 8, 16)


def _dtype(word_size: int) -> type[np.unsignedinteger]:
    return np.uint8 if word_size <= 8 else np.uint16 if word_size <= 16 else np.uint32


def decode_rle(rle: bytes | Sequence[int]) -> np.ndarray:
    """The flat array of values an RLE holds (RGBA bytes for a brush result).

    >>> decode_rle(encode_rle(np.array([0, 0, 0, 7, 1, 2], dtype=np.uint8))).tolist()
    [0, 0, 0, 7, 1, 2]
    """
    data = bytes(rle)
    if len(data) < 7:
        raise InvalidExport("RLE too short for its header")
    raw = np.frombuffer(data + b"\x00", dtype=np.uint8)
    bits: np.ndarray | None = None  # the stream as bits, only for word sizes other than 8
    total_bits = len(data) * 8

    def read(position: int, width: int) -> int:
        if position + width > total_bits:
            raise InvalidExport("RLE ends in the middle of a record")
        start, end = position >> 3, (position + width + 7) >> 3
        chunk = int.from_bytes(data[start:end], "big")
        return (chunk >> ((end - start) * 8 - (position - start * 8) - width)) & ((1 << width) - 1)

    count = read(0, 32)
    word_size = read(32, 5) + 1
    sizes = [read(37 + 4 * k, 4) + 1 for k in range(4)]
    out = np.empty(count, dtype=_dtype(word_size))
    weights = (1 << np.arange(word_size - 1, -1, -1, dtype=np.uint64)).astype(np.uint64)
    position, index = 53, 0
    widest = 3 + max(sizes)
    while index < count:
        if position + widest <= total_bits:
            # The record's header (3 bits) and run length in one read: most records are short.
            start = position >> 3
            stop = (position + widest + 7) >> 3
            record = int.from_bytes(data[start:stop], "big") >> ((stop - start) * 8 - (position - start * 8) - widest)
            record &= (1 << widest) - 1
            head = record >> (widest - 3)
            size = sizes[head & 3]
            length = (record >> (widest - 3 - size)) & ((1 << size) - 1)
        else:
            head = read(position, 3)
            size = sizes[head & 3]
            length = read(position + 3, size)
        end = min(index + 1 + length, count)
        position += 3 + size
        if head >> 2:  # repeat
            out[index:end] = read(position, word_size)
            position += word_size
        else:  # literal block
            length = end - index
            if position + length * word_size > total_bits:
                raise InvalidExport("RLE ends in the middle of a record")
            if word_size == 8:
                # Bytes shifted by the block's bit offset: no per-bit work at all.
                first, shift = position >> 3, position & 7
                chunk = raw[first : first + length + 1].astype(np.uint16)
                out[index:end] = ((chunk[:-1] << shift) | (chunk[1:] >> (8 - shift))) & 0xFF
            else:
                if bits is None:
                    bits = np.unpackbits(raw[:-1])
                block = bits[position : position + length * word_size].reshape(length, word_size)
                out[index:end] = block.astype(np.uint64) @ weights
            position += length * word_size
        index = end
    return out


def encode_rle(values: np.ndarray, word_size: int = 8, run_sizes: Sequence[int] = DEFAULT_RUN_SIZES) -> list[int]:
    """Encode a flat array as Label Studio reads it (runs as repeats, lone values as literals)."""
    flat = np.asarray(values).ravel()
    if flat.size and int(flat.max()) >= 1 << word_size:
        raise InvalidExport(f"values do not fit in {word_size} bits")
    sizes = list(run_sizes)
    longest = 1 << sizes[-1]
    fields: list[np.ndarray] = [_bits(flat.size, 32), _bits(word_size - 1, 5)] + [_bits(s - 1, 4) for s in sizes]
    if flat.size:
        change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
        starts = np.concatenate(([0], change))
        lengths = np.diff(np.concatenate((starts, [flat.size])))
        index = 0
        while index < len(starts):
            if lengths[index] > 1:
                value, remaining = int(flat[starts[index]]), int(lengths[index])
                while remaining:
                    take = min(remaining, longest)
                    fields.append(_record(1, take, sizes))
                    fields.append(_bits(value, word_size))
                    remaining -= take
                index += 1
                continue
            # a block of lone values, written as they are
            stop = index
            while stop < len(starts) and lengths[stop] == 1 and stop - index < longest:
                stop += 1
            block = flat[starts[index] : starts[index] + (stop - index)]
            fields.append(_record(0, len(block), sizes))
            fields.append(_word_bits(block, word_size))
            index = stop
    stream = np.concatenate(fields)
    return np.packbits(stream).tolist()


def _record(repeat: int, length: int, sizes: list[int]) -> np.ndarray:
    code = next(k for k, size in enumerate(sizes) if length - 1 < 1 << size)
    return np.concatenate((_bits(repeat, 1), _bits(code, 2), _bits(length - 1, sizes[code])))


def _bits(value: int, width: int) -> np.ndarray:
    return ((value >> np.arange(width - 1, -1, -1)) & 1).astype(np.uint8)


def _word_bits(block: np.ndarray, word_size: int) -> np.ndarray:
    shifts = np.arange(word_size - 1, -1, -1, dtype=np.uint64)
    return ((block.astype(np.uint64)[:, None] >> shifts) & 1).astype(np.uint8).ravel()


def mask_from_rle(rle: bytes | Sequence[int], width: int, height: int) -> np.ndarray:
    """The ``height x width`` uint8 mask (alpha channel) of a brush result's RLE."""
    values = decode_rle(rle)
    if values.size != width * height * 4:
        raise InvalidExport(f"RLE holds {values.size} values, not {width}x{height} RGBA")
    return values.reshape(height, width, 4)[:, :, 3]


def rle_from_mask(mask: np.ndarray) -> list[int]:
    """The RLE of a 2-D mask, as Label Studio's brush expects it (each pixel as 4 equal channels)."""
    if mask.ndim != 2:
        raise InvalidExport("mask must be 2-D")
    return encode_rle(np.repeat(np.asarray(mask, dtype=np.uint8).ravel(), 4))
