"""``semantic-png``: one class-index mask per image, for semantic segmentation.

- ``masks/<image>.png``: 8-bit grayscale, the same size as the image; each pixel holds its class
  (0 background). Brush masks, polygons and rectangles (turned ones too) are drawn in result order,
  so a later region covers an earlier one where they overlap (:mod:`ml_data.converters.raster`).
- ``labelmap.txt``: the class names, line ``N`` naming class ``N`` (line 0 ``background``; an id
  no label has, from an explicit ``category``, is an empty line). Classes are numbered from 1,
  alphabetically by default (``category_order="config"``: config order).
- the image is referred to as ``images/<image><ext>`` (placed there by the fetch pipeline).
Keypoints, ellipses and other objects are left out (reported); an image whose objects are all
left out gets no mask (an all-background one would teach that nothing is there).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ml_data.converters.base import Context, FormatBase
from ml_data.converters.categories import has_shape, shape_labels, unwritable_name
from ml_data.converters.images import (
    NOTHING_IN_FORMAT,
    UniqueNames,
    annotated_images,
    image_size,
    image_tag,
    item_label,
)
from ml_data.converters.png import write_gray_png
from ml_data.converters.raster import MASK_TAGS, MAX_CLASS, class_mask, mask_classes
from ml_data.errors import InvalidExport
from ml_data.tasks.label_config import LabelConfig


def labelmap(classes: Mapping[str, int]) -> str:
    """``labelmap.txt``: line N names class N, line 0 is ``background``."""
    lines = ["background"] + [""] * max(classes.values(), default=0)
    for name, value in classes.items():
        lines[value] = name
    return "\n".join(lines) + "\n"


class SemanticPngFormat(FormatBase):
    name = "semantic-png"

    def check(self, config: LabelConfig | None) -> str | None:
        if config is None:
            return "semantic-png needs the labeling config (classes)"
        if not any(tag.type == "Image" for tag in config.objects.values()):
            return "semantic-png needs an <Image> object"
        if not any(has_shape(config, tag) for tag in MASK_TAGS):
            return "semantic-png needs BrushLabels, PolygonLabels or RectangleLabels on the image"
        names, explicit = shape_labels(config, MASK_TAGS)
        if any(not 1 <= value <= MAX_CLASS for value in explicit.values()) or len(names) > MAX_CLASS:
            return f"semantic-png holds classes 1 to {MAX_CLASS} (0 is background): renumber the labels' category"
        return unwritable_name(names, "labelmap.txt")

    def write(self, context: Context, out: Path) -> None:
        config = context.config
        assert config is not None
        classes = mask_classes(config, context.options.category_order)
        if max(classes.values(), default=0) > MAX_CLASS:
            raise InvalidExport(f"more than {MAX_CLASS} classes cannot be written to an 8-bit mask")
        (out / "masks").mkdir()
        names = UniqueNames()
        for task, url, item, annotation in annotated_images(context, image_tag(config)):
            with context.guard(task.id):
                size = image_size(annotation.result, url, task.id, context)
                if size is None:
                    continue
                left_out: list[str] = []
                mask = class_mask(annotation.result, classes, *size, left_out.append)
                for reason in left_out:
                    context.report.skip(task.id, reason)
                if mask is None:
                    context.report.skip(task.id, NOTHING_IN_FORMAT)
                    continue
                stem = names.stem(url, task.id, item_label(item))
                write_gray_png(out / "masks" / f"{stem}.png", mask)
                context.place(url, task.id, f"images/{stem}{UniqueNames.extension(url)}", item_label(item))
                context.report.items_written += 1
        (out / "labelmap.txt").write_text(labelmap(classes), encoding="utf-8")
