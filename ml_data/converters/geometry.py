"""Label Studio geometry in pixels: results hold percentages of the original image size, and a
rectangle's ``rotation`` (degrees, clockwise) turns it around its top-left corner.

Pure functions, for the formats and for users' own code.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from ml_data.errors import InvalidExport

#: Coordinates are percentages of the image; far outside this they are not coordinates at all.
_LIMIT = 1e6


def number(value: Any, what: str) -> float:
    """A finite number from a result value; an :class:`InvalidExport` for NaN, infinities, null,
    objects, booleans and absurd magnitudes (which would otherwise be written as ``nan``/``null``).

    >>> number(12.5, "x")
    12.5
    """
    # The common case first: an exact float or int in range (NaN fails both comparisons).
    kind = type(value)
    if (kind is float or kind is int) and -_LIMIT <= value <= _LIMIT:
        return float(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidExport(f"{what} is {type(value).__name__}, not a number")
    if isinstance(value, int) and abs(value) > _LIMIT:
        raise InvalidExport(f"{what} is out of range")
    result = float(value)
    if not math.isfinite(result) or abs(result) > _LIMIT:
        raise InvalidExport(f"{what} is not a finite coordinate ({result!r})")
    return result


class Box(NamedTuple):
    """An axis-aligned box in pixels: top-left corner, width, height."""

    x: float
    y: float
    width: float
    height: float


def to_pixels(value: Mapping[str, Any], width: float, height: float) -> tuple[Box, float]:
    """A rectangle result's value in pixels: the (unrotated) box and its rotation in degrees.

    >>> to_pixels({"x": 10, "y": 20, "width": 50, "height": 25, "rotation": 0}, 200, 100)
    (Box(x=20.0, y=20.0, width=100.0, height=25.0), 0.0)
    """
    box = Box(
        number(value.get("x"), "x") / 100 * width,
        number(value.get("y"), "y") / 100 * height,
        _size(value.get("width"), "width") / 100 * width,
        _size(value.get("height"), "height") / 100 * height,
    )
    return box, number(value.get("rotation") or 0.0, "rotation")


def _size(value: Any, what: str) -> float:
    # Label Studio writes a rectangle's width and height as sizes: a negative one is a broken
    # result, not a box drawn the other way.
    size = number(value, what)
    if size < 0:
        raise InvalidExport(f"{what} is negative ({size!r})")
    return size


def from_pixels(box: Box, width: float, height: float, rotation: float = 0.0) -> dict[str, float]:
    """The inverse of :func:`to_pixels`: a rectangle value in percentages."""
    return {
        "x": box.x / width * 100,
        "y": box.y / height * 100,
        "width": box.width / width * 100,
        "height": box.height / height * 100,
        "rotation": rotation,
    }


def corners(box: Box, rotation: float) -> list[tuple[float, float]]:
    """The four corners in pixels, clockwise from the top-left, after rotating the box by
    ``rotation`` degrees clockwise around its top-left corner (image y axis points down)."""
    theta = math.radians(rotation)
    cos, sin = math.cos(theta), math.sin(theta)
    points = [(0.0, 0.0), (box.width, 0.0), (box.width, box.height), (0.0, box.height)]
    return [(box.x + dx * cos - dy * sin, box.y + dx * sin + dy * cos) for dx, dy in points]


def enclosing_box(points: list[tuple[float, float]], width: float, height: float) -> Box:
    """The smallest axis-aligned box around ``points``, clamped to the image.

    Each coordinate is clamped as ``min(max(v, 0.0), size)`` and the extremes are the first
    smallest and largest, as ``min``/``max`` over lists pick them (signed zeros included), in one
    pass: this runs for every box of an export."""
    remaining = iter(points)
    first = next(remaining, None)
    if first is None:
        raise ValueError("no points to enclose")
    left = right = _clamp(first[0], width)
    top = bottom = _clamp(first[1], height)
    for x, y in remaining:
        x, y = _clamp(x, width), _clamp(y, height)
        if x < left:
            left = x
        elif x > right:
            right = x
        if y < top:
            top = y
        elif y > bottom:
            bottom = y
    return Box(left, top, right - left, bottom - top)


def box_in_image(points: list[tuple[float, float]], width: float, height: float) -> Box:
    """:func:`enclosing_box`, for a region that must show something of the image: an
    :class:`InvalidExport` when the box clamped to the image has no area (the region lies
    outside the image, or has no width or no height), which would be written as ``0 0 0 0``.

    >>> box_in_image([(150, 150), (170, 170)], 100, 100)
    Traceback (most recent call last):
    ml_data.errors.InvalidExport: the region lies outside the image or has no area (clamped to the image: 0 x 0 pixels)
    """
    outer = enclosing_box(points, width, height)
    if not (outer.width > 0 and outer.height > 0):
        raise InvalidExport(
            f"the region lies outside the image or has no area (clamped to the image: {outer.width:g} x "
            f"{outer.height:g} pixels)"
        )
    return outer


def _clamp(value: float, size: float) -> float:
    """``min(max(value, 0.0), size)``, the very same result (signed zeros, NaN, an int size)."""
    if value < 0.0:
        value = 0.0
    if size < value:
        return size
    return value


def upright_box(value: Mapping[str, Any], width: float, height: float) -> Box | None:
    """``box_in_image(corners(*to_pixels(value, width, height)), width, height)`` for the common
    rectangle, unturned (``rotation`` absent, null or zero) with finite numbers in range and a
    box that shows part of the image, computed without the corners; None for any other value,
    which then takes the general way (and its errors). Equal to the general way's box up to the
    sign of a zero coordinate, which rounding to whole units of a pixel drops."""
    get = value.get
    x, y, w, h = get("x"), get("y"), get("width"), get("height")
    # Exact floats and ints only (no bool), in range; NaN fails the comparisons.
    if not (
        (type(x) is float or type(x) is int)
        and (type(y) is float or type(y) is int)
        and (type(w) is float or type(w) is int)
        and (type(h) is float or type(h) is int)
        and -_LIMIT <= x <= _LIMIT
        and -_LIMIT <= y <= _LIMIT
        and 0 <= w <= _LIMIT
        and 0 <= h <= _LIMIT
        and not get("rotation")
    ):
        return None
    left = float(x) / 100 * width
    top = float(y) / 100 * height
    # The corners of an unturned box: its sides are added as corners() adds them (times cos 0).
    right = left + float(w) / 100 * width
    bottom = top + float(h) / 100 * height
    left, right = _clamp(left, width), _clamp(right, width)
    top, bottom = _clamp(top, height), _clamp(bottom, height)
    if not (right - left > 0 and bottom - top > 0):
        return None
    return Box(left, top, right - left, bottom - top)


def polygon_pixels(value: Mapping[str, Any], width: float, height: float) -> list[tuple[float, float]]:
    """A polygon result's points in pixels."""
    points = value.get("points") or []
    if not isinstance(points, list) or not all(isinstance(point, list | tuple) and len(point) == 2 for point in points):
        raise InvalidExport("polygon points must be a list of [x, y] pairs")
    return [(number(x, "point x") / 100 * width, number(y, "point y") / 100 * height) for x, y in points]


