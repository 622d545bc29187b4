"""Ultralytics' layout (the four YOLO variants): ``images/<split>/`` beside ``labels/<split>/``
(``images/`` and ``labels/`` for ``default``, a dataset written without splits), one
``<stem>.txt`` per image, classes from ``classes.txt`` (else ``data.yaml``'s ``names``).

Which variant a label line is read as: the manifest's format when the dataset has one; otherwise
``yolo-pose`` when ``data.yaml`` has ``kpt_shape``, else by the line's length (5 fields: a box;
an odd number from 7: a polygon, the corners of an oriented box read as one). An image without a
label file has no objects, as Ultralytics takes it. A line that is not what its variant writes is
a problem of the dataset, reported with the rest (the image's other lines still count).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass

from ml_data.errors import InvalidDataset
from ml_data.stats.files import DatasetFiles, FileFault
from ml_data.stats.model import Box, ImageEntry, Listing, Problem

#: How far (in image widths/heights) a shape may reach past an edge before it is outside: the
#: rounding of the six decimals written, nothing more.
_TOLERANCE = 2e-6
_KPT_SHAPE = re.compile(r"^kpt_shape:\s*\[\s*(\d+)\s*,\s*([23])\s*\]", re.MULTILINE)
_NAME_LINE = re.compile(r"^\s+(\d+)\s*:\s*(.+?)\s*$")


@dataclass(frozen=True)
class Shape:
    """A label line's geometry, normalised to the image: a box (``cx cy w h``) or points."""

    kind: str  # "box", "obb" or "polygon"
    values: tuple[float, ...]

    def measure(self, label: str, size: tuple[int, int] | None) -> Box:
        """The shape's sides in pixels (None without the image's size) and whether it reaches
        outside the image."""
        if self.kind == "box":
            cx, cy, w, h = self.values
            edges = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
            outside = min(edges) < -_TOLERANCE or max(edges) > 1 + _TOLERANCE
            return Box(label, w * size[0], h * size[1], outside) if size else Box(label, outside=outside)
        outside = min(self.values) < -_TOLERANCE or max(self.values) > 1 + _TOLERANCE
        if size is None:
            return Box(label, outside=outside)
        points = [(x * size[0], y * size[1]) for x, y in zip(self.values[::2], self.values[1::2], strict=True)]
        if self.kind == "obb":  # the rotated box's own sides
            (x0, y0), (x1, y1), (x2, y2) = points[:3]
            return Box(label, math.dist((x0, y0), (x1, y1)), math.dist((x1, y1), (x2, y2)), outside)
        xs, ys = [x for x, _ in points], [y for _, y in points]
        return Box(label, max(xs) - min(xs), max(ys) - min(ys), outside)


def parse_line(text: str, variant: str | None, classes: int, keypoints: tuple[int, int] | None) -> tuple[int, Shape]:
    """One label line -> (class id, shape); a :class:`FileFault` saying what is wrong with it.

    >>> parse_line("1 0.5 0.5 0.2 0.1", "yolo", 2, None)
    (1, Shape(kind='box', values=(0.5, 0.5, 0.2, 0.1)))
    """
    fields = text.split()
    try:
        numbers = [float(field) for field in fields]
    except ValueError:
        raise FileFault("a label line that is not numbers", text[:60]) from None
    if not all(math.isfinite(number) for number in numbers):
        raise FileFault("a label line that is not numbers", text[:60])
    count = len(numbers)
    kind = _kind(count, variant, keypoints)
    if kind is None:
        expected = _EXPECTED.get(variant or "", "5 fields, or an odd number from 7")
        raise FileFault(f"a label line of the wrong length for {variant or 'YOLO'} ({expected})", f"{count} fields")
    class_id = numbers[0]
    if not class_id.is_integer() or not 0 <= class_id < classes:
        raise FileFault("a class id that is not in the class list", f"{fields[0][:20]} of {classes} classes")
    values = tuple(numbers[1:5] if kind == "box" else numbers[1:])
    if kind == "box" and (values[2] < 0 or values[3] < 0):
        raise FileFault("a box with a negative width or height", text[:60])
    return int(class_id), Shape(kind, values)


_EXPECTED = {
    "yolo": "5 fields",
    "yolo-obb": "9 fields",
    "yolo-seg": "an odd number of fields from 7",
    "yolo-pose": "5 fields and 2 or 3 per keypoint",
}


def _kind(count: int, variant: str | None, keypoints: tuple[int, int] | None) -> str | None:
    if variant == "yolo-pose":
        if keypoints is not None:
            return "box" if count == 5 + keypoints[0] * keypoints[1] else None
        return "box" if count >= 5 else None
    if variant == "yolo-obb":
        return "obb" if count == 9 else None
    polygon = count >= 7 and count % 2 == 1
    if variant == "yolo-seg":
        return "polygon" if polygon else None
    if count == 5:
        return "box"
    return "polygon" if polygon and variant is None else None


