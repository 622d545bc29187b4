"""Pascal VOC: ``Annotations/<image>.xml`` per task (per page or list item of a task with several
images), boxes in 1-based pixel coordinates.

Rectangles become ``bndbox`` (rotated ones: the box around their corners); polygons have no place
in VOC and are reported as skipped, never dropped silently. Sizes come from the results or the
caller's size lookup (no downloads here).

Layouts: ``label-studio`` (``Annotations/`` and ``images/``, as Label Studio's export) and
``standard`` (Pascal VOC's own, as datumaro and VOC readers take it: ``Annotations/``,
``JPEGImages/``, ``ImageSets/Main/<subset>.txt`` listing each subset's images, ``default``
without subsets, and ``labelmap.txt`` with the class names). In the standard layout, a project
with brush masks (``<BrushLabels>``) also gets VOC's segmentation folders, its brush masks and
polygons drawn there and listed among the ``<object>`` elements with their boxes
(:mod:`ml_data.converters.voc_masks`).
"""

from __future__ import annotations

import re
from functools import partial
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
from ml_data.converters.raster import mask_classes, shape_of
from ml_data.converters.voc_masks import ImageMasks, segmentation_labelmap, segmentation_problem, shape_bounds
from ml_data.errors import FormatNotSupported, InvalidExport
from ml_data.tasks.label_config import LabelConfig


def voc_document(
    folder: str,
    filename: str,
    width: int,
    height: int,
    objects: list[tuple[str, tuple[int, int, int, int]]],
    *,
    segmented: bool = False,
) -> bytes:
    """One image's annotation file, byte for byte what ElementTree writes for the same tree
    (indented by two spaces, UTF-8 with character references for what UTF-8 cannot hold), from a
    template: ElementTree's serialiser was most of a VOC conversion's time."""
    parts = [
        "<?xml version='1.0' encoding='utf-8'?>\n<annotation>\n",
        f"  {_element('folder', folder)}\n  {_element('filename', filename)}\n",
        f"  <size>\n    <width>{width}</width>\n    <height>{height}</height>\n    <depth>3</depth>\n  </size>\n",
        f"  <segmented>{int(segmented)}</segmented>\n",
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
        if not has_shape(config, "RectangleLabels") and not config.controls_of_type("BrushLabels"):
            return (
                "VOC holds boxes (and brush masks, in the standard layout): it needs <RectangleLabels> or "
                "<BrushLabels> on the image"
            )
        return unwritable_name(_box_labels(config), "VOC's <name> and labelmap.txt")

    def write(self, context: Context, out: Path) -> None:
        config = context.config
        assert config is not None
        options = context.options
        standard = options.layout == "standard"
        # Masks only where VOC has a place for them, and only for projects that paint them: a
        # box project's output stays what it was.
        segmentation = standard and bool(config.controls_of_type("BrushLabels"))
        if not standard and not has_shape(config, "RectangleLabels"):
            raise FormatNotSupported(
                "VOC's label-studio layout holds boxes only: use the standard layout for the brush masks"
            )
        classes = mask_classes(config, options.category_order) if segmentation else {}
        if segmentation:
            problem = segmentation_problem(classes)
            if problem is not None:
                raise FormatNotSupported(problem)
            for made in ("SegmentationClass", "SegmentationObject"):
                (out / made).mkdir()
        images = "JPEGImages" if standard else "images"
        folder = out / "Annotations"
        folder.mkdir()
        names = UniqueNames()
        image_sets: dict[str, list[str]] = {subset: [] for subset in options.subsets} if standard else {}
        segmented_sets: dict[str, list[str]] = {subset: [] for subset in options.subsets}
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
                masks = ImageMasks(width, height) if segmentation else None
                painted = 0
                for region in regions:
                    kind = region.type.lower()
                    if masks is not None and kind in ("brushlabels", "polygonlabels"):
                        shape = shape_of(region, classes, width, height, partial(context.report.skip, task.id))
                        bounds = shape_bounds(shape) if shape is not None else None
                        if shape is None or bounds is None:
                            if shape is not None:
                                context.report.skip(task.id, "brush result paints no pixel")
                            continue
                        objects.append((_xml_name(shape.label), voc_box(*bounds, width, height)))
                        masks.add(shape, len(objects))
                        painted += 1
                        continue
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
                    _xml_name(labels[0])
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
                # An image is segmented when its masks hold its objects, or it has none at all.
                segmented = masks is not None and bool(painted or not has_objects(regions))
                pngs = masks.encoded() if masks is not None and segmented else {}
                with open(f"{folder}/{stem}.xml", "wb") as handle:
                    handle.write(voc_document(images, filename, width, height, objects, segmented=segmented))
                for made, png in pngs.items():
                    (out / made / f"{stem}.png").write_bytes(png)
                if pngs:
                    segmented_sets.setdefault(context.subset(task.id) or "default", []).append(stem)
                context.place(url, task.id, f"{images}/{filename}", item_label(item))
                if standard:
                    image_sets.setdefault(context.subset(task.id) or "default", []).append(stem)
                context.report.items_written += 1
        if standard:
            _write_lists(out / "ImageSets" / "Main", image_sets or {"default": []})
            (out / "JPEGImages").mkdir(exist_ok=True)
            if segmentation:
                _write_lists(out / "ImageSets" / "Segmentation", segmented_sets or {"default": []})
            labelmap = segmentation_labelmap(classes) if segmentation else _box_labelmap(config, context.report)
            (out / "labelmap.txt").write_text(labelmap, "utf-8")


def _box_labelmap(config: LabelConfig, report: ConversionReport) -> str:
    """datumaro's label map of a box project: name:color:parts:actions (no colour: it picks one).
    A name with a colon cannot be written there: said, never dropped silently."""
    names = list(dict.fromkeys(_box_labels(config)))
    for name in names:
        if ":" in name:
            report.warn(f"label {name[:60]!r} left out of labelmap.txt (':' separates its fields)")
    lines = ["# label:color_rgb:parts:actions", "background:0,0,0::"]
    lines += [f"{name}:::" for name in names if name != "background" and ":" not in name]
    return "\n".join(lines) + "\n"


def _xml_name(label: object) -> str:
    """A label as a VOC ``<name>``; an :class:`InvalidExport` for one XML or readers cannot hold."""
    if not isinstance(label, str) or _NOT_A_NAME.search(label):
        raise InvalidExport(
            f"label {str(label)[:40]!r} cannot be written to XML as a VOC <name> "
            "(a line break, control character or character XML cannot hold)"
        )
    return label


def _write_lists(folder: Path, image_sets: dict[str, list[str]]) -> None:
    """``ImageSets/<task>/<subset>.txt``: one image stem a line."""
    folder.mkdir(parents=True)
    for subset, stems in image_sets.items():
        (folder / f"{subset}.txt").write_text("".join(stem + "\n" for stem in stems), "utf-8")


def _box_labels(config: LabelConfig) -> list[str]:
    return [label.value for control in config.controls_of_type("RectangleLabels") for label in control.labels]
