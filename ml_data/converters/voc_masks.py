"""Pascal VOC's segmentation folders, for projects with brush masks (``--layout standard``).

- ``SegmentationClass/<image>.png``: 8-bit palette PNG; each pixel's index is its class (0
  background), the palette VOC's colormap, so Pillow (torchvision's ``VOCSegmentation``) reads
  class indices and colour readers (datumaro) read VOC's colours. Brush masks and polygons are
  drawn in result order (:mod:`ml_data.converters.raster`); rectangles stay boxes.
- ``SegmentationObject/<image>.png``: the same, each pixel's index the 1-based position of its
  region among the image's ``<object>`` elements, as in VOC.
- ``ImageSets/Segmentation/<subset>.txt``: the images that have masks (VOC lists only those).
- ``labelmap.txt``: line N (after the comment) is class N with its colour, as datumaro reads it;
  an id no label has (from an explicit ``category``) is ``unused_N``.

The boundary value 255 (VOC's "void") is never drawn: Label Studio's masks have no such band.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from PIL import Image

from ml_data.converters.categories import unwritable_name
from ml_data.converters.png import palette_png
from ml_data.converters.raster import Shape, check_mask_size, paint
from ml_data.errors import InvalidExport

#: The index VOC keeps for "void" in both masks; an instance index never reaches it.
VOID = 255


def voc_colormap(count: int = 256) -> list[tuple[int, int, int]]:
    """Pascal VOC's colours: index ``i``'s bits spread over the high bits of R, G and B.

    >>> voc_colormap(4)
    [(0, 0, 0), (128, 0, 0), (0, 128, 0), (128, 128, 0)]
    """
    colours = []
    for index in range(count):
        red = green = blue = 0
        value = index
        for shift in range(7, -1, -1):
            red |= (value & 1) << shift
            green |= ((value >> 1) & 1) << shift
            blue |= ((value >> 2) & 1) << shift
            value >>= 3
        colours.append((red, green, blue))
    return colours


COLORMAP = voc_colormap()
_PALETTE = bytes(channel for colour in COLORMAP for channel in colour)


def segmentation_labelmap(classes: Mapping[str, int]) -> str:
    """``labelmap.txt`` for masks: ``name:r,g,b::`` for class 0 (background) to the highest."""
    names = {value: name for name, value in classes.items()}
    lines = ["# label:color_rgb:parts:actions"]
    for index in range(max(names, default=0) + 1):
        name = "background" if index == 0 else names.get(index, f"unused_{index}")
        lines.append(f"{name}:{','.join(str(channel) for channel in COLORMAP[index])}::")
    return "\n".join(lines) + "\n"


def segmentation_problem(classes: Mapping[str, int]) -> str | None:
    """Why the mask classes cannot be numbered by the lines of ``labelmap.txt`` and held by a
    mask's pixels (None: they can)."""
    for name, value in classes.items():
        if not 0 < value < VOID:
            return (
                f"label {name[:60]!r} is class {value}: VOC masks hold classes 1 to {VOID - 1} "
                "(0 is background, 255 void): renumber the labels' category"
            )
        if ":" in name:
            return f"label {name[:60]!r} cannot be a VOC mask class (':' separates labelmap.txt's fields): rename it"
        if name == "background":
            return "a label named 'background' would be a second class 0 in VOC's labelmap.txt: rename it"
    return unwritable_name(classes, "VOC's <name> and labelmap.txt")


class ImageMasks:
    """One image's class and object masks, painted region by region."""

    def __init__(self, width: int, height: int) -> None:
        check_mask_size(width, height)
        self.classes = Image.new("L", (width, height), 0)
        self.objects = Image.new("L", (width, height), 0)

    def add(self, shape: Shape, position: int) -> None:
        """Paint ``shape`` with its class, and with ``position`` (its ``<object>``'s, from 1)."""
        if not 0 < position < VOID:
            raise InvalidExport(f"more than {VOID - 1} objects in one image cannot be told apart in SegmentationObject")
        paint(self.classes, shape, shape.value)
        paint(self.objects, shape, position)

    def encoded(self) -> dict[str, bytes]:
        """Folder -> the PNG of each mask, computed before anything of the image is written."""
        return {
            folder: palette_png(np.asarray(image, dtype=np.uint8), _PALETTE)
            for folder, image in (("SegmentationClass", self.classes), ("SegmentationObject", self.objects))
        }


def shape_bounds(shape: Shape) -> tuple[float, float, float, float] | None:
    """The continuous pixel edges around a shape (left, top, right, bottom); a brush's are its
    painted pixels' (each pixel one unit wide), None when it paints none."""
    if shape.mask is not None:
        rows = np.flatnonzero(shape.mask.any(axis=1))
        columns = np.flatnonzero(shape.mask.any(axis=0))
        if not len(rows):
            return None
        return float(columns[0]), float(rows[0]), float(columns[-1] + 1), float(rows[-1] + 1)
    xs = [x for x, _ in shape.points]
    ys = [y for _, y in shape.points]
    return min(xs), min(ys), max(xs), max(ys)
