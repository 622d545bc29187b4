"""yolo-seg from brush masks: each part's outer contour, read back as Ultralytics reads a label
(``verify_image_label``: a line of more than six values is a polygon; ``polygon2mask``: the points
times the image size, cast to int32, filled by ``cv2.fillPoly``)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from ml_data.converters import ConvertOptions, convert
from ml_data.errors import MissingDependency, NothingToWrite
from tests.support.exports import brush_result

cv2 = pytest.importorskip("cv2")

CONFIG = (
    "<View><Image name='image' value='$image'/>"
    "<PolygonLabels name='poly' toName='image'><Label value='car'/></PolygonLabels>"
    "<BrushLabels name='brush' toName='image'><Label value='road'/><Label value='tree'/></BrushLabels></View>"
)
BRUSH_ONLY = (
    "<View><Image name='image' value='$image'/>"
    "<BrushLabels name='brush' toName='image'><Label value='road'/><Label value='tree'/></BrushLabels></View>"
)


def brush(region_id: str, mask: np.ndarray, label: str = "road") -> dict:
    return brush_result(region_id, mask, label)


def task(task_id: int, regions: list[dict]) -> dict:
    return {
        "id": task_id,
        "data": {"image": f"/data/upload/1/{task_id}.jpg"},
        "annotations": [{"id": 1, "result": regions}],
    }


def read_label(path: Path) -> list[tuple[int, np.ndarray]]:
    """(class, points) per line, checked as Ultralytics checks a segment label."""
    found = []
    for line in path.read_text().splitlines():
        values = line.split()
        assert len(values) > 6 and len(values) % 2 == 1, line  # else Ultralytics takes it for a box
        points = np.array(values[1:], dtype=np.float64).reshape(-1, 2)
        assert ((points >= 0) & (points <= 1)).all()
        found.append((int(values[0]), points))
    return found


def polygon2mask(points: np.ndarray, width: int, height: int) -> np.ndarray:
    canvas = np.zeros((height, width), dtype=np.uint8)
    pixels = np.asarray(points * (width, height), dtype=np.int32).reshape(1, -1, 2)
    cv2.fillPoly(canvas, pixels, color=1)
    return canvas.astype(bool)


def filled(path: Path, width: int, height: int) -> np.ndarray:
    canvas = np.zeros((height, width), dtype=bool)
    for _, points in read_label(path):
        canvas |= polygon2mask(points, width, height)
    return canvas


def without_holes(mask: np.ndarray) -> np.ndarray:
    """The mask with its holes filled: all but the background that reaches the border (Pillow's
    4-connected flood fill, the complement of 8-connected parts)."""
    padded = Image.fromarray(np.pad((mask > 0).astype(np.uint8), 1)).copy()  # a copy Pillow may write to
    ImageDraw.floodfill(padded, (0, 0), 2)
    return np.asarray(padded)[1:-1, 1:-1] != 2


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def write(tmp_path: Path, tasks: list[dict], config: str = CONFIG, **options):  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    report = convert(tasks, "yolo-seg", out, config=config, options=ConvertOptions(**options))
    return out, report


@st.composite
def blobs(draw: st.DrawFn) -> np.ndarray:
    """Unions of rectangles and discs at least two pixels across, anywhere (edges too)."""
    width = draw(st.integers(8, 120))
    height = draw(st.integers(8, 120))
    mask = np.zeros((height, width), dtype=np.uint8)
    rows, columns = np.ogrid[:height, :width]
    for _ in range(draw(st.integers(1, 5))):
        x, y = draw(st.integers(0, width - 2)), draw(st.integers(0, height - 2))
        if draw(st.booleans()):
            mask[y : y + draw(st.integers(2, height)), x : x + draw(st.integers(2, width))] = 255
        else:
            radius = draw(st.integers(2, max(2, min(width, height) // 2)))
            mask[(rows - y) ** 2 + (columns - x) ** 2 <= radius**2] = 255
    return mask


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mask=blobs())
def test_the_polygons_cover_the_brush_mask(tmp_path_factory, mask):
    out, report = write(tmp_path_factory.mktemp("blob"), [task(1, [brush("b", mask)])])
    height, width = mask.shape
    drawn = filled(out / "labels" / "1.txt", width, height)
    assert iou(drawn, mask > 0) >= 0.9
    # every pixel and none outside, but the holes: filled, and said
    assert np.array_equal(drawn, without_holes(mask))
    holes = not np.array_equal(without_holes(mask), mask > 0)
    assert holes == any("task 1: brush result b has" in warning for warning in report.warnings)
    assert all(label == 1 for label, _ in read_label(out / "labels" / "1.txt"))  # road


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    size=st.tuples(st.integers(2, 4000), st.integers(2, 3000)),
    box=st.tuples(st.floats(0, 1), st.floats(0, 1), st.floats(0, 1), st.floats(0, 1)),
)
def test_a_rectangle_is_four_corners_filled_back_exactly(tmp_path_factory, size, box):
    width, height = size
    # at least two pixels each way (a one-pixel line has no polygon), touching the edges too
    x0 = int(box[0] * (width - 2))
    x1 = x0 + 1 + int(box[1] * (width - 2 - x0))
    y0 = int(box[2] * (height - 2))
    y1 = y0 + 1 + int(box[3] * (height - 2 - y0))
    mask = np.zeros((height, width), dtype=np.uint8)
    mask[y0 : y1 + 1, x0 : x1 + 1] = 255
    out, _ = write(tmp_path_factory.mktemp("rect"), [task(1, [brush("b", mask)])], config=BRUSH_ONLY)
    ((_, points),) = read_label(out / "labels" / "1.txt")
    assert len(points) == 4
    assert np.array_equal(polygon2mask(points, width, height), mask > 0)


def test_the_reference_brush_fixture(fixtures, tmp_path):
    with Image.open(fixtures / "test_brush" / "test.png") as image:
        mask = ((np.asarray(image.convert("L")) > 128) * 255).astype(np.uint8)
    out, report = write(tmp_path, [task(1, [brush("f", mask, "tree")])], config=BRUSH_ONLY)
    height, width = mask.shape
    drawn = filled(out / "labels" / "1.txt", width, height)
    # A thresholded photo: hundreds of holes (filled) and specks a pixel thin (left out), said.
    outline = without_holes(mask)
    assert not (drawn & ~outline).any() and iou(drawn, outline) >= 0.98
    assert iou(drawn, mask > 0) >= 0.85
    assert report.warnings == [
        "task 1: brush result f has 886 hole(s), filled in yolo-seg (outer contours only)",
        "task 1: brush result f: 712 part(s) a pixel thin left out of yolo-seg (no polygon)",
    ]
    assert {label for label, _ in read_label(out / "labels" / "1.txt")} == {1}
    assert report.items_written == 1


def test_holes_are_filled_and_named_with_the_task(tmp_path):
    ring = np.zeros((40, 50), dtype=np.uint8)
    ring[5:35, 5:45] = 255
    ring[15:25, 15:35] = 0
    ring[18:22, 20:30] = 255  # an island in the hole: inside the filled polygon already
    ring[0, 49] = 255  # a speck of one pixel
    out, report = write(tmp_path, [task(7, [brush("ring", ring)])])
    (line,) = read_label(out / "labels" / "7.txt")
    outer = np.zeros_like(ring, dtype=bool)
    outer[5:35, 5:45] = True
    assert np.array_equal(polygon2mask(line[1], 50, 40), outer)
    assert "task 7: brush result ring has 1 hole(s), filled in yolo-seg (outer contours only)" in report.warnings
    assert "task 7: brush result ring: 1 part(s) a pixel thin left out of yolo-seg (no polygon)" in report.warnings


def test_separate_parts_are_separate_lines_beside_the_polygons(tmp_path):
    mask = np.zeros((40, 80), dtype=np.uint8)
    mask[2:10, 2:10] = 255
    mask[20:30, 40:70] = 255
    polygon = {
        "id": "p",
        "from_name": "poly",
        "to_name": "image",
        "type": "polygonlabels",
        "original_width": 80,
        "original_height": 40,
        "value": {"points": [[10, 10], [50, 10], [50, 50]], "polygonlabels": ["car"]},
    }
    out, _ = write(tmp_path, [task(1, [polygon, brush("b", mask, "tree")])], layout="standard")
    lines = read_label(out / "labels" / "1.txt")
    assert [label for label, _ in lines] == [0, 2, 2]  # car, tree, tree (alphabetical)
    alone, _ = write(tmp_path / "alone", [task(1, [polygon])])
    assert (out / "labels" / "1.txt").read_text().splitlines()[0] == (alone / "labels" / "1.txt").read_text().strip()
    assert yaml.safe_load((out / "data.yaml").read_text())["names"] == {0: "car", 1: "road", 2: "tree"}


def test_a_cleared_brush_is_reported_and_the_image_left_out(tmp_path):
    cleared = brush("e", np.zeros((10, 10), dtype=np.uint8))
    cleared["value"]["rle"] = []
    del cleared["original_width"], cleared["original_height"]  # nothing to measure it by either
    with pytest.raises(NothingToWrite, match="no item was written"):
        write(tmp_path, [task(1, [cleared])])
    _, report = write(tmp_path, [task(1, [cleared]), task(2, [brush("b", np.full((10, 10), 255, np.uint8))])])
    assert report.skipped == {"brush result without RLE or size": 1, "nothing in this format": 1}
    assert report.items_written == 1


def test_without_opencv_the_run_stops_with_the_extra_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "cv2", None)  # what an import of a missing package does
    with pytest.raises(MissingDependency, match=r"pip install 'ml-data\[masks\]'"):
        write(tmp_path, [task(1, [brush("b", np.full((10, 10), 255, np.uint8))])], on_error="skip")
    assert not (tmp_path / "out").exists()
