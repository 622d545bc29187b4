"""YOLO label files of a model's output, one per image (``labels/<image>.txt``, as Ultralytics'
``predict(save_txt=True)`` and ml-data's YOLO datasets write them).

Lines by variant, coordinates normalised to the image, the confidence optional (``save_conf``):
``yolo`` ``cls cx cy w h [conf]``; ``yolo-obb`` ``cls x1 y1 x2 y2 x3 y3 x4 y4 [conf]`` (the four
corners of a rotated box); ``yolo-seg`` ``cls x1 y1 ... xn yn [conf]`` (a polygon, three points at
least: an even number of numbers after the class, one more with a confidence). An empty file is
an image where the model found nothing. A file with a bad line is reported whole: an image gets
all of its detections or none.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ml_data.backend.predictions.folder import read_text, relative_parts, walk
from ml_data.backend.predictions.model import (
    Detection,
    Geometry,
    ImageItem,
    Item,
    ItemProblem,
    Polygon,
    Quad,
    Rect,
    Unreadable,
    confidence,
    fraction,
    number,
    shown,
    subset_folders,
)

VARIANTS = ("yolo", "yolo-obb", "yolo-seg")
#: Files beside the labels that are not labels.
_NOT_LABELS = frozenset({"classes.txt", "readme.txt", "notes.txt"})


def label_root(folder: Path) -> Path:
    """Where the label files are: ``labels/`` when the folder has one, else the folder itself."""
    return folder / "labels" if (folder / "labels").is_dir() else folder


def read_yolo(folder: Path, variant: str, names: tuple[str, ...]) -> Iterator[Item]:
    """An item per label file under ``folder``; ``names`` are the class names by id."""
    for path in walk(label_root(folder), ".txt"):
        if path.name.lower() in _NOT_LABELS:
            continue
        relative = path.relative_to(folder).as_posix()
        try:
            detections = tuple(_lines(read_text(path), variant, names))
        except ItemProblem as exc:
            yield Unreadable(relative, str(exc))
            continue
        folders = subset_folders(relative_parts(path, folder))
        yield ImageItem(source=relative, name=path.name, folders=folders, detections=detections)


def _lines(text: str, variant: str, names: tuple[str, ...]) -> Iterator[Detection]:
    for number_, line in enumerate(text.splitlines(), 1):
        tokens = line.split()
        if not tokens:
            continue
        try:
            yield parse_line(tokens, variant, names)
        except ItemProblem as exc:
            raise ItemProblem(f"line {number_}: {exc}") from None


def parse_line(tokens: list[str], variant: str, names: tuple[str, ...]) -> Detection:
    """One label line, checked: a known class id, finite coordinates inside the image, a score
    from 0 to 1.

    >>> parse_line("1 0.5 0.5 0.5 0.25 0.9".split(), "yolo", ("cat", "dog"))
    Detection(label='dog', shape=Rect(x=0.25, y=0.375, width=0.5, height=0.25), score=0.9)
    """
    label = class_name(tokens[0], names)
    values = [number(token, "coordinate") for token in tokens[1:]]
    score: float | None = None
    shape: Geometry
    if variant == "yolo":
        if len(values) not in (4, 5):
            raise ItemProblem(f"a detection line has 5 or 6 values (class cx cy w h [conf]), not {len(tokens)}")
        shape = _rect(*values[:4])
        score = confidence(values[4]) if len(values) == 5 else None
    elif variant == "yolo-obb":
        if len(values) not in (8, 9):
            raise ItemProblem(f"an obb line has 9 or 10 values (class x1 y1 ... x4 y4 [conf]), not {len(tokens)}")
        shape = Quad(_points(values[:8]))
        score = confidence(values[8]) if len(values) == 9 else None
    else:
        if len(values) % 2:
            values, score = values[:-1], confidence(values[-1])
        if len(values) < 6:
            raise ItemProblem("a polygon needs three points")
        shape = Polygon(_points(values))
    return Detection(label=label, shape=shape, score=score)


def class_name(token: str, names: tuple[str, ...]) -> str:
    """The name of the class a line's first token numbers."""
    if not token.isascii() or not token.isdigit() or len(token) > 9:
        raise ItemProblem(f"class id {shown(token)} is not a whole number")
    index = int(token)
    if index >= len(names):
        raise ItemProblem(f"class id {index} is out of range (there are {len(names)} classes)")
    return names[index]


def _rect(cx: float, cy: float, width: float, height: float) -> Rect:
    if width < 0 or height < 0:
        raise ItemProblem("a box has a negative width or height")
    left, right = fraction(cx - width / 2, "left edge"), fraction(cx + width / 2, "right edge")
    top, bottom = fraction(cy - height / 2, "top edge"), fraction(cy + height / 2, "bottom edge")
    return Rect(left, top, right - left, bottom - top)


def _points(values: list[float]) -> tuple[tuple[float, float], ...]:
    return tuple((fraction(x, "x"), fraction(y, "y")) for x, y in zip(values[::2], values[1::2], strict=True))
