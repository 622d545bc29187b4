"""YOLO (Ultralytics) labels: ``labels/<image>.txt``, ``classes.txt``, ``data.yaml``.

Variants, one kind of line per file (never boxes and polygons mixed): ``yolo-pose``
``cls cx cy w h x1 y1 v1 ...`` (each rectangle with its child keypoints, in ``model_index`` order);
``yolo`` detection ``cls cx cy w h`` from rectangles (a rotated rectangle gives the box around its
corners); ``yolo-obb`` ``cls x1 y1 x2 y2 x3 y3 x4 y4`` (the rotated corners); ``yolo-seg``
``cls x1 y1 ...`` from polygons, and from brush masks by their outer contours (one line per separate
part; holes are filled and reported, :mod:`ml_data.converters.contours`). Coordinates are
normalised to [0, 1] and clamped to the image.

Layouts: ``label-studio`` (Label Studio's own: ``labels/``, ``images/``) and ``standard`` (what
Ultralytics and datumaro read as they are: ``images/<subset>/`` and ``labels/<subset>/`` when the
dataset has subsets). ``data.yaml`` has no ``path`` (Ultralytics then resolves the folders against
the yaml's own folder, from any working directory); yolo-pose's has ``kpt_shape`` and, when every
keypoint name is symmetric or has its left/right partner, ``flip_idx``.

Label files are named after the image's file name; when two tasks' images share a name, the later
one becomes ``<name>__task<id>.txt`` (``<name>__task<id>__p<item>.txt`` for a page or list item of
a task with several images: each gets a file, with the results drawn on it). A task with an
annotation but no regions gets an empty file (a background image); a task without annotations is
skipped (unlabelled is not "no objects"). One annotation per task: the first selected (newest with
``all``); more are reported.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from ml_data.converters.base import Context, FormatBase
from ml_data.converters.brush import NO_BRUSH_MASK, brush_mask
from ml_data.converters.categories import (
    SHAPE_TAGS,
    categories,
    has_shape,
    keypoint_names,
    shape_labels,
    unwritable_name,
)
from ml_data.converters.contours import load_cv2, outer_contours
from ml_data.converters.geometry import box_in_image, corners, number, polygon_pixels, to_pixels, upright_box
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
from ml_data.tasks.model import Region, Task

_KINDS = {
    "yolo": ("rectanglelabels", "rectangle"),
    "yolo-obb": ("rectanglelabels", "rectangle"),
    "yolo-seg": ("polygonlabels", "polygon", "brushlabels"),
    "yolo-pose": ("rectanglelabels", "rectangle"),
}


#: The tags whose labels are classes (keypoint labels name the points of a pose, never a class).
_CLASS_TAGS = tuple(tag for tag in SHAPE_TAGS if tag != "KeyPointLabels")


class YoloFormat(FormatBase):
    layouts = ("label-studio", "standard")

    def __init__(self, name: str) -> None:
        self.name = name
        self.region_types = _KINDS[name]

    def check(self, config: LabelConfig | None) -> str | None:
        if config is None:
            return f"{self.name} needs the labeling config (class names and ids)"
        if not any(tag.type == "Image" for tag in config.objects.values()):
            return f"{self.name} needs an <Image> object"
        wanted = "PolygonLabels" if self.name == "yolo-seg" else "RectangleLabels"
        brush = self.name == "yolo-seg" and bool(config.controls_of_type("BrushLabels"))
        if not has_shape(config, wanted) and not brush:
            also = " or <BrushLabels>" if self.name == "yolo-seg" else ""
            return f"{self.name} needs <{wanted}> (or <{wanted[: -len('Labels')]}> with <Labels>){also} on the image"
        if self.name == "yolo-pose" and not config.controls_of_type("KeyPointLabels"):
            return "yolo-pose needs <KeyPointLabels> (with rectangles as their parents)"
        if not shape_labels(config)[0]:
            return f"{self.name} needs labels on a shape tag"
        return unwritable_name(shape_labels(config, _CLASS_TAGS)[0], f"{self.name}'s classes.txt")

    def write(self, context: Context, out: Path) -> None:
        config = context.config
        assert config is not None
        points = keypoint_names(config)
        ids = categories(config, context.options.category_order, tags=_CLASS_TAGS)
        options = context.options
        standard = options.layout == "standard"
        if "brushlabels" in self.region_types and config.controls_of_type("BrushLabels"):
            load_cv2()  # a missing extra stops the run here, not once per task
        labels = out / "labels"
        labels.mkdir()
        names_in_use = UniqueNames()
        folders_made: set[str] = set()
        for task, url, item, annotation in annotated_images(context, image_tag(config), warn_many=True):
            with context.guard(task.id):
                regions = annotation.result
                lines = (
                    self._pose_lines(task, regions, ids, points, url, context)
                    if self.name == "yolo-pose"
                    else self._lines(task, regions, ids, url, context)
                )
                if lines is None:
                    continue
                if not lines and has_objects(regions):
                    context.report.skip(task.id, NOTHING_IN_FORMAT)
                    continue
                subset = context.subset(task.id) if standard else None
                folder = f"{subset}/" if subset else ""
                stem = names_in_use.stem(url, task.id, item_label(item))
                if folder not in folders_made:
                    (labels / folder).mkdir(exist_ok=True)
                    folders_made.add(folder)
                with open(f"{labels}/{folder}{stem}.txt", "w", encoding="utf-8") as handle:
                    handle.write("".join(line + "\n" for line in lines))
                context.place(url, task.id, f"images/{folder}{stem}{UniqueNames.extension(url)}", item_label(item))
                context.report.items_written += 1
        names = {index: name for name, index in ids.items()}
        classes = [names.get(index, f"unused_{index}") for index in range(max(names, default=-1) + 1)]
        (out / "classes.txt").write_text("".join(name + "\n" for name in classes))
        subsets = options.subsets if standard else ()
        (out / "data.yaml").write_text(data_yaml(classes, subsets, points if self.name == "yolo-pose" else None))

    def finish_splits(self, folder: Path, splits: list[str]) -> None:
        """Label Studio's layout with splits: a top-level data.yaml naming each split's images
        folder (the classes are the same in all)."""
        first = folder / splits[0] / "data.yaml"
        names = first.read_text().split("names:\n", 1)[1] if first.exists() else ""
        lines = []
        for split in splits:
            key = "val" if split in ("val", "valid", "validation") else split
            lines.append(f"{key}: {split}/images")
        if not any(line.startswith("val:") for line in lines):
            lines.append(f"val: {splits[-1]}/images")
        (folder / "data.yaml").write_text("\n".join(lines) + "\nnames:\n" + names)

    def _lines(
        self, task: Task, regions: tuple[Region, ...], ids: dict[str, int], url: str, context: Context
    ) -> list[str] | None:
        lines: list[str] = []
        for region in regions:
            kind = region.type.lower()
            if kind not in self.region_types:
                if kind in OBJECT_TYPES:
                    context.report.skip(task.id, f"{kind} result left out of {self.name}")
                continue
            names = region.value.get(kind if kind.endswith("labels") else "labels") or []
            class_id = _class_id(names[0], ids, context) if names else None
            if class_id is None:
                context.report.skip(task.id, f"label {names[0] if names else None!r} is not a class of the config")
                continue
            if kind == "brushlabels":
                # A brush holds its own size; a cleared one (no RLE, perhaps no size) is reported.
                lines += _brush_lines(task, region, class_id, context)
                continue
            size = image_size((region,), url, task.id, context)
            if size is None:
                return None
            width, height = size
            try:
                lines.append(self._line(class_id, region.value, width, height))
            except (KeyError, TypeError, ValueError) as exc:
                context.fail_or_skip(task.id, f"result {str(region.id)[:40]} has no valid geometry ({exc})")
                return None
        return lines

    def _pose_lines(
        self,
        task: Task,
        regions: tuple[Region, ...],
        ids: dict[str, int],
        points: list[str],
        url: str,
        context: Context,
    ) -> list[str] | None:
        """``cls cx cy w h`` of each parent rectangle, then ``x y v`` for every keypoint name in
        ``model_index`` order (``0 0 0`` where missing)."""
        children: dict[str, list[Region]] = {}
        for region in regions:
            if region.type.lower() == "keypointlabels":
                if region.parent_id:
                    children.setdefault(region.parent_id, []).append(region)
                else:
                    context.report.skip(task.id, "keypoint without a parent rectangle left out of yolo-pose")
        lines: list[str] = []
        for region in regions:
            kind = region.type.lower()
            if kind != "rectanglelabels":
                if kind in OBJECT_TYPES and kind != "keypointlabels":
                    context.report.skip(task.id, f"{kind} result left out of {self.name}")
                continue
            names = region.value.get("rectanglelabels") or []
            class_id = _class_id(names[0], ids, context) if names else None
            if class_id is None:
                context.report.skip(task.id, f"label {names[0] if names else None!r} is not a class of the config")
                continue
            size = image_size((region,), url, task.id, context)
            if size is None:
                return None  # the task was failed or skipped, by policy
            width, height = size
            try:
                line = self._line(class_id, region.value, width, height)
            except InvalidExport as exc:
                raise InvalidExport(f"result {str(region.id)[:40]} has no valid geometry ({exc.message})") from None
            vector = ["0.000000 0.000000 0"] * len(points)
            for child in children.get(region.id or "", []):
                label = (child.value.get("keypointlabels") or [None])[0]
                if label in points:
                    x = min(max(number(child.value.get("x"), "keypoint x") / 100, 0.0), 1.0)
                    y = min(max(number(child.value.get("y"), "keypoint y") / 100, 0.0), 1.0)
                    vector[points.index(label)] = f"{x:.6f} {y:.6f} 2"
            lines.append(line + (" " + " ".join(vector) if vector else ""))
        return lines

    def _line(self, class_id: int, value: Any, width: int, height: int) -> str:
        """One label line; an :class:`InvalidExport` for a shape that shows nothing of the image
        (outside it, without area, or smaller than the six decimals written), which would
        otherwise be written as ``0 0 0 0``."""
        if self.name == "yolo-seg":
            pixels = polygon_pixels(value, width, height)
            if len(pixels) < 3:
                raise InvalidExport("a polygon needs three points")
            box_in_image(pixels, width, height)
            points = _written_extent([(x / width, y / height) for x, y in pixels])
            return f"{class_id} " + " ".join(f"{x:.6f} {y:.6f}" for x, y in points)
        # Most boxes are unturned: their box without the corners (the numbers written are the same).
        outer = upright_box(value, width, height) if self.name == "yolo" else None
        if outer is None:
            box, rotation = to_pixels(value, width, height)
            corner_points = corners(box, rotation)
            outer = box_in_image(corner_points, width, height)
            if self.name == "yolo-obb":
                points = _written_extent([(x / width, y / height) for x, y in corner_points])
                return f"{class_id} " + " ".join(f"{x:.6f} {y:.6f}" for x, y in points)
        cx, cy = (outer.x + outer.width / 2) / width, (outer.y + outer.height / 2) / height
        w, h = outer.width / width, outer.height / height
        if round(w, 6) <= 0 or round(h, 6) <= 0:
            raise InvalidExport(_TOO_SMALL)
        return f"{class_id} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}"


def _brush_lines(task: Task, region: Region, class_id: int, context: Context) -> list[str]:
    """``cls x1 y1 ...`` for each separate part of a brush mask, by its outer contour; holes
    and parts too thin for a polygon are reported as warnings naming the task."""
    mask = brush_mask(region)
    if mask is None:
        context.report.skip(task.id, NO_BRUSH_MASK)
        return []
    height, width = mask.shape
    outline = outer_contours(mask)
    where = f"task {task.id}: brush result {str(region.id)[:40]}"
    if outline.holes:
        context.report.warn(f"{where} has {outline.holes} hole(s), filled in yolo-seg (outer contours only)")
    if outline.thin:
        context.report.warn(f"{where}: {outline.thin} part(s) a pixel thin left out of yolo-seg (no polygon)")
    # Pixel centres of a part at least two pixels across, over the image's size: inside (0, 1),
    # with an extent, so nothing to clamp or refuse.
    scale = np.array([width, height], dtype=np.float64)
    lines = []
    for polygon in outline.polygons:
        values = (polygon / scale).ravel().tolist()
        lines.append(f"{class_id} " + " ".join(["%.6f"] * len(values)) % tuple(values))  # one format call
    return lines


_TOO_SMALL = "the region is too small for the six decimals written (under a millionth of the image)"


def _written_extent(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Normalised points clamped to [0, 1]; an :class:`InvalidExport` when, as written with six
    decimals, they span no width or no height."""
    clamped = [(min(max(x, 0.0), 1.0), min(max(y, 0.0), 1.0)) for x, y in points]
    xs = [round(x, 6) for x, _ in clamped]
    ys = [round(y, 6) for _, y in clamped]
    if max(xs) <= min(xs) or max(ys) <= min(ys):
        raise InvalidExport(_TOO_SMALL)
    return clamped


