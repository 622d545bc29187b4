"""COCO (``result.json``): one image per task (per page or list item of a task whose image tag
shows several: a ``<Repeater>``, a ``valueList``), annotations for rectangles, polygons, brush
masks and keypoints.

- images: ``file_name`` is ``images/<name>`` (the pipeline places the files there), with width and
  height from the results (or the caller's size lookup); never a duplicate or a null size.
- rectangles: ``bbox`` around the rotated corners, clamped; a rotated box also gets its corners
  as ``segmentation``. Polygons: ``segmentation``, shoelace ``area``, enclosing ``bbox``.
- brush masks: one annotation per brush result, ``segmentation`` the mask as compressed RLE
  (``{"size": [h, w], "counts": "..."}``, as pycocotools writes it), ``area`` its pixel count,
  ``bbox`` the pixels' extent; a mask of another size than the image's is an invalid task, an
  empty one is left out (reported).
- keypoints: ordered by the labels' ``model_index`` (config order otherwise); the keypoints of one
  parent rectangle (``parentID``) form one annotation of the rectangle's category, the others one
  annotation per task of the category ``default``; missing keypoints are ``0 0 0``.
- categories: shape tags only (not KeyPointLabels, whose labels name keypoints); alphabetical ids
  from 1 by default (0 is background to torchvision's detection models and to datumaro;
  ``category_start=0`` numbers them as Label Studio does), explicit ``category`` kept.
- annotation ids start at 1: pycocotools' COCOeval takes id 0 for "unmatched", so a ground truth
  evaluated against itself would score below 1.0 with an annotation 0.
- a rotated rectangle's ``area`` is the rectangle's own (its ``bbox`` encloses its corners).
- numbers without float noise: a percentage with ``d`` decimals of a whole number of pixels has
  at most ``d + 2`` decimals, so every coordinate (``bbox``, ``segmentation``, ``keypoints``) is
  the nearest multiple of ``10**-(d + 2)`` for the most precise percentage of its shape (at most
  10 decimals; a turned box's corners, which have endless decimals, 10): ``19.2``, not
  ``19.200000000000003``. Areas are computed exactly from the coordinates as written (a box's
  width times its height is its ``area``), then written as the nearest float.
Images, annotations and categories are streamed to temp files and joined at the end. The shards
of a distributed run are merged into one file (:func:`merge_coco`: ids unique across the dataset,
categories matched by name).

Layouts: ``label-studio`` writes ``result.json`` with ``file_name`` ``images/<name>``, as Label
Studio's export; ``standard`` writes ``annotations/instances_<subset>.json`` (``default`` without
subsets) with ``file_name`` relative to ``images/<subset>/``, as datumaro, torchvision's
``CocoDetection`` and detectron2's ``register_coco_instances`` take it.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from ml_data.converters.base import Context, FormatBase
from ml_data.converters.brush import NO_BRUSH_MASK, brush_mask
from ml_data.converters.categories import categories, has_shape, keypoint_names
from ml_data.converters.coco_rle import mask_bbox, mask_rle
from ml_data.converters.geometry import (
    MAX_DECIMALS,
    Box,
    box_in_image,
    corners,
    enclosing_box,
    number,
    pixel_scale,
    polygon_pixels,
    to_pixels,
    upright_box,
)
from ml_data.converters.images import (
    NOTHING_IN_FORMAT,
    OBJECT_TYPES,
    UniqueNames,
    annotated_images,
    has_objects,
    image_size,
    image_tag,
    item_label,
)
from ml_data.converters.merging import different_versions, read_json, write_json
from ml_data.errors import InvalidExport
from ml_data.tasks.label_config import LabelConfig
from ml_data.tasks.model import Region

_BOX_TAGS = ("RectangleLabels", "PolygonLabels", "BrushLabels", "EllipseLabels")


class CocoFormat(FormatBase):
    name = "coco"
    layouts = ("label-studio", "standard")

    def check(self, config: LabelConfig | None) -> str | None:
        if config is None:
            return "COCO needs the labeling config (categories)"
        if not any(tag.type == "Image" for tag in config.objects.values()):
            return "COCO needs an <Image> object"
        shapes = ("RectangleLabels", "PolygonLabels", "KeyPointLabels", "BrushLabels")
        if not any(has_shape(config, tag) for tag in shapes):
            return (
                "COCO needs RectangleLabels, PolygonLabels, KeyPointLabels or BrushLabels on the image "
                "(or Rectangle/Polygon with Labels)"
            )
        return None

    def write(self, context: Context, out: Path) -> None:
        config = context.config
        assert config is not None
        options = context.options
        start = 1 if options.category_start is None else options.category_start
        ids = categories(config, options.category_order, start=start, tags=_BOX_TAGS)
        points = keypoint_names(config)
        # Keypoints without a parent rectangle go to "default": its id is reserved up front.
        default_id = max(ids.values(), default=start - 1) + 1
        standard = options.layout == "standard"
        names = UniqueNames()
        subsets: dict[str | None, _SubsetParts] = {}
        default_used = False
        try:
            for task, url, page, annotation in annotated_images(context, image_tag(config)):
                with context.guard(task.id):
                    regions = list(annotation.result)
                    size = image_size(regions, url, task.id, context)
                    if size is None:
                        continue
                    width, height = size
                    # Everything of the task is computed before anything is written: a task that
                    # fails leaves no image without its annotations.
                    items = list(self._annotations(regions, ids, points, width, height, task.id, context))
                    if not items and has_objects(regions):
                        context.report.skip(task.id, NOTHING_IN_FORMAT)
                        continue
                    subset = context.subset(task.id) if standard else None
                    part = subsets.get(subset) or subsets.setdefault(subset, _SubsetParts(out, subset))
                    image_id = part.counts["images"]
                    file_name = f"{names.stem(url, task.id, item_label(page))}{UniqueNames.extension(url)}"
                    folder = f"images/{subset}/" if subset else "images/"
                    # The standard layout's file_name is relative to the subset's images folder
                    # (torchvision's and detectron2's image root); Label Studio's to the output.
                    image = {"id": image_id, "width": width, "height": height}
                    for item in items:
                        if item["category_id"] is None:
                            item["category_id"], default_used = default_id, True
                    part.emit_task({**image, "file_name": file_name if standard else folder + file_name}, items)
                    context.place(url, task.id, folder + file_name, item_label(page))
                    context.report.items_written += 1
        finally:
            for part in subsets.values():
                part.close()
        category_list = [
            {"id": index, "name": name, "supercategory": name}
            for name, index in sorted(ids.items(), key=lambda kv: kv[1])
        ]
        if default_used:
            category_list.append({"id": default_id, "name": "default", "supercategory": "default"})
        if points:
            for category in category_list:
                category["keypoints"], category["skeleton"] = points, []
        if not standard:
            (subsets.get(None) or _SubsetParts(out, None)).assemble(out / "result.json", category_list)
            return
        (out / "annotations").mkdir()
        for subset in dict.fromkeys([*options.subsets, *subsets]) if options.subsets else [None]:
            (out / "images" / (subset or "")).mkdir(parents=True, exist_ok=True)
            target = out / "annotations" / f"instances_{subset or 'default'}.json"
            (subsets.get(subset) or _SubsetParts(out, subset)).assemble(target, category_list)

    def merge(self, relative: str, target: Path, parts: Sequence[Path]) -> None:
        """Shards' COCO files as one (:func:`merge_coco`); any other file as every format's."""
        if Path(relative).suffix.lower() != ".json":
            super().merge(relative, target, parts)
            return
        documents = [read_json(relative, path) for path in (target, *parts)]
        if not all(_is_coco(document) for document in documents):
            raise different_versions(relative)
        write_json(target, merge_coco(documents))

    def _annotations(self, regions, ids, points, width, height, task_id, context):  # type: ignore[no-untyped-def]
        by_id = {region.id: region for region in regions if region.id}
        keypoints: dict[Any, list[Region]] = {}
        for region in regions:
            kind = region.type.lower()
            if kind == "keypointlabels":
                parent = region.parent_id if region.parent_id in by_id else None
                keypoints.setdefault(parent, []).append(region)
                continue
            if kind not in ("rectanglelabels", "polygonlabels", "brushlabels"):
                if kind in OBJECT_TYPES:
                    context.report.skip(task_id, f"{kind} result left out of COCO")
                continue
            label = (region.value.get(kind) or [None])[0]
            if not isinstance(label, str) or label not in ids:
                context.report.skip(task_id, f"label {label!r} is not a category of the config")
                continue
            if kind == "brushlabels":
                item = _brush(region, ids[label], width, height)
                if item is None:
                    context.report.skip(task_id, NO_BRUSH_MASK)
                else:
                    yield item
                continue
            try:
                shape = self._shape(kind, region.value, ids[label], width, height)
                if isinstance(region.value.get("text"), dict):
                    # A per-region TextArea (OCR): its text, as datumaro and CVAT keep attributes.
                    shape["attributes"] = {str(name): str(text) for name, text in region.value["text"].items()}
                yield shape
            except (KeyError, TypeError, ValueError) as exc:
                # The whole task fails or is skipped (policy), as in YOLO and VOC: the image
                # without that object would teach that nothing is there.
                raise InvalidExport(f"result {str(region.id)[:40]} has no valid geometry ({exc})") from None
        for parent_id, group in keypoints.items():
            item = self._keypoints(group, points, width, height)
            if parent_id is not None:
                parent = by_id[parent_id]
                label = (parent.value.get("rectanglelabels") or [None])[0]
                if label in ids:
                    bbox, _corners, _area, bbox_area = _rectangle(parent.value, width, height)
                    item.update(category_id=ids[label], bbox=bbox, area=bbox_area)
                    yield item
                    continue
            item["category_id"] = None  # the "default" category
            yield item

    @staticmethod
    def _shape(kind: str, value: Any, category_id: int, width: int, height: int) -> dict[str, Any]:
        if kind == "polygonlabels":
            pts = polygon_pixels(value, width, height)
            if len(pts) < 3:
                raise InvalidExport("a polygon needs three points")
            scale = pixel_scale(width, height, (c for point in value["points"] for c in point))
            flat, area = _exact_polygon(pts, scale)
            outer = box_in_image(list(zip(flat[0::2], flat[1::2], strict=True)), width, height)
            return {
                "category_id": category_id,
                "segmentation": [flat],
                "bbox": _exact_box(outer, scale)[0],
                "area": area,
                "iscrowd": 0,
                "ignore": 0,
            }
        bbox, quad, area, bbox_area = _rectangle(value, width, height)
        return {
            "category_id": category_id,
            "segmentation": [quad] if quad else [],
            "bbox": bbox,
            "area": area if quad else bbox_area,
            "iscrowd": 0,
            "ignore": 0,
        }

    @staticmethod
    def _keypoints(group: list[Region], points: list[str], width: int, height: int) -> dict[str, Any]:
        vector: list[float] = [0.0] * (3 * len(points))
        placed: list[tuple[float, float]] = []
        indices: list[int] = []
        percentages: list[float] = []
        for region in group:
            label = (region.value.get("keypointlabels") or [None])[0]
            if label not in points:
                continue
            x_percent = number(region.value.get("x"), "keypoint x")
            y_percent = number(region.value.get("y"), "keypoint y")
            x = min(max(x_percent / 100 * width, 0.0), width)
            y = min(max(y_percent / 100 * height, 0.0), height)
            indices.append(points.index(label))
            placed.append((x, y))
            percentages += (region.value["x"], region.value["y"])
        scale = pixel_scale(width, height, percentages)
        placed = [(round(x * scale) / scale, round(y * scale) / scale) for x, y in placed]
        for index, (x, y) in zip(indices, placed, strict=True):
            vector[3 * index : 3 * index + 3] = [x, y, 2]
        bbox, area = _exact_box(enclosing_box(placed or [(0.0, 0.0)], width, height), scale)
        return {
            "keypoints": vector,
            "num_keypoints": len(placed),
            "bbox": bbox,
            "area": area,
            "iscrowd": 0,
            "ignore": 0,
        }


def _brush(region: Region, category_id: int, width: int, height: int) -> dict[str, Any] | None:
    """A brush result as one annotation: its mask as compressed RLE, ``area`` its pixels, ``bbox``
    around them; None when it holds no pixel (a cleared brush, an empty mask)."""
    if region.value.get("format", "rle") != "rle":
        raise InvalidExport(f"brush result {str(region.id)[:40]} is not in Label Studio's RLE format")
    mask = brush_mask(region)
    if mask is None or not mask.any():
        return None
    if mask.shape != (height, width):
        # The mask is drawn on the image: one of another size cannot be placed on it.
        raise InvalidExport(
            f"brush result {str(region.id)[:40]} is {mask.shape[1]}x{mask.shape[0]}, the image {width}x{height}"
        )
    return {
        "category_id": category_id,
        "segmentation": mask_rle(mask),
        "bbox": mask_bbox(mask),
        "area": int(np.count_nonzero(mask)),
        "iscrowd": 0,
        "ignore": 0,
    }


#: The scale of a turned box's corners, which have endless decimals.
_FINEST = 10**MAX_DECIMALS


def _rectangle(value: Any, width: int, height: int) -> tuple[list[float], list[float], float, float]:
    """A rectangle's numbers: its bbox (around its corners, clamped to the image), its corners
    when it is turned (else none), its own area and its bbox's area; as the module says."""
    outer = upright_box(value, width, height)
    if outer is not None:
        # Most boxes: unturned, their numbers in order; the same numbers without the corners.
        scale = pixel_scale(width, height, (value["x"], value["y"], value["width"], value["height"]))
        bbox, area = _exact_box(outer, scale)
        return bbox, [], area, area
    box, rotation = to_pixels(value, width, height)
    quad = corners(box, rotation)
    outer = box_in_image(quad, width, height)
    scale = pixel_scale(width, height, (value["x"], value["y"], value["width"], value["height"]))
    if not rotation % 360:
        bbox, area = _exact_box(outer, scale)
        return bbox, [], area, area
    # A turned box's own sides do not turn: they keep the percentages' decimals.
    own = round(box.width * scale) * round(box.height * scale) / (scale * scale)
    bbox, bbox_area = _exact_box(outer, _FINEST)
    return bbox, [round(c * _FINEST) / _FINEST for point in quad for c in point], own, bbox_area


