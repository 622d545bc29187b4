"""COCO's standard layout: ``annotations/instances_<split>.json``, each image at
``images/<split>/<file_name>`` (``images/<file_name>`` for ``default``, the split of a dataset
written without splits).

An annotation file that is not JSON, or lacks its ``images``, ``annotations`` or ``categories``
list, is an :class:`~ml_data.errors.InvalidDataset`; an image or annotation record that is wrong
(no id, an unknown image or category, a bbox that is not four numbers) is a problem of the
dataset, reported with the rest.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

import orjson

from ml_data.errors import InvalidDataset
from ml_data.stats.files import DatasetFiles, FileFault, member, require
from ml_data.stats.model import Box, ImageEntry, Listing, Problem

_INSTANCES = re.compile(r"instances_(.+)\.json\Z")
#: How far (pixels) a box may reach past the image's edge before it is outside: float noise only.
_TOLERANCE = 1e-3


def read_coco(files: DatasetFiles, variant: str = "coco") -> Listing:
    """The COCO dataset in ``files`` (see the module's docstring)."""
    names, _ = files.listing("annotations")
    found = [match.group(1) for name in names if (match := _INSTANCES.match(name))]
    if not found:
        raise InvalidDataset(f"no annotations/instances_<split>.json in {files.root}")
    manifest_splits = files.manifest.splits if files.manifest is not None else ()
    splits = [*(name for name in manifest_splits if name in found), *sorted(set(found) - set(manifest_splits))]
    documents = {split: _document(files, f"annotations/instances_{split}.json") for split in splits}
    classes: dict[str, None] = {}
    for document in documents.values():
        for category in _categories(document["categories"]).values():
            classes.setdefault(category)

    def records() -> Iterator[ImageEntry | Problem]:
        for split in splits:
            folder = "images" if split == "default" and not files.is_dir("images/default") else f"images/{split}"
            yield from _split_records(files, split, folder, documents.pop(split))

    return Listing(format=variant, classes=tuple(classes), splits=tuple(splits), records=records())


def _document(files: DatasetFiles, relative: str) -> dict[str, Any]:
    try:
        data = require(files.read(relative), relative)
        document = orjson.loads(data)
    except FileFault as fault:
        raise InvalidDataset(f"{relative}: {fault}") from None
    except orjson.JSONDecodeError as exc:
        raise InvalidDataset(f"{relative} is not JSON ({exc})") from None
    if not isinstance(document, dict):
        raise InvalidDataset(f"{relative} is not a COCO object (a JSON {type(document).__name__})")
    for key in ("images", "annotations", "categories"):
        if not isinstance(document.get(key), list):
            raise InvalidDataset(f"{relative} has no {key!r} list")
    document["relative"] = relative
    return document


def _categories(records: list[Any]) -> dict[Any, str]:
    """Category id -> name (records without a hashable id or a text name are left out; the
    annotations that use them are then reported)."""
    found: dict[Any, str] = {}
    for record in records:
        if isinstance(record, dict) and isinstance(record.get("name"), str) and _is_id(record.get("id")):
            found.setdefault(record["id"], record["name"])
    return found


def _is_id(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or isinstance(value, str)


def _split_records(
    files: DatasetFiles, split: str, folder: str, document: Mapping[str, Any]
) -> Iterator[ImageEntry | Problem]:
    relative = document["relative"]
    categories = _categories(document["categories"])
    images: dict[Any, dict[str, Any]] = {}
    for record in document["images"]:
        if not isinstance(record, dict) or not _is_id(record.get("id")):
            yield Problem(relative, "an image record without an id", split, detail=repr(record)[:80])
        elif record["id"] in images:
            yield Problem(relative, "two image records with the same id", split, detail=f"id {record['id']}")
        else:
            images[record["id"]] = record
    objects: dict[Any, list[Box]] = {}
    for annotation in document["annotations"]:
        image_id = annotation.get("image_id") if isinstance(annotation, dict) else None
        if not _is_id(image_id) or image_id not in images:
            yield Problem(relative, "an annotation of an image that is not listed", split, detail=repr(image_id)[:60])
            continue
        label = categories.get(annotation.get("category_id")) if _is_id(annotation.get("category_id")) else None
        if label is None:
            detail = f"category {annotation.get('category_id')!r}"[:60]
            yield Problem(relative, "an annotation whose category is not in categories", split, detail=detail)
            continue
        try:
            box = _box(label, annotation.get("bbox"), _size(images[image_id]))
        except ValueError as exc:
            yield Problem(
                relative, "an annotation without a usable bbox", split, detail=f"id {annotation.get('id')}: {exc}"
            )
            box = Box(label)
        objects.setdefault(image_id, []).append(box)
    for image_id, record in images.items():
        size = _size(record)
        if size is None:
            yield Problem(relative, "an image without a usable width and height", split, detail=f"id {image_id}")
        try:
            path = member(folder, record.get("file_name"))
            sha256: str | None = files.image(path).sha256
        except FileFault as fault:
            path = f"{folder}/{record.get('file_name')}"
            yield Problem(path, fault.reason, split, detail=fault.detail)
            sha256 = None
        yield ImageEntry(split, path, sha256, tuple(objects.pop(image_id, ())))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _size(record: Mapping[str, Any]) -> tuple[float, float] | None:
    width, height = _number(record.get("width")), _number(record.get("height"))
    return (width, height) if width and height and width > 0 and height > 0 else None


def _box(label: str, bbox: Any, size: tuple[float, float] | None) -> Box:
    """A COCO ``[x, y, width, height]`` in pixels; ValueError when it is not four finite numbers
    with a width and height of at least 0."""
    if not isinstance(bbox, list) or len(bbox) != 4:
        raise ValueError("not [x, y, width, height]")
    x, y, width, height = (_number(value) for value in bbox)
    if x is None or y is None or width is None or height is None:
        raise ValueError("not four finite numbers")
    if width < 0 or height < 0:
        raise ValueError("a negative width or height")
    outside = size is not None and (
        x < -_TOLERANCE or y < -_TOLERANCE or x + width > size[0] + _TOLERANCE or y + height > size[1] + _TOLERANCE
    )
    return Box(label, width, height, outside)


__all__ = ["read_coco"]
