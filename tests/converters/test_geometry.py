"""Geometry: whatever an export puts where a coordinate belongs, the result is a finite float in
range or an InvalidExport; boxes around points are exactly the clamped extremes."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ml_data.converters.geometry import (
    Box,
    box_in_image,
    corners,
    decimals,
    enclosing_box,
    number,
    pixel_scale,
    to_pixels,
    upright_box,
)
from ml_data.errors import InvalidExport


class _Float(float):
    pass


class _Int(int):
    pass


def _accepted(value: object) -> bool:
    """The rule, written out: a non-bool real number, finite, at most a million in magnitude."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(float(value)) and abs(value) <= 1e6 if isinstance(value, float) else abs(value) <= 1e6


values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-2e6, max_value=2e6),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=-1_000_001, max_value=1_000_001),
    st.sampled_from([1e6, -1e6, 1_000_000, -1_000_000, 1e6 + 1e-9, -0.0, 10**400, True, False]),
    st.builds(_Float, st.floats(allow_nan=True)),
    st.builds(_Int, st.integers(min_value=-(2**30), max_value=2**30)),
    st.none(),
    st.text(max_size=3),
    st.lists(st.integers(), max_size=2),
)


@given(values)
def test_number_accepts_exactly_finite_coordinates_in_range(value):
    if _accepted(value):
        result = number(value, "x")
        assert type(result) is float
        assert result == float(value)
        assert math.copysign(1.0, result) == math.copysign(1.0, float(value))
    else:
        with pytest.raises(InvalidExport) as caught:
            number(value, "x")
        assert caught.value.message.startswith("x ")


def _enclosing_by_lists(points, width, height):
    """The definition: clamp every coordinate, then min and max over the lists."""
    xs = [min(max(x, 0.0), width) for x, _ in points]
    ys = [min(max(y, 0.0), height) for _, y in points]
    return (min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))


def _exact(values):
    """Floats compared by their bits and type: signed zeros and NaN count."""
    return [(type(value), repr(value)) for value in values]


coordinate = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1.0, 100.0]),
    st.integers(min_value=-5, max_value=200),
)


@given(
    st.lists(st.tuples(coordinate, coordinate), min_size=1, max_size=6),
    st.integers(min_value=1, max_value=100),
    st.integers(min_value=1, max_value=100),
)
def test_enclosing_box_is_the_clamped_min_and_max(points, width, height):
    assert _exact(enclosing_box(points, width, height)) == _exact(_enclosing_by_lists(points, width, height))


@given(
    st.floats(min_value=-1e6, max_value=1e6),
    st.floats(min_value=-1e6, max_value=1e6),
    st.floats(min_value=-1e4, max_value=1e4),
    st.floats(min_value=-1e4, max_value=1e4),
    st.floats(min_value=-720, max_value=720),
)
def test_a_rotated_box_stays_inside_the_image(x, y, w, h, rotation):
    outer = enclosing_box(corners(Box(x, y, w, h), rotation), 640, 480)
    assert 0.0 <= outer.x <= 640 and 0.0 <= outer.y <= 480
    assert 0.0 <= outer.width <= 640 - outer.x and 0.0 <= outer.height <= 480 - outer.y


def _general_box(value, width, height):
    """The general way: pixels, corners, the box around them inside the image (or its error)."""
    try:
        box, rotation = to_pixels(value, width, height)
        return box_in_image(corners(box, rotation), width, height)
    except InvalidExport:
        return None


def _zero_unsigned(values):
    """Coordinates with -0.0 read as 0.0: rounding to whole units of a pixel drops a zero's sign."""
    return _exact([value + 0.0 for value in values])


box_number = st.one_of(
    values,
    st.floats(min_value=-10, max_value=110),
    st.integers(min_value=-10, max_value=110),
    st.sampled_from([0, 0.0, -0.0, 100, 100.0, 5e-324, -5e-324]),
)


@given(
    st.fixed_dictionaries(
        {"x": box_number, "y": box_number, "width": box_number, "height": box_number},
        optional={"rotation": st.one_of(values, st.sampled_from([0, 0.0, -0.0, 360, 90, "", "0", [], {}]))},
    ),
    st.integers(min_value=1, max_value=30_000),
    st.integers(min_value=1, max_value=30_000),
)
def test_an_upright_box_is_the_general_way_or_none(value, width, height):
    """The short way for unturned rectangles gives the general way's box, and declines (None)
    everything else: turned boxes, numbers the general way refuses, boxes outside the image."""
    fast = upright_box(value, width, height)
    general = _general_box(value, width, height)
    if fast is None:
        plain = not value.get("rotation") and all(
            type(value[key]) in (int, float) and abs(value[key]) <= 1e6 for key in ("x", "y", "width", "height")
        )
        # Declined: turned, not plain numbers, or no area (which the general way refuses too).
        assert not plain or general is None or not (value["width"] >= 0 and value["height"] >= 0)
    else:
        assert general is not None
        assert _zero_unsigned(fast) == _zero_unsigned(general)


def test_an_upright_box_declines_a_turn_of_a_whole_circle():
    """360 degrees is not 0 to the general way (its sine is not exactly zero): it goes that way."""
    assert upright_box({"x": 10, "y": 10, "width": 20, "height": 20, "rotation": 360}, 100, 100) is None
    assert upright_box({"x": 10, "y": 10, "width": 20, "height": 20, "rotation": 0}, 100, 100) == Box(10, 10, 20, 20)


def test_enclosing_nothing_is_an_error():
    with pytest.raises(ValueError):
        enclosing_box([], 10, 10)


@given(st.integers(-(10**12), 10**12), st.integers(1, 10))
def test_decimals_are_those_the_export_wrote(digits, places):
    """A number written with ``places`` decimals (the last not a zero) reads back as ``places``:
    a float's shortest form is the text it was read from, up to 15 significant digits."""
    assume(digits % 10 != 0)
    text = str(Decimal(digits).scaleb(-places))
    assert decimals(float(text)) == places, text
    assert decimals(digits) == 0


def test_the_pixel_scale_follows_the_percentages_on_large_images_only():
    assert pixel_scale(20_000, 480, [12.5, 33.333333333333336]) == 10**10  # the finest finds the same values
    assert pixel_scale(50_000, 480, [12.5, 40]) == 10**3  # one decimal, of a whole number of pixels: three
    assert pixel_scale(50_000, 480, [33.333333333333336]) == 10**10  # endless decimals: at most ten
    assert pixel_scale(50_000, 480, [1.5e-05]) == 10**8