def _exact_box(box: Box, scale: int) -> tuple[list[float], float]:
    """A box as whole numbers of ``1 / scale`` pixels, written as the nearest floats, and its area
    computed from those whole numbers, exactly."""
    x, y = round(box.x * scale), round(box.y * scale)
    width, height = round(box.width * scale), round(box.height * scale)
    return [x / scale, y / scale, width / scale, height / scale], width * height / (scale * scale)


def _exact_polygon(points: list[tuple[float, float]], scale: int) -> tuple[list[float], float]:
    """A polygon's coordinates as whole numbers of ``1 / scale`` pixels (written as the nearest
    floats, flat) and its shoelace area computed from those whole numbers, exactly."""
    fixed = [(round(x * scale), round(y * scale)) for x, y in points]
    twice = sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(fixed, fixed[1:] + fixed[:1], strict=True))
    return [c / scale for point in fixed for c in point], abs(twice) / (2 * scale * scale)


class _SubsetParts:
    """The images and annotations of one subset, streamed to temp files and joined at the end."""

    def __init__(self, out: Path, subset: str | None) -> None:
        tag = f"-{subset}" if subset else ""
        self.paths = {part: out / f".{part}{tag}.part" for part in ("images", "annotations")}
        self.handles = {part: open(path, "wb") for part, path in self.paths.items()}
        self.counts = {"images": 0, "annotations": 0}

    def emit_task(self, image: dict[str, Any], annotations: list[dict[str, Any]]) -> None:
        """One image and its annotations (numbered from 1 in the subset), all serialised before
        any is written, so a task either appears whole or not at all."""
        first = self.counts["annotations"] + 1
        # Each record is {"id", "image_id", **item}: the two numbers written in front of the
        # item's own object (which never holds either key) rather than a merged dict dumped.
        prefix = b'{"id":%d,"image_id":%d,'
        records = [
            prefix % (first + index, image["id"]) + orjson.dumps(item)[1:] for index, item in enumerate(annotations)
        ]
        head = orjson.dumps(image)
        self.handles["images"].write((b",\n" if self.counts["images"] else b"") + head)
        self.counts["images"] += 1
        if records:
            self.handles["annotations"].write((b",\n" if self.counts["annotations"] else b"") + b",\n".join(records))
            self.counts["annotations"] += len(records)

    def close(self) -> None:
        for handle in self.handles.values():
            handle.close()

    def assemble(self, target: Path, category_list: list[dict[str, Any]]) -> None:
        self.close()
        with open(target, "wb") as handle:
            handle.write(b'{"images": [\n')
            with open(self.paths["images"], "rb") as part:
                shutil.copyfileobj(part, handle)
            handle.write(b'\n],\n"categories": ' + orjson.dumps(category_list) + b',\n"annotations": [\n')
            with open(self.paths["annotations"], "rb") as part:
                shutil.copyfileobj(part, handle)
            handle.write(b'\n],\n"info": {"description": "exported by ml-data"}}\n')
        for path in self.paths.values():
            path.unlink()


