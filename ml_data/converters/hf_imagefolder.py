"""``hf-imagefolder``: images and one ``metadata.jsonl`` per split, as the ``datasets`` library's
ImageFolder reads them (``load_dataset("imagefolder", data_dir=...)``: one split per folder; the
split folders and their rules: :mod:`ml_data.converters.hf_layout`).

- Detection (RectangleLabels, or Rectangle with Labels, on the image): one row per image,
  ``{"file_name": "images/<name>", "width": w, "height": h, "objects": {"bbox": [[x, y, w, h]],
  "categories": [id], "area": [a]}}``, boxes in pixels from the top-left corner (COCO's, as
  ``datasets`` documents object detection), class ids from 0 (alphabetical, or config order;
  an explicit ``category`` kept) named in ``classes.txt``. A rotated rectangle becomes the
  axis-aligned box around its turned corners, clamped to the image (``bbox`` has no angle), and
  the report says how many were. Polygons, keypoints and masks are left out, reported; an
  annotation without regions is an image without objects (empty lists).
- Classification (Choices on the image, no rectangles): ``{"file_name": ..., "label": id}``, or
  ``"labels": [id, ...]`` for a ``choice="multiple"`` control; ids named in ``classes.txt``.

Numbers are written as ``datasets`` must type them alike in every split: coordinates and areas
always as floats, ids as integers.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ml_data.converters.base import Context, FormatBase
from ml_data.converters.categories import categories, has_shape, shape_labels, unwritable_name
from ml_data.converters.geometry import MAX_DECIMALS, box_in_image, corners, pixel_scale, to_pixels
from ml_data.converters.hf_layout import (
    DEFAULT_SPLIT,
    METADATA,
    SplitFolders,
    check_split_names,
    media_names,
    merge_metadata,
    write_classes,
)
from ml_data.converters.images import (
    NOTHING_IN_FORMAT,
    OBJECT_TYPES,
    UniqueNames,
    annotated_images,
    has_objects,
    image_key,
    image_size,
    image_tag,
    item_label,
)
from ml_data.errors import ConfigurationError, InvalidExport
from ml_data.tasks.label_config import ControlTag, LabelConfig
from ml_data.tasks.model import Annotation, Region

_BOX_TAGS = ("RectangleLabels",)
#: the scale of a turned box's corners, which have endless decimals
_FINEST = 10**MAX_DECIMALS


class HfImageFolderFormat(FormatBase):
    name = "hf-imagefolder"
    layouts = ("standard",)

    def check(self, config: LabelConfig | None) -> str | None:
        if config is None:
            return f"{self.name} needs the labeling config (class names and ids)"
        if not any(tag.type == "Image" for tag in config.objects.values()):
            return f"{self.name} needs an <Image> object"
        if has_shape(config, "RectangleLabels"):
            return unwritable_name(shape_labels(config, _BOX_TAGS)[0], f"{self.name}'s classes.txt")
        control = _choices(config)
        if control is None:
            return f"{self.name} needs <RectangleLabels> (or <Rectangle> with <Labels>) or <Choices> on the image"
        return unwritable_name(control.label_values, f"{self.name}'s classes.txt")

    def check_splits(self, names: Sequence[str]) -> str | None:
        return check_split_names(self.name, names)

    def write(self, context: Context, out: Path) -> None:
        config = context.config
        assert config is not None
        options = context.options
        reason = self.check_splits(options.subsets)
        if reason is not None:
            raise ConfigurationError(reason)
        detection = has_shape(config, "RectangleLabels")
        control = None if detection else _choices(config)
        if control is None:
            ids = categories(config, options.category_order, tags=_BOX_TAGS)
        else:
            only = LabelConfig(objects=config.objects, controls={control.name: control})
            ids = categories(only, options.category_order, tags=("Choices",))
        folders = SplitFolders(out)
        names = media_names()
        rotated = 0
        try:
            for task, url, item, annotation in annotated_images(context, image_tag(config), warn_many=True):
                with context.guard(task.id):
                    if control is None:
                        found = self._detection_row(context, task.id, url, annotation, ids)
                        if found is None:
                            continue
                        row, turned = found
                    else:
                        row, turned = _classification_row(control, annotation, ids), 0
                        if not row:
                            context.report.skip(task.id, "no choice")
                            continue
                    split = context.subset(task.id) or DEFAULT_SPLIT
                    file_name = f"images/{names.stem(url, task.id, item_label(item))}{UniqueNames.extension(url)}"
                    folders.rows(split).add({"file_name": file_name, **row}, typed=_typed(row))
                    context.place(url, task.id, f"{split}/{file_name}", item_label(item))
                    context.report.items_written += 1
                    rotated += turned
        finally:
            folders.close()
        write_classes(out, ids)
        _report_layout(context, folders, rotated)

    def merge(self, relative: str, target: Path, parts: Sequence[Path]) -> None:
        """A split's ``metadata.jsonl`` as the shards wrote it: one file, a row with objects first
        (:func:`~ml_data.converters.hf_layout.merge_metadata`)."""
        if Path(relative).name == METADATA:
            merge_metadata(relative, target, parts, _typed)
        else:
            super().merge(relative, target, parts)

    def _detection_row(
        self, context: Context, task_id: Any, url: str, annotation: Annotation, ids: dict[str, int]
    ) -> tuple[dict[str, Any], int] | None:
        """The image's row and how many of its boxes were rotated; None when the task was left out
        (reported)."""
        regions = annotation.result
        size = image_size(regions, url, task_id, context)
        if size is None:
            return None
        width, height = size
        boxes: list[list[float]] = []
        classes: list[int] = []
        areas: list[float] = []
        rotated = 0
        for region in regions:
            kind = region.type.lower()
            if kind != "rectanglelabels":
                if kind in OBJECT_TYPES:
                    context.report.skip(task_id, f"{kind} result left out of {self.name}")
                continue
            label = (region.value.get("rectanglelabels") or [None])[0]
            if not isinstance(label, str) or label not in ids:
                context.report.skip(task_id, f"label {label!r} is not a class of the config")
                continue
            bbox, area, turned = _box(region, width, height)
            boxes.append(bbox)
            classes.append(ids[label])
            areas.append(area)
            rotated += turned
        if not boxes and has_objects(regions):
            context.report.skip(task_id, NOTHING_IN_FORMAT)
            return None
        objects = {"bbox": boxes, "categories": classes, "area": areas}
        return {"width": width, "height": height, "objects": objects}, rotated


def _box(region: Region, width: int, height: int) -> tuple[list[float], float, bool]:
    """A rectangle as COCO's ``[x, y, w, h]`` in pixels (around its corners when turned, clamped
    to the image), its area, and whether it was turned. The pixels are rounded as COCO's are
    (:func:`~ml_data.converters.geometry.pixel_scale`), so ``19.2`` is not ``19.200000000000003``."""
    value = region.value
    try:
        box, rotation = to_pixels(value, width, height)
        outer = box_in_image(corners(box, rotation), width, height)
    except (InvalidExport, KeyError, TypeError, ValueError) as exc:
        reason = exc.message if isinstance(exc, InvalidExport) else str(exc)
        raise InvalidExport(f"result {str(region.id)[:40]} has no valid geometry ({reason})") from None
    turned = bool(rotation % 360)
    scale = _FINEST if turned else pixel_scale(width, height, (value["x"], value["y"], value["width"], value["height"]))
    x, y = round(outer.x * scale), round(outer.y * scale)
    w, h = round(outer.width * scale), round(outer.height * scale)
    return [x / scale, y / scale, w / scale, h / scale], w * h / (scale * scale), turned


def _choices(config: LabelConfig) -> ControlTag | None:
    """The first Choices control on the (first) image."""
    key = image_key(config)
    images = {name for name, tag in config.objects.items() if tag.type == "Image" and tag.value_key == key}
    return next((c for c in config.controls_of_type("Choices") if set(c.to_names) & images), None)


def _classification_row(control: ControlTag, annotation: Annotation, ids: dict[str, int]) -> dict[str, Any]:
    """``{"label": id}`` (``{"labels": [ids]}`` for a multiple choice); empty when the annotation
    chose nothing."""
    chosen: list[int] = []
    for region in annotation.result:
        if region.from_name != control.name or region.type.lower() != "choices":
            continue
        values = region.value.get("choices")
        if not isinstance(values, list):
            raise InvalidExport(f"result {str(region.id)[:40]} has no list of choices")
        for value in values:
            if not isinstance(value, str) or value not in ids:
                raise InvalidExport(f"choice {str(value)[:60]!r} is not a class of the config")
            if ids[value] not in chosen:
                chosen.append(ids[value])
    if not chosen:
        return {}
    if control.attributes.get("choice") == "multiple":
        return {"labels": chosen}
    if len(chosen) > 1:
        raise InvalidExport(f"{len(chosen)} choices in single-choice control {control.name!r}")
    return {"label": chosen[0]}


def _typed(row: Any) -> bool:
    """Whether ``datasets`` can type every column from this row: no empty list of objects."""
    if not isinstance(row, dict):
        return False
    objects = row.get("objects")
    return not isinstance(objects, dict) or bool(objects.get("bbox"))


def _report_layout(context: Context, folders: SplitFolders, rotated: int) -> None:
    report = context.report
    for name in folders.empty(context.options.subsets):
        report.warn(f"split {name!r} has no image: no folder written (datasets refuses an empty split)")
    apart = folders.untyped()
    if apart:
        report.warn(
            f"no image of split {', '.join(map(repr, apart))} has objects: datasets types its empty lists apart "
            "from the other splits' and will not load the folder as one dataset (load that split's folder alone)"
        )
    if rotated:
        report.warn(
            f"{rotated} rotated box{'' if rotated == 1 else 'es'} written as the axis-aligned box around "
            "the turned corners (datasets' bbox has no angle)"
        )
    if report.items_written and not context.media.places_media:
        report.warn("the images are not in the output: file_name is where fetch places them (images/<name>)")