def _class_id(name: str, ids: dict[str, int], context: Context) -> int | None:
    """The class of a result's label; a label that differs from a config label only in case (the
    config was edited after labelling) is matched to it, with a warning."""
    if not isinstance(name, str):
        return None
    if name in ids:
        return ids[name]
    folded = [label for label in ids if label.casefold() == str(name).casefold()]
    if len(folded) == 1:
        message = f"label {name!r} matched to class {folded[0]!r} ignoring case"
        if message not in context.report.warnings:
            context.report.warn(message)
        return ids[folded[0]]
    return None


def _yaml_string(text: str) -> str:
    # A JSON string is a valid YAML double-quoted scalar.
    return json.dumps(text, ensure_ascii=False)


def split_keys(subsets: tuple[str, ...] | list[str]) -> dict[str, str]:
    """data.yaml key -> images folder, for a dataset's subsets (Ultralytics wants ``train`` and
    ``val``; ``valid``/``validation`` are its ``val``; with no val subset the last one is used)."""
    if not subsets:
        return {"train": "images", "val": "images"}
    keys: dict[str, str] = {}
    for subset in subsets:
        key = "val" if subset in ("val", "valid", "validation") else subset
        keys[key] = f"images/{subset}"
    keys.setdefault("val", f"images/{subsets[-1]}")
    keys.setdefault("train", f"images/{subsets[0]}")
    return keys


