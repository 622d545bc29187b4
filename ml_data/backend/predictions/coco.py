"""COCO files of a model's output: ``images``, ``categories`` and ``annotations`` with an
optional ``score`` each (ml-data's ``result.json`` and ``annotations/instances_<subset>.json``,
datumaro's, CVAT's), or a results list (``[{"image_id", "category_id", "bbox", "score"}]``, as
pycocotools and detectron2 write it) read against the dataset's own COCO file for its images and
categories.

Per annotation: a ``segmentation`` that is one rotated rectangle (four corners at right angles, as
ml-data writes a rotated box) is that rotated box; another polygon is a polygon; else the
``bbox``. Category ids map to names through ``categories``; an unknown id is that image's problem.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ml_data.backend.predictions.folder import read_item
from ml_data.backend.predictions.model import (
    Detection,
    Geometry,
    ImageItem,
    Item,
    ItemProblem,
    Polygon,
    Quad,
    Rect,
    Unreadable,
    confidence,
    fraction,
    image_side,
    json_number,
    shown,
    subset_folders,
)
from ml_data.errors import InvalidExport
from ml_data.jsonio import loads

#: A COCO file is read whole; larger than this it is not a model's output for one dataset.
MAX_COCO_BYTES = 1024 * 1024 * 1024


def coco_files(folder: Path) -> list[Path]:
    """The COCO files of a folder (or the file itself): ``result.json``, else
    ``annotations/*.json``, else the JSON files at its top (never ``manifest.json``)."""
    if folder.is_file():
        return [folder]
    if (folder / "result.json").is_file():
        return [folder / "result.json"]
    annotations = sorted(path for path in (folder / "annotations").glob("*.json") if path.is_file())
    if annotations:
        return annotations
    return sorted(path for path in folder.glob("*.json") if path.is_file() and path.name != "manifest.json")


def load(path: Path) -> Any:
    """A COCO file's JSON (a bounded, regular file; broken JSON is an :class:`InvalidExport`)."""
    try:
        # jsonio reads what orjson refuses (integers past 64 bits, NaN): such a number is then
        # one annotation's problem, not the whole file's.
        return loads(read_item(path, MAX_COCO_BYTES))
    except ItemProblem as exc:
        raise InvalidExport(f"{path} {exc}") from None
    except (ValueError, RecursionError) as exc:
        raise InvalidExport(f"{path} is not valid JSON ({type(exc).__name__})") from None


def read_coco(files: list[Path], root: Path, reference: list[Path]) -> Iterator[Item]:
    """An item per image of the COCO ``files`` (``root``: the folder reported paths are relative
    to). A results list takes its images and categories from the one file in ``reference``."""
    for path in files:
        data = load(path)
        source = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
        if isinstance(data, list):
            data = {**_reference(reference, path), "annotations": data}
        if not isinstance(data, Mapping) or not isinstance(data.get("images"), list):
            raise InvalidExport(f"{path} is not a COCO file (no images list)")
        yield from _items(data, source, _subset(path))


def _reference(reference: list[Path], results: Path) -> dict[str, Any]:
    files = [path for path in reference if path != results]
    if len(files) != 1:
        raise InvalidExport(
            f"{results} is a COCO results list: its image ids need the dataset's COCO file, and "
            f"{'none was' if not files else 'several were'} found (give the dataset folder with one)"
        )
    data = load(files[0])
    if not isinstance(data, Mapping):
        raise InvalidExport(f"{files[0]} is not a COCO file")
    return {"images": data.get("images"), "categories": data.get("categories")}


def _subset(path: Path) -> str | None:
    """``instances_train.json`` -> ``train`` (``default`` means no subset)."""
    stem = path.stem
    subset = stem[len("instances_") :] if stem.startswith("instances_") else None
    return None if subset in (None, "", "default") else subset


def _items(data: Mapping[str, Any], source: str, subset: str | None) -> Iterator[Item]:
    names = _categories(data.get("categories"), source)
    by_image: dict[Any, list[Mapping[str, Any]]] = {}
    stray = 0
    for annotation in data.get("annotations") or []:
        if isinstance(annotation, Mapping) and _key(annotation.get("image_id")) is not None:
            by_image.setdefault(_key(annotation.get("image_id")), []).append(annotation)
        else:
            stray += 1
    seen: set[Any] = set()
    for number, image in enumerate(data["images"]):
        where = f"{source} image #{number}"
        try:
            if not isinstance(image, Mapping):
                raise ItemProblem("is not an object")
            key = _key(image.get("id"))
            if key is None or key in seen:
                raise ItemProblem(f"has a missing or repeated id {str(image.get('id'))[:40]!r}")
            seen.add(key)
            file_name = image.get("file_name")
            if not isinstance(file_name, str) or not file_name.strip():
                raise ItemProblem("has no file_name")
            where = f"{source} {shown(file_name)}"
            size = (image_side(image.get("width"), "width"), image_side(image.get("height"), "height"))
            detections = tuple(_detection(item, names, size) for item in by_image.pop(key, []))
        except ItemProblem as exc:
            yield Unreadable(where, str(exc))
            continue
        parts = tuple(part for part in file_name.replace("\\", "/").split("/")[:-1] if part not in ("", ".", ".."))
        folders = subset_folders(parts) + ((subset,) if subset else ())
        yield ImageItem(where, file_name.replace("\\", "/").rsplit("/", 1)[-1], folders, detections, size)
    for key in by_image:
        yield Unreadable(f"{source} image_id {str(key)[:40]!r}", "annotations of an image the file does not list")
    if stray:
        yield Unreadable(source, f"{stray} annotations without an image_id")


def _key(value: Any) -> Any:
    """An image id as a dict key: an int or a string (anything else is no id)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    return value


def _categories(categories: Any, source: str) -> dict[Any, str]:
    if not isinstance(categories, list):
        raise InvalidExport(f"{source} has no categories list")
    names: dict[Any, str] = {}
    for category in categories:
        if not isinstance(category, Mapping) or _key(category.get("id")) is None:
            raise InvalidExport(f"{source}: a category has no id")
        name = category.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidExport(f"{source}: category {category.get('id')!r} has no name")
        names[category["id"]] = name
    return names


def _detection(annotation: Mapping[str, Any], names: Mapping[Any, str], size: tuple[int, int]) -> Detection:
    category = annotation.get("category_id")
    if _key(category) is None or category not in names:
        raise ItemProblem(f"category_id {str(category)[:40]!r} is not one of the file's categories")
    score = annotation.get("score")
    return Detection(
        label=names[category],
        shape=_shape(annotation, size),
        score=None if score is None else confidence(json_number(score, "score")),
    )


def _shape(annotation: Mapping[str, Any], size: tuple[int, int]) -> Geometry:
    width, height = size
    segmentation = annotation.get("segmentation")
    if isinstance(segmentation, list) and len(segmentation) == 1 and isinstance(segmentation[0], list):
        flat = [json_number(value, "segmentation") for value in segmentation[0]]
        if len(flat) >= 6 and len(flat) % 2 == 0:
            points = tuple(
                (fraction(x / width, "segmentation x"), fraction(y / height, "segmentation y"))
                for x, y in zip(flat[::2], flat[1::2], strict=True)
            )
            pixels = [(x * width, y * height) for x, y in points]
            if len(points) != 4 or not _rectangle(pixels):
                return Polygon(points)
            if not _axis_aligned(pixels):
                return Quad(points)
    bbox = annotation.get("bbox")
    if not isinstance(bbox, list) or len(bbox) != 4:
        raise ItemProblem("an annotation has no bbox [x, y, width, height]")
    x, y, w, h = (json_number(value, "bbox") for value in bbox)
    if w < 0 or h < 0:
        raise ItemProblem("a bbox has a negative width or height")
    left, right = fraction(x / width, "bbox left"), fraction((x + w) / width, "bbox right")
    top, bottom = fraction(y / height, "bbox top"), fraction((y + h) / height, "bbox bottom")
    return Rect(left, top, right - left, bottom - top)


def _rectangle(points: list[tuple[float, float]]) -> bool:
    """Four corners in order at right angles (a rotated box), within a hundredth of a pixel."""
    (ax, ay), (bx, by), (cx, cy), (dx, dy) = points
    diagonal_1, diagonal_2 = math.dist((ax, ay), (cx, cy)), math.dist((bx, by), (dx, dy))
    same_centre = math.dist(((ax + cx) / 2, (ay + cy) / 2), ((bx + dx) / 2, (by + dy) / 2)) < 1e-2
    return same_centre and abs(diagonal_1 - diagonal_2) < 1e-2 and diagonal_1 > 0


def _axis_aligned(points: list[tuple[float, float]]) -> bool:
    (ax, ay), (bx, by) = points[0], points[1]
    return abs(ax - bx) < 1e-6 or abs(ay - by) < 1e-6
