"""Keyframe interpolation against Label Studio's own (``extract_key_frames``, what its export runs
with ``interpolate_key_frames``), on generated tracks."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from label_studio_sdk._extensions.label_studio_tools.postprocessing.video import extract_key_frames

from ml_data.errors import InvalidExport, MlDataError
from ml_data.video.interpolation import BOX_FIELDS, parse_keyframes, track_boxes

_coordinate = st.floats(min_value=-50, max_value=150, allow_nan=False) | st.integers(min_value=0, max_value=100)
_keyframe = st.fixed_dictionaries(
    {
        "frame": st.integers(min_value=1, max_value=40),
        "enabled": st.booleans(),
        "x": _coordinate,
        "y": _coordinate,
        "width": _coordinate,
        "height": _coordinate,
        "rotation": st.floats(min_value=-360, max_value=360, allow_nan=False) | st.just(0),
        "time": st.floats(min_value=0, max_value=10, allow_nan=False),
    }
)


def _reference(value: dict[str, Any]) -> list[dict[str, Any]]:
    (result,) = extract_key_frames([{"type": "videorectangle", "value": value}])
    return result["value"]["sequence"]


@settings(max_examples=400, deadline=None)
@given(
    sequence=st.lists(_keyframe, min_size=1, max_size=8),
    frames_count=st.integers(min_value=0, max_value=60),
)
def test_boxes_equal_label_studios_interpolation(sequence: list[dict[str, Any]], frames_count: int) -> None:
    value = {"sequence": sequence, "framesCount": frames_count, "duration": 2.0, "labels": ["car"]}
    expected = _reference(value)
    boxes = track_boxes(value)
    assert [box.frame for box in boxes] == [item["frame"] for item in expected]
    for box, item in zip(boxes, expected, strict=True):
        assert box.keyframe is not item.get("auto", False)
        for name in BOX_FIELDS:
            assert getattr(box, name) == pytest.approx(item[name], abs=1e-9, rel=0)


def test_a_disabled_keyframe_ends_the_track() -> None:
    value = {
        "framesCount": 10,
        "sequence": [
            {"frame": 1, "enabled": True, "x": 0, "y": 0, "width": 10, "height": 10, "rotation": 0},
            {"frame": 5, "enabled": False, "x": 40, "y": 0, "width": 10, "height": 10, "rotation": 0},
        ],
    }
    boxes = track_boxes(value)
    assert [box.frame for box in boxes] == [1, 2, 3, 4, 5]
    assert [box.x for box in boxes] == [0, 10, 20, 30, 40]


def test_no_box_is_made_past_the_last_frame_asked_for() -> None:
    """A framesCount or keyframe of 10**12 (a hostile export) costs the frames written, not 10**12
    boxes; the frames up to ``last`` are Label Studio's."""
    first = {"frame": 1, "enabled": True, "x": 0, "y": 0, "width": 10, "height": 10, "rotation": 0, "time": 0}
    far = {**first, "frame": 10**12, "x": 50}
    held = track_boxes({"framesCount": 10**12, "sequence": [first]}, last=30)
    assert [box.frame for box in held] == list(range(1, 31))
    moving = track_boxes({"framesCount": 10**12, "sequence": [first, far]}, last=30)
    assert [box.frame for box in moving] == [*range(1, 31), 10**12]
    small = {"framesCount": 60, "sequence": [first, {**first, "frame": 40, "x": 39}], "labels": ["car"]}
    # every keyframe stays; the frames between are Label Studio's, up to ``last``
    expected = [item for item in _reference(small) if item["frame"] <= 20 or not item.get("auto", False)]
    assert [(box.frame, box.x) for box in track_boxes(small, last=20)] == [
        (item["frame"], pytest.approx(item["x"])) for item in expected
    ]


@pytest.mark.parametrize(
    "sequence",
    [
        "not a list",
        [{"frame": 1.5, "x": 0, "y": 0, "width": 1, "height": 1}],
        [{"frame": True, "x": 0, "y": 0, "width": 1, "height": 1}],
        [{"frame": 1, "x": "0", "y": 0, "width": 1, "height": 1}],
        [{"frame": 1, "x": float("nan"), "y": 0, "width": 1, "height": 1}],
        [{"frame": 1, "y": 0, "width": 1, "height": 1}],
        [{"frame": 1, "x": 0, "y": 0, "width": 1, "height": 1, "enabled": "no"}],
        [7],
    ],
)
def test_a_malformed_keyframe_is_refused_naming_the_task(sequence: Any) -> None:
    with pytest.raises(InvalidExport) as caught:
        parse_keyframes(sequence, task_id=42)
    assert isinstance(caught.value, MlDataError) and isinstance(caught.value, ValueError)
    assert caught.value.task_id == 42