def data_yaml(classes: list[str], subsets: tuple[str, ...] | list[str], keypoints: list[str] | None) -> str:
    """Ultralytics' dataset file. No ``path``: Ultralytics then takes the folders relative to the
    yaml's own folder, so training works from any working directory."""
    lines = [f"{key}: {_yaml_string(folder)}" for key, folder in split_keys(subsets).items()]
    lines.append("names:")
    lines += [f"  {index}: {_yaml_string(name)}" for index, name in enumerate(classes)]
    if keypoints is not None:
        lines.append(f"kpt_shape: [{len(keypoints)}, 3]")
        flip = flip_index(keypoints)
        if flip is not None:
            lines.append(f"flip_idx: [{', '.join(str(index) for index in flip)}]")
    return "\n".join(lines) + "\n"


_SIDES = {"left": "right", "right": "left", "l": "r", "r": "l"}


def flip_index(names: list[str]) -> list[int] | None:
    """Where each keypoint goes when the image is mirrored: its left/right partner (by name:
    ``left_eye`` <-> ``right_eye``, ``L-knee`` <-> ``R-knee``), itself when it has no side; None
    when a sided keypoint has no partner (then a flip cannot be derived).

    >>> flip_index(["nose", "left_eye", "right_eye"])
    [0, 2, 1]
    """
    position = {name: index for index, name in enumerate(names)}
    flipped = []
    for name in names:
        parts = re.split(r"([_\-\s.]+)", name)
        swapped = [_swap_side(part) for part in parts]
        partner = "".join(swapped)
        if partner == name:
            flipped.append(position[name])
        elif partner in position:
            flipped.append(position[partner])
        else:
            return None
    return flipped


def _swap_side(word: str) -> str:
    other = _SIDES.get(word.lower())
    if other is None:
        return word
    if word.isupper():
        return other.upper()
    return other.capitalize() if word[:1].isupper() else other


YOLO = YoloFormat("yolo")
YOLO_OBB = YoloFormat("yolo-obb")
YOLO_SEG = YoloFormat("yolo-seg")
YOLO_POSE = YoloFormat("yolo-pose")
