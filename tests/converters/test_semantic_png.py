"""semantic-png: one class-index mask per image, regions drawn in result order."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ml_data.converters import ConvertOptions, MediaHooks, convert, supported_formats
from ml_data.converters.brush_rle import rle_from_mask
from ml_data.errors import ConversionError
from ml_data.tasks.label_config import parse_label_config

WIDTH, HEIGHT = 100, 50
CONFIG = (
    "<View><Image name='image' value='$image'/>"
    "<RectangleLabels name='box' toName='image'><Label value='road'/></RectangleLabels>"
    "<PolygonLabels name='poly' toName='image'><Label value='car'/></PolygonLabels>"
    "<BrushLabels name='brush' toName='image'><Label value='person'/></BrushLabels>"
    "<KeyPointLabels name='kp' toName='image'><Label value='nose'/></KeyPointLabels></View>"
)
#: alphabetical from 1: car, person, road
CAR, PERSON, ROAD = 1, 2, 3
SIZE = {"original_width": WIDTH, "original_height": HEIGHT}


def rectangle() -> dict:
    """Pixels x 10..40, y 10..30 (Pillow fills edges)."""
    value = {"x": 10, "y": 20, "width": 30, "height": 40, "rotation": 0, "rectanglelabels": ["road"]}
    return {"id": "r", "from_name": "box", "to_name": "image", "type": "rectanglelabels", **SIZE, "value": value}


def polygon() -> dict:
    """A square, pixels x 60..80, y 20..40."""
    points = [[60, 40], [80, 40], [80, 80], [60, 80]]
    value = {"points": points, "polygonlabels": ["car"]}
    return {"id": "p", "from_name": "poly", "to_name": "image", "type": "polygonlabels", **SIZE, "value": value}


def brush_mask() -> np.ndarray:
    """A ragged blob over parts of both shapes."""
    rng = np.random.default_rng(5)
    mask = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    mask[25:45, 30:70] = 255
    mask[rng.random((HEIGHT, WIDTH)) < 0.05] = 255
    return mask


def brush(mask: np.ndarray) -> dict:
    value = {"format": "rle", "rle": rle_from_mask(mask), "brushlabels": ["person"]}
    return {"id": "m", "from_name": "brush", "to_name": "image", "type": "brushlabels", **SIZE, "value": value}


def task(task_id: int, regions: list[dict]) -> dict:
    return {
        "id": task_id,
        "data": {"image": f"/data/upload/1/{task_id}.jpg"},
        "annotations": [{"id": 1, "result": regions}],
    }


def read(path) -> np.ndarray:  # type: ignore[no-untyped-def]
    with Image.open(path) as image:
        assert image.mode in ("L", "P") and image.size == (WIDTH, HEIGHT)
        return np.asarray(image)


def test_each_pixel_holds_the_class_drawn_last_there(tmp_path):
    mask = brush_mask()
    tasks = [task(1, [rectangle(), polygon(), brush(mask)]), task(2, [brush(mask), polygon(), rectangle()])]
    report = convert(tasks, "semantic-png", tmp_path / "out", config=CONFIG)
    assert report.items_written == 2 and not report.skipped
    shapes = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    shapes[10:31, 10:41] = ROAD
    shapes[20:41, 60:81] = CAR
    brush_last = shapes.copy()
    brush_last[mask > 0] = PERSON
    shapes_last = np.where(mask > 0, PERSON, 0).astype(np.uint8)
    shapes_last[10:31, 10:41] = ROAD
    shapes_last[20:41, 60:81] = CAR
    assert np.array_equal(read(tmp_path / "out" / "masks" / "1.png"), brush_last)
    assert np.array_equal(read(tmp_path / "out" / "masks" / "2.png"), shapes_last)
    lines = (tmp_path / "out" / "labelmap.txt").read_text().splitlines()
    assert lines == ["background", "car", "person", "road"]


def test_an_image_of_objects_it_cannot_draw_gets_no_mask_and_an_empty_one_is_background(tmp_path):
    keypoint = {"id": "k", "from_name": "kp", "to_name": "image", "type": "keypointlabels", **SIZE}
    keypoint["value"] = {"x": 5, "y": 5, "keypointlabels": ["nose"]}
    tasks = [task(1, [keypoint]), task(2, []), task(3, [keypoint, rectangle()])]
    sizes = MediaHooks(image_size=lambda url, task_id: (WIDTH, HEIGHT))
    report = convert(tasks, "semantic-png", tmp_path / "out", config=CONFIG, media=sizes)
    assert report.items_written == 2 and report.skipped["nothing in this format"] == 1
    assert sorted(p.name for p in (tmp_path / "out" / "masks").iterdir()) == ["2.png", "3.png"]
    assert not read(tmp_path / "out" / "masks" / "2.png").any()
    assert set(np.unique(read(tmp_path / "out" / "masks" / "3.png")).tolist()) == {0, ROAD}


def test_a_brush_of_another_size_fails_the_task_and_nothing_is_written(tmp_path):
    small = {**brush(np.full((5, 5), 255, np.uint8)), "original_width": 5, "original_height": 5}
    with pytest.raises(ConversionError, match="5x5, the image 100x50") as info:
        convert([task(4, [rectangle(), small])], "semantic-png", tmp_path / "out", config=CONFIG)
    assert info.value.task_id == 4 and not (tmp_path / "out").exists()


def test_a_huge_recorded_image_size_fails_the_task_without_allocating_its_mask(tmp_path):
    """A polygon on an image that says it is 1,000,000 pixels square: no terabyte canvas."""
    huge = {**polygon(), "original_width": 1_000_000, "original_height": 1_000_000}
    tasks = [task(6, [huge]), task(7, [polygon()])]
    with pytest.raises(ConversionError, match="1000000x1000000") as info:
        convert(tasks, "semantic-png", tmp_path / "out", config=CONFIG)
    assert info.value.task_id == 6 and not (tmp_path / "out").exists()
    report = convert(tasks, "semantic-png", tmp_path / "out", config=CONFIG, options=ConvertOptions(on_error="skip"))
    assert report.items_written == 1 and report.examples[0][0] == 6
    assert [path.name for path in (tmp_path / "out" / "masks").iterdir()] == ["7.png"]


def test_classes_an_8_bit_mask_cannot_hold_are_refused_up_front():
    zero = CONFIG.replace("<Label value='road'/>", "<Label value='road' category='0'/>")
    many = CONFIG.replace("<Label value='road'/>", "".join(f"<Label value='c{i}'/>" for i in range(300)))
    for config in (zero, many):
        assert "classes 1 to 255" in (supported_formats(parse_label_config(config))["semantic-png"] or "")
    assert supported_formats(parse_label_config(CONFIG))["semantic-png"] is None
