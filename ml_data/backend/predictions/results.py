"""Detections -> Label Studio result items, in the project's own terms (pure).

``from_name``/``to_name`` come from the labeling config: the ``RectangleLabels`` (boxes, rotated
boxes) or ``PolygonLabels`` (polygons) control that has the detection's label, on an ``<Image>``.
A box goes to a polygon control as its four corners, and a polygon to a box control as the box
around it, when only that kind of control has the label. Coordinates become percentages of the
image; a rotated box becomes Label Studio's rectangle turned by ``rotation`` degrees clockwise
around its top-left corner, which needs the image's size (angles are measured in pixels).

An image that is one item of a task with several is named as Label Studio names it: a page of a
``<Repeater>`` by its index in place of the index flag (``labels_{{idx}}`` on ``page_{{idx}}`` ->
``labels_2`` on ``page_2``), an item of a ``valueList`` by the result's ``item_index``.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ml_data.backend.predictions.model import Detection, ImageItem, ItemProblem, Polygon, Quad, Rect, shown
from ml_data.errors import FormatNotSupported
from ml_data.tasks.label_config import ControlTag, LabelConfig, ObjectTag

_KINDS = {"RectangleLabels": "rectanglelabels", "PolygonLabels": "polygonlabels"}


@dataclass(frozen=True)
class Target:
    """Where a label's results go: a control, the image it labels, and the label as the config spells it."""

    from_name: str
    to_name: str
    type: str
    label: str
    #: the image tag ``to_name`` names (a template inside a Repeater)
    image: ObjectTag | None = None

    def on(self, item: tuple[int, ...]) -> tuple[str, str, int | None]:
        """``from_name``, ``to_name`` and ``item_index`` of a result on ``item`` of a task
        (``()``: the task's only image); an :class:`ItemProblem` when the image cannot hold it."""
        tag = self.image
        if tag is None or not tag.multiple:
            if item:
                raise ItemProblem(
                    f"the image is item {_item_text(item)} of its task, but {shown(self.to_name)} shows one image"
                )
            return self.from_name, self.to_name, None
        key = tag.value_key or ""
        flags = sorted((flag for flag in tag.flags if flag in key), key=key.index)
        listed = tag.value_list is not None and not tag.value
        if not item:
            raise ItemProblem(f"{shown(tag.name)} shows several images of a task, and which one this is is not known")
        if len(item) != len(flags) + listed:
            raise ItemProblem(
                f"the image is item {_item_text(item)} of its task, which does not fit {shown(tag.name)} "
                f"({len(flags) + listed} index{'es' if len(flags) + listed != 1 else ''} expected)"
            )
        from_name, to_name = self.from_name, tag.name
        for flag, index in zip(flags, item, strict=False):
            from_name, to_name = from_name.replace(flag, str(index)), to_name.replace(flag, str(index))
        if any(flag in from_name or flag in to_name for flag in tag.flags):
            raise ItemProblem(f"{shown(self.from_name)} on {shown(tag.name)} uses a Repeater index its value does not")
        return from_name, to_name, item[-1] if listed else None


@dataclass(frozen=True)
class Targets:
    """The shape controls of a config that label an image, in config order."""

    controls: tuple[tuple[ControlTag, ObjectTag], ...]

    @classmethod
    def from_config(cls, config: LabelConfig) -> Targets:
        images = {name: tag for name, tag in config.objects.items() if tag.type == "Image"}
        controls = []
        for control in config.controls.values():
            target = next((images[name] for name in control.to_names if name in images), None)
            if control.type in _KINDS and target is not None:
                controls.append((control, target))
        if not controls:
            raise FormatNotSupported(
                "the project's labeling config has no <RectangleLabels> or <PolygonLabels> on an <Image>: "
                "there is nothing to attach boxes to"
            )
        return cls(tuple(controls))

    @property
    def names(self) -> frozenset[str]:
        """The controls' names as the config writes them (``labels_{{idx}}`` inside a Repeater)."""
        return frozenset(control.name for control, _image in self.controls)

    def find(self, label: str, prefer: str) -> Target:
        """The control of type ``prefer`` (else the other shape type) that has ``label``; a label
        that differs from a config label only in case takes the config's spelling."""
        for wanted in (prefer, *[kind for kind in _KINDS if kind != prefer]):
            for exact in (True, False):
                for control, image in self.controls:
                    if control.type != wanted:
                        continue
                    spelled = _label_in(control.label_values, label, exact)
                    if spelled is not None:
                        return Target(control.name, image.name, _KINDS[wanted], spelled, image)
        raise ItemProblem(f"label {shown(label)} is not a label of the project's box or polygon controls")


def _label_in(labels: Sequence[str], label: str, exact: bool) -> str | None:
    if exact:
        return label if label in labels else None
    folded = [value for value in labels if value.casefold() == label.casefold()]
    return folded[0] if len(folded) == 1 else None


