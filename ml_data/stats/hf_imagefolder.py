"""The ``hf-imagefolder`` layout: one folder per split, each with its ``metadata.jsonl`` (a JSON
object a line, its ``file_name`` relative to the split's folder) and ``classes.txt`` at the top
naming the class ids (line n: id n).

A detection row has ``width``, ``height`` and ``objects`` (``bbox`` as ``[x, y, width, height]``
in pixels from the top-left corner, as COCO's, and ``categories``, ids into ``classes.txt``); a
classification row has ``label`` (an id) or ``labels`` (ids): each is an instance of its class,
without a box to measure (counted in ``unmeasured_boxes``). A line that is not a JSON object, or a
row whose parts are wrong (no file name, an unknown class id, a bbox that is not four numbers,
lists of different lengths) is a problem of the dataset, reported with the rest.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

import orjson

from ml_data.errors import InvalidDataset
from ml_data.stats.files import DatasetFiles, FileFault, member
from ml_data.stats.model import Box, ImageEntry, Listing, Problem

METADATA = "metadata.jsonl"
CLASSES = "classes.txt"
#: How far (pixels) a box may reach past the image's edge before it is outside: float noise only.
_TOLERANCE = 1e-3
#: the name ``classes.txt`` gives a gap among explicit class ids (no class has that id)
_GAP = re.compile(r"unused_([0-9]+)\Z")


def split_folders(files: DatasetFiles) -> list[str]:
    """The folders at the top that hold a ``metadata.jsonl``: the splits."""
    _, folders = files.listing("")
    return [name for name in folders if METADATA in files.listing(name)[0]]


def read_hf_imagefolder(files: DatasetFiles, variant: str = "hf-imagefolder") -> Listing:
    """The ``hf-imagefolder`` dataset in ``files`` (see the module's docstring)."""
    found = split_folders(files)
    if not found:
        raise InvalidDataset(f"no <split>/{METADATA} in {files.root}")
    manifest_splits = files.manifest.splits if files.manifest is not None else ()
    splits = [*(name for name in manifest_splits if name in found), *sorted(set(found) - set(manifest_splits))]
    classes = _classes(files)

    def records() -> Iterator[ImageEntry | Problem]:
        for split in splits:
            yield from _split_records(files, split, classes)

    declared = tuple(name for index, name in enumerate(classes) if not _gap(index, name))
    return Listing(format=variant, classes=declared, splits=tuple(splits), records=records())


def _gap(index: int, name: str) -> bool:
    found = _GAP.match(name)
    return found is not None and int(found.group(1)) == index


def _classes(files: DatasetFiles) -> tuple[str, ...]:
    """The names of ``classes.txt``, by id (none without one: ids are then shown as numbers)."""
    try:
        data = files.read(CLASSES)
        text = data.decode("utf-8") if data is not None else ""
    except (FileFault, UnicodeDecodeError) as exc:
        raise InvalidDataset(f"{CLASSES} cannot be read as UTF-8 text ({exc})") from None
    return tuple(line.strip() for line in text.splitlines())


def _split_records(files: DatasetFiles, split: str, classes: tuple[str, ...]) -> Iterator[ImageEntry | Problem]:
    relative = f"{split}/{METADATA}"
    try:
        data = files.read(relative) or b""
    except FileFault as fault:
        yield Problem(relative, fault.reason, split, detail=fault.detail)
        return
    for number, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            yield Problem(relative, "a metadata line that is not JSON", split, line=number, detail=str(exc)[:80])
            continue
        if not isinstance(row, dict):
            yield Problem(relative, "a metadata line that is not an object", split, line=number)
            continue
        yield from _row(files, split, relative, number, row, classes)


def _row(
    files: DatasetFiles, split: str, relative: str, number: int, row: Mapping[str, Any], classes: tuple[str, ...]
) -> Iterator[ImageEntry | Problem]:
    objects: list[Box] = []
    faults: list[str] = []
    try:
        objects = _objects(row, classes, faults)
    except ValueError as exc:
        faults.append(str(exc))
    for fault in faults:
        yield Problem(relative, "a row whose objects or labels cannot be read", split, line=number, detail=fault)
    try:
        path = member(split, row.get("file_name"))
        sha256: str | None = files.image(path).sha256
    except FileFault as fault:
        path = f"{split}/{row.get('file_name')}"
        yield Problem(path, fault.reason, split, detail=fault.detail or f"{relative}:{number}")
        sha256 = None
    yield ImageEntry(split, path, sha256, tuple(objects))


def _objects(row: Mapping[str, Any], classes: tuple[str, ...], faults: list[str]) -> list[Box]:
    """The row's boxes (detection) or labels (classification); ValueError saying what is wrong
    with the row, ``faults`` what is wrong with one of its boxes (kept unmeasured)."""
    if "objects" in row:
        objects = row["objects"]
        if not isinstance(objects, dict):
            raise ValueError("objects is not an object")
        boxes, ids = objects.get("bbox"), objects.get("categories")
        if not isinstance(boxes, list) or not isinstance(ids, list) or len(boxes) != len(ids):
            raise ValueError("objects needs bbox and categories lists of one length")
        size = _size(row)
        found = []
        for index, (bbox, category) in enumerate(zip(boxes, ids, strict=True)):
            label = _name(category, classes)
            try:
                found.append(_box(label, bbox, size))
            except ValueError as exc:
                faults.append(f"object {index + 1}: {exc}")
                found.append(Box(label))
        return found
    if "labels" in row:
        labels = row["labels"]
        if not isinstance(labels, list):
            raise ValueError("labels is not a list")
        return [Box(_name(label, classes)) for label in labels]
    if "label" in row:
        return [Box(_name(row["label"], classes))]
    return []


def _name(category: Any, classes: tuple[str, ...]) -> str:
    if isinstance(category, bool) or not isinstance(category, int) or category < 0:
        raise ValueError(f"class id {category!r} is not a whole number")
    if not classes:
        return str(category)
    if category >= len(classes) or _gap(category, classes[category]):
        raise ValueError(f"class id {category} is not in {CLASSES}")
    return classes[category]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _size(row: Mapping[str, Any]) -> tuple[float, float] | None:
    width, height = _number(row.get("width")), _number(row.get("height"))
    return (width, height) if width and height and width > 0 and height > 0 else None


def _box(label: str, bbox: Any, size: tuple[float, float] | None) -> Box:
    """``[x, y, width, height]`` in pixels, measured against the row's image size."""
    if not isinstance(bbox, list) or len(bbox) != 4:
        raise ValueError("a bbox that is not [x, y, width, height]")
    x, y, width, height = (_number(value) for value in bbox)
    if x is None or y is None or width is None or height is None or width < 0 or height < 0:
        raise ValueError("a bbox that is not four finite numbers with sides of 0 or more")
    if size is None:
        return Box(label)
    outside = (
        x < -_TOLERANCE or y < -_TOLERANCE or x + width > size[0] + _TOLERANCE or y + height > size[1] + _TOLERANCE
    )
    return Box(label, width, height, outside)


__all__ = ["read_hf_imagefolder", "split_folders"]