def read_yolo(files: DatasetFiles, variant: str = "yolo") -> Listing:
    """The YOLO dataset in ``files`` (see the module's docstring); ``variant`` is the manifest's
    format, or ``yolo`` when the dataset has none (lines then read by their length)."""
    yaml_text = _text(files, "data.yaml")
    classes = _classes(files, yaml_text)
    shape = _KPT_SHAPE.search(yaml_text or "")
    keypoints = (int(shape.group(1)), int(shape.group(2))) if shape else None
    line_variant: str | None = variant
    if files.manifest is None or files.manifest.format != variant:
        line_variant = "yolo-pose" if keypoints else None
    image_files, image_folders = files.listing("images")
    label_files, label_folders = files.listing("labels")
    if not (image_files or image_folders or label_files or label_folders):
        raise InvalidDataset(f"no images/ or labels/ in {files.root}")
    found = set(image_folders) | set(label_folders)
    manifest_splits = files.manifest.splits if files.manifest is not None else ()
    splits = [*manifest_splits, *sorted(found - set(manifest_splits))]
    if (image_files or label_files or not splits) and "default" not in splits:
        splits.append("default")

    def records() -> Iterator[ImageEntry | Problem]:
        for split in splits:
            where = "" if split == "default" and "default" not in found else f"/{split}"
            yield from _split_records(files, split, where, classes, line_variant, keypoints)

    name = "yolo-pose" if keypoints and variant == "yolo" else variant
    return Listing(format=name, classes=classes, splits=tuple(splits), records=records())


def _split_records(
    files: DatasetFiles,
    split: str,
    where: str,
    classes: tuple[str, ...],
    variant: str | None,
    keypoints: tuple[int, int] | None,
) -> Iterator[ImageEntry | Problem]:
    images, _ = files.listing(f"images{where}")
    labels = {name[: -len(".txt")] for name in files.listing(f"labels{where}")[0] if name.endswith(".txt")}
    for name in images:
        stem = name.rsplit(".", 1)[0] if "." in name else name
        path = f"images{where}/{name}"
        try:
            image = files.image(path, size=True)
            sha256, size = image.sha256, image.size
        except FileFault as fault:
            yield Problem(path, fault.reason, split, detail=fault.detail)
            sha256, size = None, None
        objects: list[Box] = []
        if stem in labels:
            labels.discard(stem)
            yield from _label_file(
                files, f"labels{where}/{stem}.txt", split, classes, variant, keypoints, size, objects
            )
        yield ImageEntry(split, path, sha256, tuple(objects))
    for stem in sorted(labels):
        yield Problem(f"labels{where}/{stem}.txt", "a label file without an image", split)


def _label_file(
    files: DatasetFiles,
    relative: str,
    split: str,
    classes: tuple[str, ...],
    variant: str | None,
    keypoints: tuple[int, int] | None,
    size: tuple[int, int] | None,
    objects: list[Box],
) -> Iterator[Problem]:
    """The problems of one label file; its objects are added to ``objects``."""
    try:
        text = (files.read(relative) or b"").decode("utf-8")
    except FileFault as fault:
        yield Problem(relative, fault.reason, split, detail=fault.detail)
        return
    except UnicodeDecodeError:
        yield Problem(relative, "a label file that is not UTF-8 text", split)
        return
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            class_id, shape = parse_line(line, variant, len(classes), keypoints)
        except FileFault as fault:
            yield Problem(relative, fault.reason, split, line=number, detail=fault.detail)
            continue
        objects.append(shape.measure(classes[class_id], size))


def _text(files: DatasetFiles, relative: str) -> str | None:
    try:
        data = files.read(relative)
        return data.decode("utf-8") if data is not None else None
    except (FileFault, UnicodeDecodeError) as exc:
        raise InvalidDataset(f"{relative} cannot be read as UTF-8 text ({exc})") from None


def _classes(files: DatasetFiles, yaml_text: str | None) -> tuple[str, ...]:
    """The class names: ``classes.txt``, one a line; else the ``names:`` of ``data.yaml`` as
    ml-data writes it (``  <id>: "<name>"``, ids from 0)."""
    text = _text(files, "classes.txt")
    if text is not None:
        lines = text.split("\n")
        if lines and lines[-1] == "":  # the newline that ends the last name
            lines.pop()
        return tuple(line.rstrip("\r") for line in lines)
    named: dict[int, str] = {}
    in_names = False
    for line in (yaml_text or "").splitlines():
        if not line.startswith(" "):
            in_names = line.rstrip() == "names:"
            continue
        match = _NAME_LINE.match(line) if in_names else None
        if match:
            named[int(match.group(1))] = _scalar(match.group(2))
    if not named:
        raise InvalidDataset(f"no classes.txt in {files.root}, and no names in its data.yaml")
    return tuple(named.get(index, f"unused_{index}") for index in range(max(named) + 1))


def _scalar(text: str) -> str:
    """A YAML scalar as ml-data writes names: a JSON string (a valid double-quoted YAML scalar),
    or a plain one."""
    if text.startswith('"'):
        try:
            value = json.loads(text)
        except ValueError:
            return text
        return value if isinstance(value, str) else text
    return text.strip("'")


__all__ = ["Shape", "parse_line", "read_yolo"]
