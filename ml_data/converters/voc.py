"""Pascal VOC: ``Annotations/<image>.xml`` per task (per page or list item of a task with several
images), boxes in 1-based pixel coordinates.

Rectangles become ``bndbox`` (rotated ones: the box around their corners); polygons have no place
in VOC and are reported as skipped, never dropped silently. Sizes come from the results or the
caller's size lookup (no downloads here).

Layouts: ``label-studio`` (``Annotations/`` and ``images/``, as Label Studio's export) and
``standard`` (Pascal VOC's own, as datumaro and VOC readers take it: ``Annotations/``,
``JPEGImages/``, ``ImageSets/Main/<subset>.txt`` listing each subset's images, ``default``
without subsets, and ``labelmap.txt`` with the class names).
"""

from __future__ import annotations

import re
from pathlib import Path

from ml_data.converters.base import Context, ConversionReport, FormatBase
from ml_data.converters.categories import has_shape, unwritable_name
from ml_data.converters.geometry import box_in_image, corners, to_pixels
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
from ml_data.errors import InvalidExport
from ml_data.tasks.label_config import LabelConfig


def voc_document(
    folder: str, filename: str, width: int, height: int, objects: list[tuple[str, tuple[int, int, int, int]]]
) -> bytes:
    """One image's annotation file, byte for byte what ElementTree writes for the same tree
    (indented by two spaces, UTF-8 with character references for what UTF-8 cannot hold), from a
    template: ElementTree's serialiser was most of a VOC conversion's time."""
    parts = [
        "<?xml version='1.0' encoding='utf-8'?>\n<annotation>\n",
        f"  {_element('folder', folder)}\n  {_element('filename', filename)}\n",
        f"  <size>\n    <width>{width}</width>\n    <height>{height}</height>\n    <depth>3</depth>\n  </size>\n",
        "  <segmented>0</segmented>\n",
    ]
    for name, (xmin, ymin, xmax, ymax) in objects:
        parts.append(
            f"  <object>\n    {_element('name', name)}\n    <pose>Unspecified</pose>\n"
            "    <truncated>0</truncated>\n    <difficult>0</difficult>\n"
            f"    <bndbox>\n      <xmin>{xmin}</xmin>\n      <ymin>{ymin}</ymin>\n"
            f"      <xmax>{xmax}</xmax>\n      <ymax>{ymax}</ymax>\n    </bndbox>\n  </object>\n"
        )
    parts.append("</annotation>")
    return "".join(parts).encode("utf-8", "xmlcharrefreplace")


def _element(tag: str, text: str) -> str:
    """An element holding text, as ElementTree writes it: character data escaped, an empty text
    as a self-closed tag."""
    if not text:
        return f"<{tag} />"
    if "&" in text or "<" in text or ">" in text:
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"<{tag}>{text}</{tag}>"


def voc_box(x0: float, y0: float, x1: float, y1: float, width: int, height: int) -> tuple[int, int, int, int]:
    """Continuous pixel edges -> VOC's 1-based inclusive pixel indices, kept inside the image."""
    xmin = min(max(int(round(x0)) + 1, 1), width)
    ymin = min(max(int(round(y0)) + 1, 1), height)
    xmax = min(max(int(round(x1)), xmin), width)
    ymax = min(max(int(round(y1)), ymin), height)
    return xmin, ymin, xmax, ymax


#: What a class name in <name> cannot hold: what XML cannot (most control characters, lone
#: surrogates, U+FFFE/U+FFFF) and line breaks and tabs, which readers strip or split on.
_NOT_A_NAME = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")


