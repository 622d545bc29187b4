"""Masks as COCO's compressed RLE, the ``segmentation`` pycocotools writes for a mask.

A mask is read in column-major order (down each column, left to right) as alternating runs of 0
and 1, starting with 0; the run lengths become a string: each run (minus the run two before it,
from the fourth on) in 5-bit groups, least significant first, with a continuation bit, plus 48.
That is pycocotools' ``rleToString``, here in numpy and plain Python so the library does not
need pycocotools; the tests check it against pycocotools byte for byte.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def run_lengths(mask: np.ndarray) -> list[int]:
    """The column-major runs of a 2-D mask (non-zero is 1), the first one of 0s (maybe empty).

    >>> run_lengths(np.array([[0, 1], [1, 1]]))
    [1, 3]
    """
    flat = np.asarray(mask).ravel(order="F") != 0
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    edges = np.concatenate(([0], changes, [flat.size]))
    runs = np.diff(edges).tolist()
    # The runs start with 0s: a mask that starts with a 1 has an empty first run.
    return [0, *runs] if flat.size and flat[0] else runs


def compress_counts(runs: list[int]) -> str:
    """The run lengths as pycocotools' counts string.

    >>> compress_counts([1, 3])
    '13'
    """
    out = bytearray()
    for index, run in enumerate(runs):
        # From the fourth run on, the difference to the run two before it (runs of one value
        # tend to be alike), which may be negative: Python's >> keeps the sign, as C's does.
        value = run - runs[index - 2] if index > 2 else run
        more = True
        while more:
            group = value & 0x1F
            value >>= 5
            more = value != -1 if group & 0x10 else value != 0
            out.append((group | 0x20 if more else group) + 48)
    return out.decode("ascii")


def mask_rle(mask: np.ndarray) -> dict[str, Any]:
    """The COCO ``segmentation`` of a 2-D mask: ``{"size": [height, width], "counts": "..."}``."""
    height, width = mask.shape
    return {"size": [height, width], "counts": compress_counts(run_lengths(mask))}


def mask_bbox(mask: np.ndarray) -> list[int]:
    """``[x, y, width, height]`` of the pixels set, as pycocotools' ``toBbox`` gives it ([0, 0, 0,
    0] for an empty mask)."""
    rows = np.flatnonzero(np.asarray(mask).any(axis=1))
    columns = np.flatnonzero(np.asarray(mask).any(axis=0))
    if not rows.size:
        return [0, 0, 0, 0]
    x, y = int(columns[0]), int(rows[0])
    return [x, y, int(columns[-1]) - x + 1, int(rows[-1]) - y + 1]


__all__ = ["compress_counts", "mask_bbox", "mask_rle", "run_lengths"]
