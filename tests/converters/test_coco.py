"""COCO against the reference's fixture and assertions, validated by loading it with pycocotools."""

from __future__ import annotations

import json

import pytest

from ml_data.converters import ConvertOptions, convert

pycocotools = pytest.importorskip("pycocotools.coco")


def load(out):  # type: ignore[no-untyped-def]
    return json.loads((out / "result.json").read_text())


def test_fixture_rect_polygon_keypoints(fixtures, tmp_path):
    folder = fixtures / "test_export_coco"
    convert(folder / "data.json", "coco", tmp_path / "out", config=(folder / "label_config.xml").read_text())
    result = load(tmp_path / "out")
    assert len(result["annotations"]) == 3
    (image,) = result["images"]
    assert (image["width"], image["height"], image["file_name"]) == (500, 320, "images/test_image1.jpg")
    names = {c["id"]: c["name"] for c in result["categories"]}
    rect, polygon, keypoints = result["annotations"]
    assert names[rect["category_id"]] == "rectangle_label"
    source = json.loads((folder / "data.json").read_text())[0]["annotations"][0]["result"]
    value = source[0]["value"]
    assert rect["bbox"] == pytest.approx(
        [value["x"] / 100 * 500, value["y"] / 100 * 320, value["width"] / 100 * 500, value["height"] / 100 * 320],
        rel=1e-6,
    )
    assert len(polygon["segmentation"][0]) == 6 and polygon["area"] > 0
    categories = {c["name"]: c for c in result["categories"]}
    assert names[keypoints["category_id"]] == "default"
    assert len(keypoints["keypoints"]) == 3 * len(categories["default"]["keypoints"])
    assert set(keypoints["keypoints"][2::3]) <= {0, 1, 2}
    x, y, w, h = keypoints["bbox"]
    for px, py in zip(keypoints["keypoints"][0::3], keypoints["keypoints"][1::3], strict=True):
        assert x - 1e-6 <= px <= x + w + 1e-6 and y - 1e-6 <= py <= y + h + 1e-6
    coco = pycocotools.COCO(str(tmp_path / "out" / "result.json"))
    assert len(coco.getAnnIds()) == 3 and len(coco.getImgIds()) == 1


CONFIG = (
    "<View><Image name='img' value='$image'/><RectangleLabels name='box' toName='img'>"
    "<Label value='a' category='10'/><Label value='b' category='2'/><Label value='c' category='7'/>"
    "</RectangleLabels></View>"
)


def box_task(task_id, label, value, width=400, height=200):  # type: ignore[no-untyped-def]
    return {
        "id": task_id,
        "data": {"image": f"/data/upload/1/{task_id}.jpg"},
        "annotations": [
            {
                "id": task_id,
                "result": [
                    {
                        "id": f"r{task_id}",
                        "from_name": "box",
                        "to_name": "img",
                        "type": "rectanglelabels",
                        "original_width": width,
                        "original_height": height,
                        "value": {**value, "rectanglelabels": [label]},
                    }
                ],
            }
        ],
    }


def test_explicit_category_ids_are_ints(tmp_path):
    value = {"x": 10, "y": 10, "width": 10, "height": 10, "rotation": 0}
    convert(
        [box_task(1, "a", value), box_task(2, "b", value), box_task(3, "c", value)],
        "coco",
        tmp_path / "out",
        config=CONFIG,
    )
    result = load(tmp_path / "out")
    assert [a["category_id"] for a in result["annotations"]] == [10, 2, 7]
    assert {c["name"]: c["id"] for c in result["categories"]} == {"a": 10, "b": 2, "c": 7}


def test_ids_start_at_one_and_label_studios_numbering_on_request(tmp_path):
    """Category 0 is background to torchvision and datumaro; annotation id 0 is "unmatched" to
    COCOeval. category_start=0 gives Label Studio's own numbering."""
    config = CONFIG.replace(" category='10'", "").replace(" category='2'", "").replace(" category='7'", "")
    value = {"x": 10, "y": 10, "width": 10, "height": 10, "rotation": 0}
    convert([box_task(1, "a", value)], "coco", tmp_path / "default", config=config)
    convert(
        [box_task(1, "a", value)], "coco", tmp_path / "zero", config=config, options=ConvertOptions(category_start=0)
    )
    default = load(tmp_path / "default")
    assert [c["id"] for c in default["categories"]] == [1, 2, 3]
    assert [a["id"] for a in default["annotations"]] == [1]
    assert [c["id"] for c in load(tmp_path / "zero")["categories"]] == [0, 1, 2]


def test_rotated_box_on_a_non_square_image(tmp_path):
    value = {"x": 25, "y": 25, "width": 20, "height": 20, "rotation": 90}  # see the YOLO test: x 60..100, y 50..130
    convert([box_task(1, "a", value)], "coco", tmp_path / "out", config=CONFIG)
    (annotation,) = load(tmp_path / "out")["annotations"]
    assert annotation["bbox"] == pytest.approx([60, 50, 40, 80])
    assert annotation["segmentation"][0] == pytest.approx([100, 50, 100, 130, 60, 130, 60, 50])


def test_boxes_round_trip_exactly(tmp_path):
    import random

    rng = random.Random(3)
    tasks = [
        box_task(
            n,
            "b",
            {
                "x": rng.uniform(0, 50),
                "y": rng.uniform(0, 50),
                "width": rng.uniform(1, 40),
                "height": rng.uniform(1, 40),
                "rotation": 0,
            },
            1920,
            1080,
        )
        for n in range(1, 40)
    ]
    convert(tasks, "coco", tmp_path / "out", config=CONFIG)
    for task, annotation in zip(tasks, load(tmp_path / "out")["annotations"], strict=True):
        value = task["annotations"][0]["result"][0]["value"]
        expected = [value["x"] * 19.2, value["y"] * 10.8, value["width"] * 19.2, value["height"] * 10.8]
        assert annotation["bbox"] == pytest.approx(expected, abs=1e-6)


def test_same_image_names_in_two_folders_stay_two_images(tmp_path):
    value = {"x": 10, "y": 10, "width": 10, "height": 10, "rotation": 0}
    first, second = box_task(1, "a", value), box_task(2, "b", value)
    first["data"]["image"] = "/data/local-files/?d=left/frame.jpg"
    second["data"]["image"] = "/data/local-files/?d=right/frame.jpg"
    convert([first, second], "coco", tmp_path / "out", config=CONFIG)
    assert [i["file_name"] for i in load(tmp_path / "out")["images"]] == ["images/frame.jpg", "images/frame__task2.jpg"]


def test_an_image_url_urlsplit_refuses_still_names_its_file(tmp_path):
    """Regression: naming the image of http://[x/a.jpg raised urlsplit's ValueError (task failed)."""
    task = box_task(1, "a", {"x": 10, "y": 10, "width": 10, "height": 10, "rotation": 0})
    task["data"]["image"] = "http://[x/dir/a.jpg?v=1"
    report = convert([task], "coco", tmp_path / "out", config=CONFIG)
    assert report.skipped == {} and [i["file_name"] for i in load(tmp_path / "out")["images"]] == ["images/a.jpg"]
