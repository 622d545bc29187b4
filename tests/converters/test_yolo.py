"""YOLO against the reference's fixtures, hand-computed geometry, categories, and round trips."""

from __future__ import annotations

import json
import math

import pytest

from ml_data.converters import ConvertOptions, MediaHooks, convert, parse_label_config
from ml_data.converters.categories import categories
from ml_data.converters.geometry import Box, corners, from_pixels, to_pixels
from ml_data.errors import NothingToWrite


def yolo_lines(out, name):  # type: ignore[no-untyped-def]
    return [[float(v) for v in line.split()] for line in (out / "labels" / f"{name}.txt").read_text().splitlines()]


def test_fixture_two_annotators_first_annotation(fixtures, tmp_path):
    folder = fixtures / "test_export_yolo"
    report = convert(folder / "data.json", "yolo", tmp_path / "out", config=(folder / "label_config.xml").read_text())
    assert sorted(p.name for p in (tmp_path / "out" / "labels").iterdir()) == ["image1.txt", "image2.txt"]
    assert all(len(yolo_lines(tmp_path / "out", n)) == 2 for n in ("image1", "image2"))
    assert (tmp_path / "out" / "classes.txt").read_text().split() == ["parasites", "white"]
    assert report.items_written == 2 and any("2 annotations" in w for w in report.warnings)


def test_fixture_obb(fixtures, tmp_path):
    folder = fixtures / "test_export_yolo"
    convert(
        folder / "data_obb.json", "yolo-obb", tmp_path / "out", config=(folder / "label_config_obb.xml").read_text()
    )
    counts = {name: len(yolo_lines(tmp_path / "out", name)) for name in ("image1", "image2", "image3")}
    assert counts == {"image1": 23, "image2": 1, "image3": 1}
    assert all(len(line) == 9 and all(0 <= v <= 1 for v in line[1:]) for line in yolo_lines(tmp_path / "out", "image1"))


def test_fixture_polygons(fixtures, tmp_path):
    folder = fixtures / "test_export_yolo"
    convert(
        folder / "data_polygons.json",
        "yolo-seg",
        tmp_path / "out",
        config=(folder / "label_config_polygons.xml").read_text(),
    )
    labelled = {p.stem: p.read_text().splitlines() for p in (tmp_path / "out" / "labels").iterdir()}
    assert [len(lines) for stem, lines in labelled.items() if lines] == [1]
    assert "image2" in labelled and labelled["image2"]


CONFIG = (
    "<View><Image name='img' value='$image'/><RectangleLabels name='box' toName='img'>"
    "<Label value='zebra'/><Label value='ant'/><Label value='cat'/></RectangleLabels>"
    "<Choices name='quality' toName='img'><Choice value='good'/></Choices></View>"
)


def task(task_id, image, *regions, width=400, height=200):  # type: ignore[no-untyped-def]
    result = [
        {
            "id": f"r{n}",
            "from_name": "box",
            "to_name": "img",
            "type": "rectanglelabels",
            "original_width": width,
            "original_height": height,
            "value": {**value, "rectanglelabels": [label]},
        }
        for n, (label, value) in enumerate(regions)
    ]
    return {"id": task_id, "data": {"image": image}, "annotations": [{"id": task_id, "result": result}]}


def test_categories_alphabetical_config_and_explicit():
    config = parse_label_config(CONFIG)
    assert categories(config) == {"ant": 0, "cat": 1, "zebra": 2}  # Choices never count
    assert categories(config, "config") == {"zebra": 0, "ant": 1, "cat": 2}
    explicit = parse_label_config(CONFIG.replace("value='ant'", "value='ant' category='5'"))
    assert categories(explicit) == {"ant": 5, "cat": 0, "zebra": 1}


def test_rotated_box_on_a_non_square_image_by_hand(tmp_path):
    # 400x200 image; box at (100, 50) px, 80x40 px, rotated 90 degrees clockwise around its
    # top-left corner: corners (100,50) (100,130) (60,130) (60,50) -> x 60..100, y 50..130.
    value = {"x": 25, "y": 25, "width": 20, "height": 20, "rotation": 90}
    convert([task(1, "/data/upload/1/a.jpg", ("cat", value))], "yolo", tmp_path / "det", config=CONFIG)
    (line,) = yolo_lines(tmp_path / "det", "a")
    assert line[0] == 1
    assert line[1:] == pytest.approx([80 / 400, 90 / 200, 40 / 400, 80 / 200], abs=1e-6)
    convert([task(1, "/data/upload/1/a.jpg", ("cat", value))], "yolo-obb", tmp_path / "obb", config=CONFIG)
    (obb,) = yolo_lines(tmp_path / "obb", "a")
    expected = [(100, 50), (100, 130), (60, 130), (60, 50)]
    assert obb[1:] == pytest.approx([c for x, y in expected for c in (x / 400, y / 200)], abs=1e-6)