def _is_coco(document: Any) -> bool:
    return isinstance(document, Mapping) and isinstance(document.get("images"), list) and "annotations" in document


def merge_coco(documents: list[Mapping[str, Any]]) -> dict[str, Any]:
    """COCO documents into one: image and annotation ids numbered on from the lowest any of them
    uses (the writer's own start), so they are unique across all; categories matched by name (the
    first document's ids kept, new names numbered after)."""
    image_start = min((image["id"] for document in documents for image in document.get("images") or ()), default=0)
    annotation_start = min(
        (annotation["id"] for document in documents for annotation in document.get("annotations") or ()), default=0
    )
    categories: list[dict[str, Any]] = []
    by_name: dict[str, Any] = {}
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for document in documents:
        category_ids = {}
        for category in document.get("categories") or ():
            name = category.get("name")
            if name not in by_name:
                used = {item["id"] for item in categories}
                new_id = category["id"] if category["id"] not in used else max(used, default=-1) + 1
                by_name[name] = new_id
                categories.append({**category, "id": new_id})
            category_ids[category["id"]] = by_name[name]
        image_ids = {}
        for image in document.get("images") or ():
            image_ids[image["id"]] = image_start + len(images)
            images.append({**image, "id": image_start + len(images)})
        for annotation in document.get("annotations") or ():
            annotations.append(
                {
                    **annotation,
                    "id": annotation_start + len(annotations),
                    "image_id": image_ids[annotation["image_id"]],
                    "category_id": category_ids.get(annotation["category_id"], annotation["category_id"]),
                }
            )
    first = documents[0]
    merged = {key: value for key, value in first.items() if key not in ("images", "categories", "annotations")}
    return {"images": images, "categories": categories, "annotations": annotations, **merged}
