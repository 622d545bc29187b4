"""Label Studio's brush RLE (thi-ng's rle-pack), decoded and encoded with numpy.

Layout: 32 bits value count, 5 bits word size - 1, four 4-bit run-size codes (each size - 1); then
records: 1 bit repeat flag, 2 bits run-size code, that many bits of run length - 1, then one value
(repeat) or run-length values (literal). A brush result holds an RGBA image; the mask is its alpha
channel.

Records are variable-length, so where each one starts depends on all before it. The decoder does
not walk them one at a time in Python: it computes, for every bit position at once, where the next
record would start if one started there, follows that chain by pointer doubling (a few whole-array
steps), and then reads every value with array operations. A 1080p mask decodes in about a
millisecond. Streams too large for one array per bit fall back to a record-by-record loop that
still reads each literal block in bulk.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ml_data.errors import InvalidExport

DEFAULT_RUN_SIZES = (3, 4, 8, 16)


def _dtype(word_size: int) -> type[np.unsignedinteger]:
    return np.uint8 if word_size <= 8 else np.uint16 if word_size <= 16 else np.uint32


#: Streams above this many bytes are decoded record by record: the vectorised decoder keeps a few
#: integers per bit of the stream (about 50 bytes per bit), which is cheap for masks (kilobytes of RLE)
#: and not for megabytes of literal noise.
VECTORISED_MAX_BYTES = 64 * 1024


def decode_rle(rle: bytes | Sequence[int]) -> np.ndarray:
    """The flat array of values an RLE holds (RGBA bytes for a brush result).

    >>> decode_rle(encode_rle(np.array([0, 0, 0, 7, 1, 2], dtype=np.uint8))).tolist()
    [0, 0, 0, 7, 1, 2]
    """
    data = _checked_bytes(rle)
    if len(data) > VECTORISED_MAX_BYTES:
        return decode_rle_by_record(data)
    return _decode_vectorised(data)


def decode_channel(rle: bytes | Sequence[int], channel: int, channels: int, *, binary: bool = False) -> np.ndarray:
    """Only the values at ``channel`` of every ``channels`` (the alpha of RGBA: 3 of 4), without
    producing the others: a quarter of the output, and no strided copy of it.

    >>> decode_channel(encode_rle(np.array([1, 2, 3, 4, 5, 6, 7, 8], dtype=np.uint8)), 3, 4).tolist()
    [4, 8]
    """
    if not 0 <= channel < channels:
        raise ValueError(f"channel {channel} is not one of {channels}")
    data = _checked_bytes(rle)
    if len(data) > VECTORISED_MAX_BYTES:
        selected = decode_rle_by_record(data)[channel::channels]
        return _binary(selected) if binary else selected.copy()
    values, repeats = _decode_items(data)
    if binary:
        values = _binary(values)
    ends = np.cumsum(repeats)
    starts = ends - repeats
    # How many indexes i in [start, end) have i % channels == channel.
    shift = channels - 1 - channel
    return np.repeat(values, (ends + shift) // channels - (starts + shift) // channels)


def _binary(values: np.ndarray) -> np.ndarray:
    return np.where(values > 0, np.uint8(255), np.uint8(0))


def _checked_bytes(rle: bytes | Sequence[int]) -> bytes:
    data = bytes(rle)
    if len(data) < 7:
        raise InvalidExport("RLE too short for its header")
    return data


def _header(data: bytes) -> tuple[int, int, list[int]]:
    """Value count, word size and the four run sizes."""
    head = int.from_bytes(data[:7], "big")  # 56 bits, of which the header uses 53
    count = head >> 24
    word_size = ((head >> 19) & 0x1F) + 1
    sizes = [((head >> (15 - 4 * k)) & 0xF) + 1 for k in range(4)]
    return count, word_size, sizes


def _windows(data: bytes) -> np.ndarray:
    """For each byte, the 64 bits that start at it (big-endian, zeros past the end)."""
    raw = np.frombuffer(data + bytes(8), dtype=np.uint8).astype(np.uint64)
    n = len(data)
    windows = np.zeros(n, dtype=np.uint64)
    for k in range(8):
        windows |= raw[k : n + k] << np.uint64(56 - 8 * k)
    return windows


def _read_bits(windows: np.ndarray, positions: np.ndarray, width: int | np.ndarray) -> np.ndarray:
    """The ``width``-bit big-endian fields at each bit position (``width`` <= 57)."""
    word = windows[positions >> 3] << (positions & 7).astype(np.uint64)
    return word >> (np.uint64(64) - np.asarray(width, dtype=np.uint64))


def _decode_vectorised(data: bytes) -> np.ndarray:
    values, repeats = _decode_items(data)
    return np.repeat(values, repeats)


def _decode_items(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """The stream as items: values and how many times each repeats (summing to the value count)."""
    count, word_size, sizes = _header(data)
    out_dtype = _dtype(word_size)
    if count == 0:
        return np.empty(0, dtype=out_dtype), np.empty(0, dtype=np.int64)
    total_bits = len(data) * 8
    windows = _windows(data)
    size_of_code = np.array(sizes, dtype=np.int32)
    widest = 3 + max(sizes)

    # Every bit position past the header, read as if a record started there.
    positions = np.arange(53, total_bits, dtype=np.intp)
    fields = _read_bits(windows, positions, widest).astype(np.int32)  # at most 19 bits
    head = fields >> (widest - 3)
    repeat = (head >> 2).astype(bool)
    size = size_of_code[head & 3]
    run = ((fields >> (widest - 3 - size)) & ((1 << size) - 1)) + 1
    payload = np.where(repeat, word_size, run * word_size)
    # next_start[i]: where the record after one starting at 53 + i starts; past the end -> sentinel.
    sentinel = len(positions)
    next_start = np.minimum(positions + 3 + size + payload - 53, sentinel)
    chain = _follow(np.append(next_start, sentinel).astype(np.intp), sentinel)
    runs = run[chain]
    ends = np.cumsum(runs)
    if ends[-1] < count:
        raise InvalidExport("RLE ends in the middle of a record")
    used = int(np.searchsorted(ends, count)) + 1  # records holding the first `count` values
    chain, runs = chain[:used], runs[:used].copy()
    runs[-1] -= int(ends[used - 1]) - count
    is_repeat = repeat[chain]
    value_at = chain + 53 + 3 + size[chain]
    record_end = value_at + np.where(is_repeat, word_size, runs * word_size)
    if int(record_end.max()) > total_bits:
        raise InvalidExport("RLE ends in the middle of a record")

    # One item per repeat record (its value, repeated) and per literal value (repeated once).
    items_per_record = np.where(is_repeat, 1, runs)
    item_record = np.repeat(np.arange(used), items_per_record)
    first_item = np.cumsum(items_per_record) - items_per_record
    within = np.arange(len(item_record)) - first_item[item_record]
    item_at = value_at[item_record] + within * word_size
    values = _read_bits(windows, item_at, word_size).astype(out_dtype)
    return values, np.where(is_repeat[item_record], runs[item_record], 1)


#: The chain is walked in strides of 2**_STRIDE_POWER records, then filled in.
_STRIDE_POWER = 5


def _follow(jump: np.ndarray, sentinel: int) -> np.ndarray:
    """The record starts reachable from position 0, in order (``jump``: the next start of each).

    Pointer doubling: ``jump`` composed with itself gives the start 2, 4, ... 32 records on. A short
    walk in strides of 32 finds every 32nd start; each level then fills in the starts between.
    """
    strides = [jump]
    for _ in range(_STRIDE_POWER):
        strides.append(np.take(strides[-1], strides[-1]))
    farthest = strides[-1]
    coarse = [0]
    while coarse[-1] != sentinel:  # bounded: every record is at least 4 bits long
        coarse.append(int(farthest[coarse[-1]]))
    chain = np.array(coarse, dtype=np.intp)
    for stride in reversed(strides[:-1]):
        chain = np.stack((chain, np.take(stride, chain)), axis=1).ravel()
    return chain[chain != sentinel]


def decode_rle_by_record(rle: bytes | Sequence[int]) -> np.ndarray:
    """The same values as :func:`decode_rle`, one record at a time (for very large streams)."""
    data = _checked_bytes(rle)
    raw = np.frombuffer(data + b"\x00", dtype=np.uint8)
    bits: np.ndarray | None = None  # the stream as bits, only for word sizes other than 8
    total_bits = len(data) * 8

    def read(position: int, width: int) -> int:
        if position + width > total_bits:
            raise InvalidExport("RLE ends in the middle of a record")
        start, end = position >> 3, (position + width + 7) >> 3
        chunk = int.from_bytes(data[start:end], "big")
        return (chunk >> ((end - start) * 8 - (position - start * 8) - width)) & ((1 << width) - 1)

    count, word_size, sizes = _header(data)
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


def mask_from_rle(rle: bytes | Sequence[int], width: int, height: int, *, binary: bool = False) -> np.ndarray:
    """The ``height x width`` uint8 mask (alpha channel) of a brush result's RLE; with ``binary``,
    every non-zero pixel is 255 (mapped before the values are expanded to pixels)."""
    data = _checked_bytes(rle)
    count = _header(data)[0]
    if count != width * height * 4:
        raise InvalidExport(f"RLE holds {count} values, not {width}x{height} RGBA")
    return decode_channel(data, 3, 4, binary=binary).reshape(height, width)


def rle_from_mask(mask: np.ndarray) -> list[int]:
    """The RLE of a 2-D mask, as Label Studio's brush expects it (each pixel as 4 equal channels)."""
    if mask.ndim != 2:
        raise InvalidExport("mask must be 2-D")
    return encode_rle(np.repeat(np.asarray(mask, dtype=np.uint8).ravel(), 4))
