"""Keyframes of a video track -> the track's box in every frame, as Label Studio's export computes
them with ``interpolate_key_frames`` (``extract_key_frames`` in the label-studio-sdk).

Pure: no decoding, no IO. A track is the ``sequence`` of a ``videorectangle`` result; each keyframe
holds the box (percent of the frame, like an image rectangle) at one frame number (1-based).
Between an enabled keyframe and the next one the box moves linearly in x, y, width, height and
rotation; after the last enabled keyframe it stays where it is up to ``framesCount``; a keyframe
with ``enabled: false`` keeps its own box and ends the track until the next keyframe.

The arithmetic is Label Studio's, term for term (``a + (b - a) * (i / (n - 1))``, and no change at
all where the two keyframes agree), so the boxes are the ones its export holds, not merely close.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ml_data.errors import InvalidExport

#: The box fields that are interpolated, in the order a box lists them.
BOX_FIELDS = ("x", "y", "width", "height", "rotation")


@dataclass(frozen=True)
class Keyframe:
    """One checked keyframe of a track."""

    frame: int
    enabled: bool
    x: float
    y: float
    width: float
    height: float
    rotation: float


@dataclass(frozen=True)
class FrameBox:
    """A track's box in one frame; ``keyframe`` is False for the frames interpolated between."""

    frame: int
    x: float
    y: float
    width: float
    height: float
    rotation: float
    keyframe: bool

    def as_value(self) -> dict[str, float]:
        """The box in Label Studio's rectangle ``value`` form (percent of the frame)."""
        return {"x": self.x, "y": self.y, "width": self.width, "height": self.height, "rotation": self.rotation}


def parse_keyframes(sequence: Any, *, task_id: Any = None) -> list[Keyframe]:
    """A ``videorectangle`` result's ``sequence`` -> checked keyframes, in the order given.

    A keyframe without a whole frame number or with a box field that is not a finite number is
    refused (naming the task): interpolating it would write a box nobody drew. ``rotation``
    defaults to 0 and ``enabled`` to true, as Label Studio's editor reads them.

    >>> parse_keyframes([{"frame": 1, "x": 10, "y": 5, "width": 20, "height": 20}])[0].width
    20.0
    """
    if not isinstance(sequence, list):
        raise InvalidExport("a videorectangle result's value.sequence is not a list", task_id=task_id)
    keyframes = []
    for index, item in enumerate(sequence):
        where = f"keyframe {index} of a videorectangle sequence"
        if not isinstance(item, Mapping):
            raise InvalidExport(f"{where} is not an object", task_id=task_id)
        frame = item.get("frame")
        if isinstance(frame, bool) or not isinstance(frame, int):
            raise InvalidExport(f"{where} has no whole frame number (frame={frame!r})", task_id=task_id)
        enabled = item.get("enabled", True)
        if not isinstance(enabled, bool):
            raise InvalidExport(f"{where} has enabled={enabled!r} (true or false)", task_id=task_id)
        box = {name: _number(item, name, where, task_id) for name in BOX_FIELDS}
        keyframes.append(Keyframe(frame=frame, enabled=enabled, **box))
    return keyframes


def _number(item: Mapping[str, Any], name: str, where: str, task_id: Any) -> float:
    value = item.get(name, 0 if name == "rotation" else None)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidExport(f"{where} has {name}={value!r} (a finite number)", task_id=task_id)
    return float(value)


def interpolate(keyframes: Sequence[Keyframe], frames_count: int, *, last: int | None = None) -> list[FrameBox]:
    """Every frame's box of one track, by frame number (keyframes of equal frames in their order).

    ``frames_count`` is the annotation's ``framesCount``: an enabled last keyframe holds its box up
    to it. Each keyframe is there, enabled or not; frames are added after each enabled one, up to
    ``last`` where given (the video's last frame): a ``framesCount`` or keyframe of 10**12 must not
    make a box for every frame up to it.

    >>> a = Keyframe(1, True, 0.0, 0.0, 10.0, 10.0, 0.0); b = Keyframe(3, False, 20.0, 0.0, 10.0, 10.0, 0.0)
    >>> [(box.frame, box.x) for box in interpolate([a, b], 10)]
    [(1, 0.0), (2, 10.0), (3, 20.0)]
    """
    ordered = sorted(keyframes, key=lambda keyframe: keyframe.frame)  # stable, as Label Studio's
    boxes: list[FrameBox] = []
    for index, first in enumerate(ordered):
        boxes.append(_box(first, first.frame, keyframe=True))
        if not first.enabled:
            continue
        nxt = ordered[index + 1] if index + 1 < len(ordered) else None
        boxes.extend(_between(first, nxt, frames_count, last))
    return boxes


def _between(first: Keyframe, nxt: Keyframe | None, frames_count: int, last: int | None) -> Iterable[FrameBox]:
    """The frames strictly after ``first`` up to the next keyframe (or up to ``frames_count``),
    none past ``last``."""
    count = (nxt.frame if nxt is not None else frames_count) - first.frame + 1
    steps = count if last is None else min(count, last - first.frame + 1)
    if nxt is None:
        for step in range(1, steps):
            yield _box(first, first.frame + step, keyframe=False)
        return
    # Each field's two ends looked up once per pair of keyframes, not once per frame.
    ends = [(getattr(first, name), getattr(nxt, name)) for name in BOX_FIELDS]
    for step in range(1, steps):
        frame = first.frame + step
        if frame == nxt.frame:
            continue
        delta = step / max(1, count - 1)
        x, y, w, h, turn = [start if start == end else start + (end - start) * delta for start, end in ends]
        yield FrameBox(frame, x, y, w, h, turn, False)


def _box(source: Keyframe, frame: int, *, keyframe: bool) -> FrameBox:
    """``source``'s box, held at ``frame``."""
    return FrameBox(
        frame=frame,
        x=source.x,
        y=source.y,
        width=source.width,
        height=source.height,
        rotation=source.rotation,
        keyframe=keyframe,
    )


def track_boxes(value: Mapping[str, Any], *, task_id: Any = None, last: int | None = None) -> list[FrameBox]:
    """A ``videorectangle`` result's ``value`` -> the track's box in every frame (up to ``last``)."""
    frames_count = value.get("framesCount", 0)
    if isinstance(frames_count, bool) or not isinstance(frames_count, int):
        raise InvalidExport(f"a videorectangle result has framesCount={frames_count!r}", task_id=task_id)
    return interpolate(parse_keyframes(value.get("sequence"), task_id=task_id), frames_count, last=last)


__all__ = ["BOX_FIELDS", "FrameBox", "Keyframe", "interpolate", "parse_keyframes", "track_boxes"]
