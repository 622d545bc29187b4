"""A COCO box's numbers three ways: the general way (pixels, corners, the box around them), the
short way for unturned boxes (``geometry.upright_box``), and NumPy over a window of boxes.

    .venv/bin/python -m benchmarks.bench_geometry               # 50,000 boxes, 5 rounds

The boxes are bench_convert.py's (tests/support/exports.py, 5 per task). Each way turns the
result values into the exact COCO ``bbox`` and ``area`` (whole multiples of 1e-10 pixel, area
from the whole numbers) and all three must agree. NumPy does the arithmetic for a whole window
at once, but each value must still be checked in Python (a bool, a string, NaN are errors naming
the task) and the exact area needs Python's integers (the product of two sides in 1e-10 pixels
passes 2**53), so the window is read into arrays and its results back out of them. CPU time per
box (``process_time``), min and median of the rounds.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ml_data.converters.coco import _exact_box
from ml_data.converters.geometry import MAX_DECIMALS, box_in_image, corners, to_pixels, upright_box
from tests.support.exports import tasks

_SCALE = 10**MAX_DECIMALS
Box = tuple[list[float], float]


def general(boxes: list[tuple[dict[str, Any], int, int]]) -> list[Box]:
    out = []
    for value, width, height in boxes:
        box, rotation = to_pixels(value, width, height)
        out.append(_exact_box(box_in_image(corners(box, rotation), width, height), _SCALE))
    return out


def short(boxes: list[tuple[dict[str, Any], int, int]]) -> list[Box]:
    out = []
    for value, width, height in boxes:
        outer = upright_box(value, width, height)
        assert outer is not None
        out.append(_exact_box(outer, _SCALE))
    return out


def numpy_window(boxes: list[tuple[dict[str, Any], int, int]], window: int = 5000) -> list[Box]:
    out: list[Box] = []
    for start in range(0, len(boxes), window):
        part = boxes[start : start + window]
        rows = []
        for value, width, height in part:
            x, y, w, h = value["x"], value["y"], value["width"], value["height"]
            # The checks the general way makes, per value, before any arithmetic.
            for number in (x, y, w, h):
                if not (type(number) is float or type(number) is int) or not -1e6 <= number <= 1e6:
                    raise ValueError("not a coordinate")
            if w < 0 or h < 0 or value.get("rotation"):
                raise ValueError("not an upright box")
            rows.append((x, y, w, h, width, height))
        table = np.array(rows, dtype=np.float64)
        x, y, w, h, width, height = table.T
        left, top = x / 100 * width, y / 100 * height
        right, bottom = left + w / 100 * width, top + h / 100 * height
        left, right = np.minimum(np.maximum(left, 0.0), width), np.minimum(np.maximum(right, 0.0), width)
        top, bottom = np.minimum(np.maximum(top, 0.0), height), np.minimum(np.maximum(bottom, 0.0), height)
        if not ((right - left > 0) & (bottom - top > 0)).all():
            raise ValueError("a box outside its image")
        whole = np.rint(np.stack([left, top, right - left, bottom - top]) * _SCALE).astype(np.int64).T.tolist()
        for bx, by, bw, bh in whole:
            out.append(([bx / _SCALE, by / _SCALE, bw / _SCALE, bh / _SCALE], bw * bh / (_SCALE * _SCALE)))
    return out


WAYS: dict[str, Callable[[list[tuple[dict[str, Any], int, int]]], list[Box]]] = {
    "general way": general,
    "upright_box": short,
    "numpy, windows of 5,000": numpy_window,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    boxes = [
        (region["value"], region["original_width"], region["original_height"])
        for task in tasks("image", args.tasks, seed=1)
        for region in task["annotations"][0]["result"]
    ]
    expected = general(boxes)
    figures: dict[str, list[float]] = {name: [] for name in WAYS}
    for _round in range(args.rounds):
        for name, way in WAYS.items():
            started = time.process_time()
            result = way(boxes)
            figures[name].append((time.process_time() - started) * 1e6 / len(boxes))
            assert result == expected, name
    print(f"{len(boxes)} boxes: CPU per box, {args.rounds} rounds (all three give the same numbers)")
    for name, values in figures.items():
        print(f"  {name:26s} min {min(values):5.2f} us   median {statistics.median(values):5.2f} us")


if __name__ == "__main__":
    main()
