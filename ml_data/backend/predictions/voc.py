"""Pascal VOC files of a model's output: ``Annotations/<image>.xml`` with ``<size>`` and an
``<object>`` per box (``<name>``, ``<bndbox>`` in VOC's 1-based pixel indices). VOC has no scores.

The XML is untrusted: read with defusedxml (no DTD, no entities), each file bounded in size.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from ml_data.backend.predictions.folder import read_item, relative_parts, walk
from ml_data.backend.predictions.model import (
    Detection,
    ImageItem,
    Item,
    ItemProblem,
    Rect,
    Unreadable,
    fraction,
    image_side,
    number,
    subset_folders,
)


def read_voc(folder: Path) -> Iterator[Item]:
    """An item per XML file under ``folder/Annotations`` (or ``folder`` itself)."""
    root = folder / "Annotations" if (folder / "Annotations").is_dir() else folder
    for path in walk(root, ".xml"):
        relative = path.relative_to(folder).as_posix()
        try:
            name, size, detections = parse_voc(read_item(path))
        except ItemProblem as exc:
            yield Unreadable(relative, str(exc))
            continue
        folders = subset_folders(relative_parts(path, folder))
        yield ImageItem(relative, name or path.name, folders, detections, size)


def parse_voc(data: bytes) -> tuple[str | None, tuple[int, int], tuple[Detection, ...]]:
    """(image file name, (width, height), detections) of one VOC annotation file."""
    try:
        root = fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise ItemProblem(f"uses forbidden XML features ({type(exc).__name__})") from None
    except ParseError as exc:
        raise ItemProblem(f"is not well-formed XML ({exc})") from None
    if root.tag != "annotation":
        raise ItemProblem(f"is not a VOC annotation (root element <{str(root.tag)[:40]}>)")
    size = root.find("size")
    if size is None:
        raise ItemProblem("has no <size>")
    width = image_side(number(_text(size, "width"), "width"), "width")
    height = image_side(number(_text(size, "height"), "height"), "height")
    filename = (root.findtext("filename") or "").strip().replace("\\", "/").rsplit("/", 1)[-1] or None
    detections = tuple(_object(item, width, height) for item in root.iter("object"))
    return filename, (width, height), detections


def _object(item: Element, width: int, height: int) -> Detection:
    label = (item.findtext("name") or "").strip()
    if not label:
        raise ItemProblem("an object has no <name>")
    box = item.find("bndbox")
    if box is None:
        raise ItemProblem(f"object {label[:40]!r} has no <bndbox>")
    xmin, ymin, xmax, ymax = (number(_text(box, edge), edge) for edge in ("xmin", "ymin", "xmax", "ymax"))
    if xmax < xmin or ymax < ymin:
        raise ItemProblem(f"object {label[:40]!r} has its max edge before its min edge")
    # VOC counts pixels from 1, both edges included: pixel i spans [i - 1, i] in continuous units.
    left, right = fraction((xmin - 1) / width, "xmin"), fraction(xmax / width, "xmax")
    top, bottom = fraction((ymin - 1) / height, "ymin"), fraction(ymax / height, "ymax")
    return Detection(label=label, shape=Rect(left, top, right - left, bottom - top))


def _text(element: Element, tag: str) -> str:
    text = element.findtext(tag)
    if text is None or not text.strip():
        raise ItemProblem(f"has no <{tag}>")
    return text.strip()
