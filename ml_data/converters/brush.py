"""Brush masks to files: ``brush-png`` and ``brush-numpy``.

One file per label per image (the regions of a label are merged), named
``<image>-<control>-<label>.png`` / ``.npy`` (label made file-safe); masks are uint8 0/255, the
alpha channel of Label Studio's RGBA brush layer.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ml_data.converters.base import Context, FormatBase
from ml_data.converters.brush_rle import mask_from_rle
from ml_data.converters.images import UniqueNames, annotated_images, image_tag, item_label
from ml_data.converters.png import write_gray_png
from ml_data.errors import InvalidExport
from ml_data.fsutil import safe_filename
from ml_data.tasks.label_config import LabelConfig
from ml_data.tasks.model import Region

_UNSAFE = re.compile(r"[^\w.-]+")


def _safe(text: str) -> str:
    return safe_filename(_UNSAFE.sub("_", str(text)).strip("_"), fallback="label")[:60]


#: Largest mask decoded (a task's size fields are hostile input: 100,000 x 100,000 would ask for 10 GB).
MAX_MASK_PIXELS = 1 << 28


def _side(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 100_000:
        raise InvalidExport(f"brush mask size {str(value)[:40]!r} is not a positive number of pixels")
    return value


#: The reason a brush result is left out when it holds no mask (a cleared brush: ``"rle": []``).
NO_BRUSH_MASK = "brush result without RLE or size"


def brush_mask(region: Region) -> np.ndarray | None:
    """The binary (0/255) ``original_height x original_width`` mask of a brush result, or None
    when it holds none (no RLE, no size); a size past :data:`MAX_MASK_PIXELS` or an RLE that does
    not fit the size is an :class:`~ml_data.errors.InvalidExport`."""
    rle = region.value.get("rle")
    if not rle or not region.original_width or not region.original_height:
        return None
    width, height = _side(region.original_width), _side(region.original_height)
    if width * height > MAX_MASK_PIXELS:
        raise InvalidExport(f"brush mask of {width}x{height} pixels is larger than {MAX_MASK_PIXELS}")
    return mask_from_rle(rle, width, height, binary=True)


class BrushFormat(FormatBase):
    def __init__(self, name: str, extension: str) -> None:
        self.name = name
        self.extension = extension

    def check(self, config: LabelConfig | None) -> str | None:
        if config is None:
            return f"{self.name} needs the labeling config"
        if not config.controls_of_type("BrushLabels", "Brush"):
            return f"{self.name} needs <BrushLabels> on an image"
        return None

    def write(self, context: Context, out: Path) -> None:
        config = context.config
        assert config is not None
        names = UniqueNames()
        for task, url, item, annotation in annotated_images(context, image_tag(config)):
            with context.guard(task.id):
                layers: dict[tuple[str, str], np.ndarray] = {}
                for region in annotation.result:
                    if (
                        region.type.lower() not in ("brushlabels", "brush")
                        or region.value.get("format", "rle") != "rle"
                    ):
                        continue
                    mask = brush_mask(region)
                    if mask is None:
                        # An empty mask (Label Studio writes "rle": [] for a cleared brush) holds
                        # nothing to export: reported, never fatal.
                        context.report.skip(task.id, NO_BRUSH_MASK)
                        context.report.warn(f"task {task.id}: brush result {str(region.id)[:40]} has no RLE or no size")
                        continue
                    label = (region.value.get("brushlabels") or ["no_label"])[0]
                    key = (region.from_name, label)
                    layers[key] = mask if key not in layers else np.maximum(layers[key], mask)
                if not layers:
                    continue
                stem = names.stem(url, task.id, item_label(item))
                for (control, label), mask in layers.items():
                    target = out / f"{stem}-{_safe(control)}-{_safe(label)}{self.extension}"
                    if self.extension == ".npy":
                        np.save(target, mask)
                    else:
                        write_gray_png(target, mask)
                    context.report.items_written += 1
                context.place(url, task.id, f"images/{stem}{UniqueNames.extension(url)}", item_label(item))


BRUSH_PNG = BrushFormat("brush-png", ".png")
BRUSH_NUMPY = BrushFormat("brush-numpy", ".npy")