def prediction_results(
    item: ImageItem, size: tuple[int, int] | None, targets: Targets, task_id: int, on: tuple[int, ...] = ()
) -> list[dict[str, Any]]:
    """The results of one image of a task (``size``: width and height, when known; ``on``: which
    of the task's images it is, ``()`` for its only one)."""
    results = []
    for index, detection in enumerate(item.detections):
        prefer = "PolygonLabels" if isinstance(detection.shape, Polygon) else "RectangleLabels"
        target = targets.find(detection.label, prefer)
        from_name, to_name, item_index = target.on(on)
        value = _value(detection, target.type, size)
        value[target.type] = [target.label]
        result: dict[str, Any] = {
            "id": _region_id(task_id, item.source, index),
            "from_name": from_name,
            "to_name": to_name,
            "type": target.type,
            "value": value,
        }
        if item_index is not None:
            result["item_index"] = item_index
        if size is not None:
            result.update(original_width=size[0], original_height=size[1], image_rotation=0)
        if detection.score is not None:
            result["score"] = detection.score
        results.append(result)
    return results


def prediction_score(*items: ImageItem) -> float | None:
    """The prediction's score: the mean of its detections' scores, over every image of the task
    (None when none has one)."""
    scores = [detection.score for item in items for detection in item.detections if detection.score is not None]
    return sum(scores) / len(scores) if scores else None


def _item_text(item: tuple[int, ...]) -> str:
    return "-".join(str(index) for index in item)


def _region_id(task_id: int, source: str, index: int) -> str:
    """Stable across runs (a dry run and the import it previews agree), unique within a task."""
    return hashlib.sha256(f"{task_id}\0{source}\0{index}".encode("utf-8", "replace")).hexdigest()[:10]


def _value(detection: Detection, kind: str, size: tuple[int, int] | None) -> dict[str, Any]:
    shape = detection.shape
    if kind == "polygonlabels":
        points = shape.points if isinstance(shape, Polygon) else _corners(shape)
        return {"points": [[x * 100, y * 100] for x, y in points], "closed": True}
    if isinstance(shape, Rect):
        return _percent(shape.x, shape.y, shape.width, shape.height, 0.0)
    if isinstance(shape, Polygon):
        xs, ys = [x for x, _ in shape.points], [y for _, y in shape.points]
        return _percent(min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys), 0.0)
    if size is None:
        raise ItemProblem("a rotated box needs the image's size (its angle is measured in pixels), and it is unknown")
    width, height = size
    x, y, w, h, rotation = rotated_box([(px * width, py * height) for px, py in shape.corners])
    return _percent(x / width, y / height, w / width, h / height, rotation)


def _percent(x: float, y: float, width: float, height: float, rotation: float) -> dict[str, Any]:
    return {"x": x * 100, "y": y * 100, "width": width * 100, "height": height * 100, "rotation": rotation}


def _corners(shape: Rect | Quad) -> tuple[tuple[float, float], ...]:
    if isinstance(shape, Quad):
        return shape.corners
    x0, y0, x1, y1 = shape.x, shape.y, shape.x + shape.width, shape.y + shape.height
    return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))


def rotated_box(corners: Sequence[tuple[float, float]]) -> tuple[float, float, float, float, float]:
    """Four corners in pixels (any order around the box, any starting corner) -> Label Studio's
    rectangle: top-left corner, width, height and rotation in degrees, clockwise around that corner.

    Of the four ways to name the same box, the one with a rotation from 0 up to 90 degrees is
    chosen; sides are averaged, so corners moved a little (clamped to the image) still give a box.

    >>> [round(v, 6) for v in rotated_box([(10.0, 10.0), (20.0, 10.0), (20.0, 30.0), (10.0, 30.0)])]
    [10.0, 10.0, 10.0, 20.0, 0.0]
    """
    points = list(corners)
    area = sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(points, points[1:] + points[:1], strict=True))
    if area < 0:  # counter-clockwise on screen (the y axis points down): walk it the other way
        points = [points[0], points[3], points[2], points[1]]
    angles = []
    for index in range(4):
        (x1, y1), (x2, y2) = points[index], points[(index + 1) % 4]
        angle = math.degrees(math.atan2(y2 - y1, x2 - x1)) % 360.0
        angles.append(0.0 if angle > 360.0 - 1e-9 else angle)
    start = min(range(4), key=lambda index: angles[index])
    a, b, c, d = (points[(start + step) % 4] for step in range(4))
    width = (math.dist(a, b) + math.dist(d, c)) / 2
    height = (math.dist(a, d) + math.dist(b, c)) / 2
    return float(a[0]), float(a[1]), width, height, angles[start]
