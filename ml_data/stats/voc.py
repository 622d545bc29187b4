"""Pascal VOC's standard layout: ``ImageSets/Main/<split>.txt`` lists each split's images by
stem, ``Annotations/<stem>.xml`` describes one (its ``<filename>`` in ``JPEGImages/``), and
``labelmap.txt`` names the classes. With ``SegmentationClass/``, an image's ``<stem>.png`` there is
its class mask (a palette PNG whose pixel values are the lines of ``labelmap.txt``, 0 background
and 255 void), counted in pixels per class.

The XML is untrusted: parsed with defusedxml (no entity expansion, no external entities). An
annotation file that is missing, not well-formed, or lacks what VOC requires is a problem of the
dataset, reported with the rest; a box is in VOC's 1-based inclusive pixels (``xmin`` 1 is the
first column, a box from 1 to ``width`` fills the image).
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from ml_data.errors import InvalidDataset
from ml_data.stats.files import DatasetFiles, FileFault, member
from ml_data.stats.model import Box, ImageEntry, Listing, Problem

_LISTS = "ImageSets/Main"
_MASKS = "SegmentationClass"
#: VOC's "void" (a boundary band): in no class
_VOID = 255


def read_voc(files: DatasetFiles, variant: str = "voc") -> Listing:
    """The VOC dataset in ``files`` (see the module's docstring)."""
    names, _ = files.listing(_LISTS)
    found = [name[: -len(".txt")] for name in names if name.endswith(".txt")]
    if not found:
        raise InvalidDataset(f"no {_LISTS}/<split>.txt in {files.root}")
    manifest_splits = files.manifest.splits if files.manifest is not None else ()
    splits = [*(name for name in manifest_splits if name in found), *sorted(set(found) - set(manifest_splits))]

    lines = _labelmap_lines(files)
    masks = lines if files.is_dir(_MASKS) else None

    def records() -> Iterator[ImageEntry | Problem]:
        for split in splits:
            yield from _split_records(files, split, masks)

    classes = tuple(dict.fromkeys(name for name in lines if name and name != "background"))
    return Listing(format=variant, classes=classes, splits=tuple(splits), records=records(), masks=masks is not None)


def _labelmap_lines(files: DatasetFiles) -> tuple[str, ...]:
    """The class name of each line of ``labelmap.txt`` (``name:color:parts:actions``; line n is
    a mask's value n); none without one (the classes are then those the annotations use)."""
    try:
        data = files.read("labelmap.txt")
        text = data.decode("utf-8") if data is not None else ""
    except (FileFault, UnicodeDecodeError) as exc:
        raise InvalidDataset(f"labelmap.txt cannot be read as UTF-8 text ({exc})") from None
    return tuple(line.split(":", 1)[0] for line in text.splitlines() if line.strip() and not line.startswith("#"))


def _split_records(files: DatasetFiles, split: str, masks: tuple[str, ...] | None) -> Iterator[ImageEntry | Problem]:
    relative = f"{_LISTS}/{split}.txt"
    try:
        text = (files.read(relative) or b"").decode("utf-8")
    except (FileFault, UnicodeDecodeError) as exc:
        yield Problem(relative, "an image list that cannot be read", split, detail=str(exc)[:120])
        return
    for number, line in enumerate(text.splitlines(), 1):
        stem = line.strip()
        if not stem:
            continue
        try:
            annotation = member("Annotations", f"{stem}.xml")
        except FileFault as fault:
            yield Problem(relative, fault.reason, split, line=number, detail=fault.detail)
            continue
        found = _mask(files, split, stem, masks) if masks is not None else None
        if isinstance(found, Problem):
            yield found
            found = None
        yield from _item(files, split, annotation, found)


def _mask(files: DatasetFiles, split: str, stem: str, lines: tuple[str, ...]) -> Mapping[str, int] | Problem | None:
    """The pixels of each class in the image's class mask; None when it has none."""
    try:
        relative = member(_MASKS, f"{stem}.png")
        data = files.read(relative)
    except FileFault as fault:
        return Problem(f"{_MASKS}/{stem}.png", fault.reason, split, detail=fault.detail)
    if data is None:
        return None
    import numpy as np
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.mode not in ("P", "L"):
                    return Problem(
                        relative, "a class mask whose pixels are not class indices", split, detail=image.mode
                    )
                counts = np.bincount(np.asarray(image, dtype=np.uint8).ravel(), minlength=256)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        return Problem(relative, "a class mask that cannot be read as an image", split, detail=str(exc)[:120])
    pixels: dict[str, int] = {}
    for value in np.flatnonzero(counts):
        if value == 0 or value == _VOID:
            continue
        name = lines[value] if value < len(lines) else ""
        if not name or name == "background":
            return Problem(relative, "a class mask value labelmap.txt does not name", split, detail=f"value {value}")
        pixels[name] = pixels.get(name, 0) + int(counts[value])
    return pixels


def _item(
    files: DatasetFiles, split: str, relative: str, mask: Mapping[str, int] | None = None
) -> Iterator[ImageEntry | Problem]:
    try:
        data = files.read(relative)
    except FileFault as fault:
        yield Problem(relative, fault.reason, split, detail=fault.detail)
        return
    if data is None:
        yield Problem(relative, "an annotation file that is missing", split)
        return
    try:
        root = fromstring(data)
    except DefusedXmlException as exc:
        yield Problem(relative, "XML with entities or a DTD (refused)", split, detail=type(exc).__name__)
        return
    except (ParseError, ValueError) as exc:
        yield Problem(relative, "an annotation file that is not well-formed XML", split, detail=str(exc)[:120])
        return
    if root.tag != "annotation":
        yield Problem(relative, "an annotation file without <annotation>", split, detail=str(root.tag)[:40])
        return
    size = _size(root)
    if size is None:
        yield Problem(relative, "an annotation without a usable <size>", split)
    objects = []
    for index, element in enumerate(root.iter("object"), 1):
        name = (element.findtext("name") or "").strip()
        if not name:
            yield Problem(relative, "an <object> without a <name>", split, detail=f"object {index}")
            continue
        try:
            objects.append(_box(name, element.find("bndbox"), size))
        except ValueError as exc:
            yield Problem(relative, "an <object> without a usable <bndbox>", split, detail=f"object {index}: {exc}")
            objects.append(Box(name))
    try:
        image = member("JPEGImages", (root.findtext("filename") or "").strip())
        sha256: str | None = files.image(image).sha256
    except FileFault as fault:
        image = f"JPEGImages/{(root.findtext('filename') or '').strip()}"
        yield Problem(image, fault.reason, split, detail=fault.detail or relative)
        sha256 = None
    yield ImageEntry(split, image, sha256, tuple(objects), mask)


def _number(element: Any, tag: str) -> float | None:
    text = element.findtext(tag) if element is not None else None
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def _size(root: Any) -> tuple[float, float] | None:
    size = root.find("size")
    width, height = _number(size, "width"), _number(size, "height")
    return (width, height) if width and height and width > 0 and height > 0 else None


def _box(name: str, bndbox: Any, size: tuple[float, float] | None) -> Box:
    """VOC's 1-based inclusive ``xmin ymin xmax ymax`` -> a box of ``xmax - xmin + 1`` by
    ``ymax - ymin + 1`` pixels; ValueError when the corners are missing or crossed."""
    if bndbox is None:
        raise ValueError("no <bndbox>")
    xmin, ymin, xmax, ymax = (_number(bndbox, tag) for tag in ("xmin", "ymin", "xmax", "ymax"))
    if xmin is None or ymin is None or xmax is None or ymax is None:
        raise ValueError("xmin, ymin, xmax and ymax must be numbers")
    if xmax < xmin or ymax < ymin:
        raise ValueError("xmax or ymax before xmin or ymin")
    outside = size is not None and (xmin < 1 or ymin < 1 or xmax > size[0] or ymax > size[1])
    return Box(name, xmax - xmin + 1, ymax - ymin + 1, outside)


__all__ = ["read_voc"]