def test_boxes_round_trip_within_a_millionth_of_a_pixel(tmp_path):
    import random

    rng = random.Random(4)
    tasks = []
    for n in range(1, 30):
        width, height = rng.choice([(640, 480), (1920, 1080), (333, 777)])
        value = {
            "x": rng.uniform(0, 60),
            "y": rng.uniform(0, 60),
            "width": rng.uniform(1, 39),
            "height": rng.uniform(1, 39),
            "rotation": 0,
        }
        tasks.append(task(n, f"/data/upload/1/{n}.jpg", ("ant", value), width=width, height=height))
    convert(tasks, "yolo", tmp_path / "out", config=CONFIG)
    for source in tasks:
        region = source["annotations"][0]["result"][0]
        width, height = region["original_width"], region["original_height"]
        box, _ = to_pixels(region["value"], width, height)
        cls, cx, cy, w, h = yolo_lines(tmp_path / "out", str(source["id"]))[0]
        back = Box((cx - w / 2) * width, (cy - h / 2) * height, w * width, h * height)
        assert back == pytest.approx(box, abs=1e-3)  # 6 decimals of a normalised value


def test_geometry_round_trip_and_rotation():
    value = {"x": 12.5, "y": 40, "width": 30, "height": 10, "rotation": 30}
    box, rotation = to_pixels(value, 1920, 1080)
    assert from_pixels(box, 1920, 1080, rotation) == pytest.approx(value)
    points = corners(box, 30)
    assert math.dist(points[0], points[1]) == pytest.approx(box.width)
    assert math.dist(points[1], points[2]) == pytest.approx(box.height)


def test_same_file_name_in_two_folders_gets_two_label_files(tmp_path):
    value = {"x": 10, "y": 10, "width": 10, "height": 10, "rotation": 0}
    tasks = [
        task(1, "/data/local-files/?d=left/frame.jpg", ("ant", value)),
        task(2, "/data/local-files/?d=right/frame.jpg", ("cat", value)),
    ]
    convert(tasks, "yolo", tmp_path / "out", config=CONFIG)
    names = sorted(p.name for p in (tmp_path / "out" / "labels").iterdir())
    assert names == ["frame.txt", "frame__task2.txt"]
    assert yolo_lines(tmp_path / "out", "frame")[0][0] == 0 and yolo_lines(tmp_path / "out", "frame__task2")[0][0] == 1


def test_missing_size_uses_the_lookup_or_is_reported(tmp_path):
    value = {"x": 0, "y": 0, "width": 50, "height": 50, "rotation": 0}
    source = task(1, "/data/upload/1/a.jpg", ("ant", value))
    for region in source["annotations"][0]["result"]:
        del region["original_width"], region["original_height"]
    with pytest.raises(NothingToWrite, match="image size unknown"):  # the only task: nothing is left
        convert([source], "yolo", tmp_path / "skip", config=CONFIG, options=ConvertOptions(on_error="skip"))
    convert(
        [source],
        "yolo",
        tmp_path / "ok",
        config=CONFIG,
        media=MediaHooks(image_size=lambda url, tid: (100, 100)),
    )
    assert yolo_lines(tmp_path / "ok", "a") == [[0, 0.25, 0.25, 0.5, 0.5]]


def test_polygons_are_not_mixed_into_detection_files(tmp_path):
    config = CONFIG.replace(
        "</View>", "<PolygonLabels name='poly' toName='img'><Label value='ant'/></PolygonLabels></View>"
    )
    source = task(1, "/data/upload/1/a.jpg", ("ant", {"x": 1, "y": 1, "width": 5, "height": 5, "rotation": 0}))
    source["annotations"][0]["result"].append(
        {
            "from_name": "poly",
            "to_name": "img",
            "type": "polygonlabels",
            "original_width": 400,
            "original_height": 200,
            "value": {"points": [[1, 1], [5, 1], [5, 5]], "polygonlabels": ["ant"]},
        }
    )
    report = convert([source], "yolo", tmp_path / "det", config=config)
    assert len(yolo_lines(tmp_path / "det", "a")) == 1
    assert report.skipped == {"polygonlabels result left out of yolo": 1}
    convert([source], "yolo-seg", tmp_path / "seg", config=config)
    (line,) = yolo_lines(tmp_path / "seg", "a")
    assert len(line) == 7


def test_data_yaml_and_unlabelled_tasks(tmp_path):
    value = {"x": 1, "y": 1, "width": 5, "height": 5, "rotation": 0}
    empty = {"id": 2, "data": {"image": "/data/upload/1/b.jpg"}, "annotations": [{"id": 2, "result": []}]}
    none = {"id": 3, "data": {"image": "/data/upload/1/c.jpg"}, "annotations": []}
    report = convert(
        [task(1, "/data/upload/1/a.jpg", ("ant", value)), empty, none], "yolo", tmp_path / "out", config=CONFIG
    )
    assert (tmp_path / "out" / "labels" / "b.txt").read_text() == ""  # a background image
    assert not (tmp_path / "out" / "labels" / "c.txt").exists() and report.skipped == {"no annotation": 1}
    yaml_text = (tmp_path / "out" / "data.yaml").read_text()
    assert 'names:\n  0: "ant"\n  1: "cat"\n  2: "zebra"\n' in yaml_text
    assert json.loads('"' + "ant" + '"') == "ant"