class VocFormat(FormatBase):
    name = "voc"
    layouts = ("label-studio", "standard")

    def check(self, config: LabelConfig | None) -> str | None:
        if config is None:
            return "VOC needs the labeling config"
        if not any(tag.type == "Image" for tag in config.objects.values()):
            return "VOC needs an <Image> object"
        if not has_shape(config, "RectangleLabels"):
            return "VOC holds boxes only: it needs <RectangleLabels> on the image"
        return unwritable_name(_box_labels(config), "VOC's <name> and labelmap.txt")

    def write(self, context: Context, out: Path) -> None:
        config = context.config
        assert config is not None
        options = context.options
        standard = options.layout == "standard"
        images = "JPEGImages" if standard else "images"
        folder = out / "Annotations"
        folder.mkdir()
        names = UniqueNames()
        image_sets: dict[str, list[str]] = {subset: [] for subset in options.subsets} if standard else {}
        for task, url, item, annotation in annotated_images(context, image_tag(config)):
            with context.guard(task.id):
                regions = annotation.result
                size = image_size(regions, url, task.id, context)
                if size is None:
                    continue
                width, height = size
                stem = names.stem(url, task.id, item_label(item))
                filename = f"{stem}{UniqueNames.extension(url)}"
                objects: list[tuple[str, tuple[int, int, int, int]]] = []
                for region in regions:
                    kind = region.type.lower()
                    if kind in ("polygonlabels", "polygon"):
                        context.report.skip(task.id, "polygon left out of VOC (boxes only; use coco or yolo-seg)")
                        continue
                    if kind != "rectanglelabels":
                        if kind in OBJECT_TYPES:
                            context.report.skip(task.id, f"{kind} result left out of VOC (boxes only)")
                        continue
                    labels = region.value.get("rectanglelabels") or []
                    if not labels:
                        continue
                    if not isinstance(labels[0], str) or _NOT_A_NAME.search(labels[0]):
                        raise InvalidExport(
                            f"label {str(labels[0])[:40]!r} cannot be written to XML as a VOC <name> "
                            "(a line break, control character or character XML cannot hold)"
                        )
                    try:
                        box, rotation = to_pixels(region.value, width, height)
                        outer = box_in_image(corners(box, rotation), width, height)
                    except InvalidExport as exc:
                        raise InvalidExport(
                            f"result {str(region.id)[:40]} has no valid geometry ({exc.message})"
                        ) from None
                    bounds = voc_box(outer.x, outer.y, outer.x + outer.width, outer.y + outer.height, width, height)
                    objects.append((labels[0], bounds))
                if not objects and has_objects(regions):
                    context.report.skip(task.id, NOTHING_IN_FORMAT)
                    continue
                with open(f"{folder}/{stem}.xml", "wb") as handle:
                    handle.write(voc_document(images, filename, width, height, objects))
                context.place(url, task.id, f"{images}/{filename}", item_label(item))
                if standard:
                    image_sets.setdefault(context.subset(task.id) or "default", []).append(stem)
                context.report.items_written += 1
        if standard:
            self._write_standard_lists(out, image_sets or {"default": []}, config, context.report)

    @staticmethod
    def _write_standard_lists(
        out: Path, image_sets: dict[str, list[str]], config: LabelConfig, report: ConversionReport
    ) -> None:
        main = out / "ImageSets" / "Main"
        main.mkdir(parents=True)
        for subset, stems in image_sets.items():
            (main / f"{subset}.txt").write_text("".join(stem + "\n" for stem in stems), "utf-8")
        (out / "JPEGImages").mkdir(exist_ok=True)
        names = list(dict.fromkeys(_box_labels(config)))
        # datumaro's label map: name:color:parts:actions (no colour: it picks one). A name with a
        # colon cannot be written there: said, never dropped silently.
        for name in names:
            if ":" in name:
                report.warn(f"label {name[:60]!r} left out of labelmap.txt (':' separates its fields)")
        lines = ["# label:color_rgb:parts:actions", "background:0,0,0::"]
        lines += [f"{name}:::" for name in names if name != "background" and ":" not in name]
        (out / "labelmap.txt").write_text("\n".join(lines) + "\n", "utf-8")


def _box_labels(config: LabelConfig) -> list[str]:
    return [label.value for control in config.controls_of_type("RectangleLabels") for label in control.labels]