#: The finest a pixel value made from percentages is written: a ten-billionth of a pixel, far
#: below any annotation's precision (a turned box's corners, a percentage like
#: 33.333333333333336, have endless decimals).
MAX_DECIMALS = 10
_FINEST = 10**MAX_DECIMALS
#: Up to this many pixels a side, a pixel value made from percentages (a box's width: a
#: difference of two sums) is off its exact value by less than 8.8e-16 of the side, under 2e-11:
#: the nearest multiple of ``10**-MAX_DECIMALS`` is then the exact value, whatever decimals the
#: percentages have.
_EXACT_SIDE = 20_000


def decimals(value: float) -> int:
    """How many decimals ``value`` has as an export writes it (its shortest form).

    >>> decimals(12.25), decimals(3), decimals(20.0), decimals(1.5e-05)
    (2, 0, 1, 6)
    """
    if type(value) is int:
        return 0
    text = repr(float(value))
    mantissa, _, exponent = text.partition("e")
    point = mantissa.find(".")
    places = len(mantissa) - point - 1 if point >= 0 else 0
    return max(0, places - int(exponent)) if exponent else places


def pixel_scale(width: int, height: int, percentages: Iterable[float]) -> int:
    """``10**places``, where the pixel values made from ``percentages`` of a ``width`` x ``height``
    image are whole multiples of ``10**-places``: a percentage with ``d`` decimals of a whole
    number of pixels has at most ``d + 2`` (at most :data:`MAX_DECIMALS`). Rounding to them
    drops the float noise of the conversion (``19.200000000000003`` is ``19.2``), and only it.
    Below 20,000 pixels a side the finest scale finds the same values, so the percentages'
    decimals are not read.

    >>> pixel_scale(640, 480, [12.5, 40]), pixel_scale(50_000, 100, [12.5, 40])
    (10000000000, 1000)
    """
    if width <= _EXACT_SIDE and height <= _EXACT_SIDE:
        return _FINEST
    return 10 ** min(max(map(decimals, percentages), default=0) + 2, MAX_DECIMALS)


def polygon_area(points: list[tuple[float, float]]) -> float:
    """Shoelace area."""
    total = 0.0
    for (x1, y1), (x2, y2) in zip(points, points[1:] + points[:1], strict=True):
        total += x1 * y2 - x2 * y1
    return abs(total) / 2
