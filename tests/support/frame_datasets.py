"""Frame datasets read back as the files say, for the video tests: each written frame image with
its boxes (label, pixel corners), from YOLO, COCO or VOC in either layout, and the checks
every video test makes of them (Label Studio's interpolated boxes, the drawn square inside).

Frame images are named ``<video>-<sha256[:8]>_frame<NNNNNN>`` by the pipeline; that name says
which video and frame an image is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import defusedxml.ElementTree as SafeXML
import numpy as np
import yaml
from PIL import Image

from tests.support.videos import HEIGHT, WIDTH, find_square

_FRAME = re.compile(r"-(?P<video>[0-9a-f]{8})_frame(?P<frame>[0-9]{6})")


@dataclass
class WrittenFrame:
    """One frame image of a dataset and the boxes written for it, in pixels (x0, y0, x1, y1)."""

    image: Path
    subset: str
    video: str
    frame: int
    boxes: list[tuple[str, tuple[float, float, float, float]]] = field(default_factory=list)


def _frame(image: Path, subset: str) -> WrittenFrame:
    found = _FRAME.search(image.stem)
    assert found is not None, f"{image.name} is not named as a video frame"
    return WrittenFrame(image=image, subset=subset, video=found["video"], frame=int(found["frame"]))


def read_yolo(out: Path) -> list[WrittenFrame]:
    data = yaml.safe_load((out / "data.yaml").read_text())
    names = data["names"]
    names = [names[key] for key in sorted(names)] if isinstance(names, dict) else names
    frames = []
    for label_file in sorted((out / "labels").rglob("*.txt")):
        # labels/<subset>/x.txt beside images/<subset>/x.png; without subsets, labels/x.txt
        subset = label_file.parent.relative_to(out / "labels").as_posix().strip(".")
        (image,) = (out / "images" / subset).glob(label_file.stem + ".*")
        written = _frame(image, subset)
        for line in label_file.read_text().splitlines():
            index, cx, cy, w, h = line.split()
            x, y, width, height = float(cx) * WIDTH, float(cy) * HEIGHT, float(w) * WIDTH, float(h) * HEIGHT
            written.boxes.append((names[int(index)], (x - width / 2, y - height / 2, x + width / 2, y + height / 2)))
        frames.append(written)
    return frames


def read_coco(out: Path) -> list[WrittenFrame]:
    frames = []
    # Label Studio's layout: result.json naming images/<name>; the standard one: a file per subset
    annotation_files = [out / "result.json"] if (out / "result.json").exists() else []
    annotation_files += sorted((out / "annotations").glob("instances_*.json"))
    for annotation_file in annotation_files:
        subset = annotation_file.stem.removeprefix("instances_").removeprefix("result")
        folder = out / "images" / subset if subset and (out / "images" / subset).is_dir() else out / "images"
        if annotation_file.name == "result.json":
            folder = out
        coco = json.loads(annotation_file.read_text())
        categories = {category["id"]: category["name"] for category in coco["categories"]}
        by_id = {image["id"]: _frame(folder / image["file_name"], subset) for image in coco["images"]}
        for annotation in coco["annotations"]:
            x, y, width, height = annotation["bbox"]
            by_id[annotation["image_id"]].boxes.append(
                (categories[annotation["category_id"]], (x, y, x + width, y + height))
            )
        frames.extend(by_id.values())
    return frames


def read_voc(out: Path) -> list[WrittenFrame]:
    subsets = {
        name: subset.stem
        for subset in sorted((out / "ImageSets" / "Main").glob("*.txt"))
        for name in subset.read_text().split()
    }
    frames = []
    for annotation_file in sorted((out / "Annotations").glob("*.xml")):
        root = SafeXML.parse(annotation_file).getroot()
        images = out / "JPEGImages" if (out / "JPEGImages").is_dir() else out / "images"  # standard, Label Studio's
        written = _frame(images / root.findtext("filename", ""), subsets.get(annotation_file.stem, ""))
        for item in root.iter("object"):
            box = item.find("bndbox")
            assert box is not None
            corners = tuple(float(box.findtext(name, "nan")) for name in ("xmin", "ymin", "xmax", "ymax"))
            # VOC's pixels count from 1: xmin 1 is the image's left edge
            written.boxes.append((item.findtext("name", ""), (corners[0] - 1, corners[1] - 1, corners[2], corners[3])))
        frames.append(written)
    return frames


READERS = {"yolo": read_yolo, "coco": read_coco, "voc": read_voc}


def voc_corners(box: Mapping[str, float]) -> tuple[float, float, float, float]:
    """A percent box in VOC's whole pixels, read back as :func:`read_voc` reads them."""
    x0, y0 = box["x"] / 100 * WIDTH, box["y"] / 100 * HEIGHT
    x1, y1 = x0 + box["width"] / 100 * WIDTH, y0 + box["height"] / 100 * HEIGHT
    xmin, ymin = min(max(round(x0) + 1, 1), WIDTH), min(max(round(y0) + 1, 1), HEIGHT)
    xmax, ymax = min(max(round(x1), xmin), WIDTH), min(max(round(y1), ymin), HEIGHT)
    return xmin - 1, ymin - 1, xmax, ymax


def pixel_corners(box: Mapping[str, float]) -> tuple[float, float, float, float]:
    x0, y0 = box["x"] / 100 * WIDTH, box["y"] / 100 * HEIGHT
    return x0, y0, x0 + box["width"] / 100 * WIDTH, y0 + box["height"] / 100 * HEIGHT


def check_frames(
    fmt: str,
    out: Path,
    expected: Mapping[str, Mapping[tuple[int, str], Mapping[str, Any]]],
    frames: Mapping[str, list[int]],
) -> list[WrittenFrame]:
    """Check the frame dataset ``fmt`` at ``out``: exactly the ``frames`` (video sha8 -> frame
    numbers) are written, each with exactly the boxes of ``expected`` (video sha8 -> (frame,
    label) -> Label Studio's percent box) for that frame, equal to 1e-6 of the image's side (VOC:
    Label Studio's box in VOC's whole pixels), and each label's square, found in the written
    image, lies inside its box (2 pixels of encoding blur allowed)."""
    written = READERS[fmt](out)
    assert sorted((item.video, item.frame) for item in written) == sorted(
        (video, number) for video, numbers in frames.items() for number in numbers
    )
    for item in written:
        wanted = {label: box for (number, label), box in expected[item.video].items() if number == item.frame}
        assert sorted(label for label, _ in item.boxes) == sorted(wanted), (item.image.name, item.boxes)
        pixels = np.asarray(Image.open(item.image).convert("RGB"))
        assert pixels.shape == (HEIGHT, WIDTH, 3)
        for label, corners in item.boxes:
            exact = voc_corners(wanted[label]) if fmt == "voc" else pixel_corners(wanted[label])
            for got, want, side in zip(corners, exact, (WIDTH, HEIGHT, WIDTH, HEIGHT), strict=True):
                assert abs(got - want) <= 1e-6 * side, (item.image.name, label, corners, exact)
            square = find_square(pixels, label)
            assert square is not None, (item.image.name, label)
            x0, y0, x1, y1 = corners
            assert x0 - 2 <= square[0] and square[2] <= x1 + 2, (item.image.name, label, square, corners)
            assert y0 - 2 <= square[1] and square[3] <= y1 + 2, (item.image.name, label, square, corners)
    return written
