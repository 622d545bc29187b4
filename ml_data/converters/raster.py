"""Regions drawn into label masks: what ``semantic-png`` and VOC's ``SegmentationClass`` share.

A region becomes a :class:`Shape` (its class and either its brush mask or its outline in
pixels), and shapes are painted in result order, so a later region covers an earlier one where
they overlap. Polygons and rectangles (turned ones too) are rasterised with Pillow's
``ImageDraw.polygon`` (edges included, as Pillow fills).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageDraw

from ml_data.converters.brush import MAX_MASK_PIXELS, NO_BRUSH_MASK, brush_mask
from ml_data.converters.categories import categories
from ml_data.converters.geometry import corners, polygon_pixels, to_pixels
from ml_data.converters.images import OBJECT_TYPES, has_objects
from ml_data.errors import InvalidExport
from ml_data.tasks.label_config import LabelConfig
from ml_data.tasks.model import Region

#: The shape tags whose labels are classes of a mask.
MASK_TAGS = ("RectangleLabels", "PolygonLabels", "BrushLabels")
#: The result types that can be drawn, and the key of their labels.
DRAWN = ("rectanglelabels", "polygonlabels", "brushlabels")
#: Class values an 8-bit mask holds besides background.
MAX_CLASS = 255


def check_mask_size(width: int, height: int) -> None:
    """Refuse a mask larger than :data:`~ml_data.converters.brush.MAX_MASK_PIXELS`: the size is
    the task's ``original_width`` and ``original_height`` (hostile input: 1,000,000 x 1,000,000
    would ask for a terabyte), so a polygon alone must not make ml-data allocate it."""
    if width * height > MAX_MASK_PIXELS:
        raise InvalidExport(f"a mask of {width}x{height} pixels is larger than {MAX_MASK_PIXELS} pixels")


def mask_classes(config: LabelConfig, order: str) -> dict[str, int]:
    """Label name -> class value (from 1; 0 is background)."""
    return categories(config, order, start=1, tags=MASK_TAGS)


class Shape(NamedTuple):
    """One region ready to paint: its label, class value, and its brush mask (0/255, the
    image's size) or its outline in pixels."""

    region: Region
    label: str
    value: int
    mask: np.ndarray | None
    points: list[tuple[float, float]]


def shape_of(
    region: Region, classes: Mapping[str, int], width: int, height: int, skip: Callable[[str], None]
) -> Shape | None:
    """The shape of a drawable region (a type in :data:`DRAWN`); None, after telling ``skip``
    why, when its label is not a class or a brush holds no mask. A brush of another size than
    the image, or a polygon of fewer than three points, is an :class:`InvalidExport`."""
    kind = region.type.lower()
    label = (region.value.get(kind) or [None])[0]
    if not isinstance(label, str) or label not in classes:
        skip(f"label {str(label)[:40]!r} is not a class of the config")
        return None
    value = classes[label]
    if kind == "brushlabels":
        mask = brush_mask(region)
        if mask is None:
            skip(NO_BRUSH_MASK)
            return None
        if mask.shape != (height, width):
            raise InvalidExport(
                f"brush result {str(region.id)[:40]} is {mask.shape[1]}x{mask.shape[0]}, the image {width}x{height}"
            )
        return Shape(region, label, value, mask, [])
    if kind == "polygonlabels":
        points = polygon_pixels(region.value, width, height)
        if len(points) < 3:
            raise InvalidExport("a polygon needs three points")
        return Shape(region, label, value, None, points)
    box, rotation = to_pixels(region.value, width, height)
    return Shape(region, label, value, None, corners(box, rotation))


def paint(canvas: Image.Image, shape: Shape, value: int) -> None:
    """Draw ``shape`` onto an ``L`` or ``P`` image with ``value``, over what is there."""
    if shape.mask is not None:
        canvas.paste(value, mask=Image.fromarray(shape.mask))
    else:
        ImageDraw.Draw(canvas).polygon(shape.points, fill=value)


def class_mask(
    regions: Sequence[Region], classes: Mapping[str, int], width: int, height: int, skip: Callable[[str], None]
) -> np.ndarray | None:
    """The ``height x width`` uint8 class mask of an annotation's regions, drawn in order; None
    when it has objects and none of them could be drawn. ``skip`` is told of each region left
    out, with the reason."""
    check_mask_size(width, height)
    canvas = Image.new("L", (width, height), 0)
    drawn = 0
    for region in regions:
        kind = region.type.lower()
        if kind not in DRAWN:
            if kind in OBJECT_TYPES:
                skip(f"{kind} result left out of the class mask")
            continue
        shape = shape_of(region, classes, width, height, skip)
        if shape is None:
            continue
        paint(canvas, shape, shape.value)
        drawn += 1
    if not drawn and has_objects(regions):
        return None
    return np.asarray(canvas, dtype=np.uint8)
