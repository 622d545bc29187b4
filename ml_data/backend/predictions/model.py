"""What a model's output says about one image, read from any format (pure values).

Geometry is kept in fractions of the image (0 to 1), as YOLO writes it and as Label Studio's
percentages are, so that formats that know the image size (COCO, VOC) and those that do not (YOLO)
meet in one form; only a rotated box needs the size (its angle is measured in pixels).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: How far past the image's edge a coordinate may be (rounding in the writer) before it is refused;
#: within it, the value is clamped to the edge.
EDGE_TOLERANCE = 1e-3


class ItemProblem(Exception):
    """What is wrong with one item of the model's output (a line, an object, a file): reported for
    that item by the error policy, never for the whole import."""


@dataclass(frozen=True)
class Rect:
    """An axis-aligned box: top-left corner, width and height, as fractions of the image."""

    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Quad:
    """A rotated box by its four corners (fractions of the image), in the order the model gave."""

    corners: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Polygon:
    """A polygon's points (fractions of the image)."""

    points: tuple[tuple[float, float], ...]


Geometry = Rect | Quad | Polygon


@dataclass(frozen=True)
class Detection:
    """One object the model found: its class name, shape and confidence (None: not given)."""

    label: str
    shape: Geometry
    score: float | None = None


@dataclass(frozen=True)
class ImageItem:
    """A model's output for one image.

    ``source`` says where it was read (a file, or a file and an image id), for reports; ``name`` is
    the image's (or its label file's) name, matched to a task by its stem; ``folders`` are the
    folders it was found under (a split such as ``train``), which tell same-named images apart.
    """

    source: str
    name: str
    folders: tuple[str, ...]
    detections: tuple[Detection, ...]
    #: the image's width and height in pixels, when the format says
    size: tuple[int, int] | None = None


#: Folder names that say what a folder holds (labels, images), not which subset it is.
ROLE_FOLDERS = frozenset({"labels", "images", "annotations", "jpegimages"})


def subset_folders(parts: tuple[str, ...]) -> tuple[str, ...]:
    """The folders of a relative path that name a subset: ``labels/train`` -> ``("train",)``."""
    return tuple(part for part in parts if part.lower() not in ROLE_FOLDERS)


def fraction(value: float, what: str) -> float:
    """A coordinate as a fraction of the image: finite, within the image (clamped within
    :data:`EDGE_TOLERANCE` of an edge); else an :class:`ItemProblem`."""
    if not math.isfinite(value) or not -EDGE_TOLERANCE <= value <= 1 + EDGE_TOLERANCE:
        raise ItemProblem(f"{what} {value!r} is outside the image (0 to 1)")
    return min(max(value, 0.0), 1.0)


def confidence(value: float) -> float:
    """A score: finite, from 0 to 1."""
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise ItemProblem(f"score {value!r} is not from 0 to 1")
    return value


def number(text: str, what: str) -> float:
    """A number written in a text format (YOLO lines, VOC elements): finite, or an ItemProblem."""
    try:
        value = float(text)
    except ValueError:
        raise ItemProblem(f"{what} {shown(text)} is not a number") from None
    if not math.isfinite(value):
        raise ItemProblem(f"{what} {shown(text)} is not a finite number")
    return value


#: Larger than any real image side: a size past it is a broken file, not a picture.
MAX_SIDE = 1_000_000


def image_side(value: object, what: str) -> int:
    """An image width or height: a whole, positive number of pixels."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= MAX_SIDE:
        raise ItemProblem(f"image {what} {str(value)[:40]!r} is not a positive number of pixels")
    if isinstance(value, float) and not value.is_integer():
        raise ItemProblem(f"image {what} {value!r} is not a whole number of pixels")
    return int(value)


def json_number(value: object, what: str) -> float:
    """A number read from JSON: a finite int or float (never a boolean or a string)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ItemProblem(f"{what} is {type(value).__name__}, not a number")
    if isinstance(value, int) and abs(value) > 2**53:
        raise ItemProblem(f"{what} is out of range")
    result = float(value)
    if not math.isfinite(result):
        raise ItemProblem(f"{what} is not a finite number")
    return result


def shown(text: str, limit: int = 80) -> str:
    """Untrusted text (a file name, a value) fit for a message: quoted, control characters
    escaped, shortened."""
    quoted = repr(text[: limit + 1])
    return quoted if len(text) <= limit else quoted[:-1] + "...'"


@dataclass(frozen=True)
class Unreadable:
    """An item of the model's output that could not be read: where, and why."""

    source: str
    reason: str


Item = ImageItem | Unreadable
