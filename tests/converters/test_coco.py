"""COCO against the reference's fixture and assertions, validated by loading it with pycocotools."""

from __future__ import annotations

import json
import shutil
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

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


def test_pixel_numbers_carry_no_float_noise(tmp_path):
    """1.1 % of 640 pixels is 7.04 (Python computes 7.040000000000001): a percentage with d
    decimals of a whole image size has at most d + 2, and COCO writes that number."""
    value = {"x": 1.1, "y": 2.2, "width": 5.6, "height": 3.3, "rotation": 0}
    convert([box_task(1, "a", value, 640, 1000)], "coco", tmp_path / "out", config=CONFIG)
    text = (tmp_path / "out" / "result.json").read_text()
    (annotation,) = json.loads(text)["annotations"]
    assert annotation["bbox"] == [7.04, 22.0, 35.84, 33.0]
    assert annotation["area"] == 1182.72  # 35.84 * 33, from the box as written
    assert "0000000" not in text and "9999999" not in text


def test_polygons_keypoints_and_turned_boxes_are_rounded_alike(tmp_path):
    config = (
        "<View><Image name='img' value='$image'/><PolygonLabels name='poly' toName='img'><Label value='p'/>"
        "</PolygonLabels><RectangleLabels name='box' toName='img'><Label value='r'/></RectangleLabels>"
        "<KeyPointLabels name='kp' toName='img'><Label value='nose'/></KeyPointLabels></View>"
    )

    def region(kind: str, name: str, value: dict, **extra: object) -> dict:
        return {"from_name": name, "to_name": "img", "type": kind, "original_width": 640, "original_height": 1000,
                "value": value, **extra}  # fmt: skip

    result = [
        region("polygonlabels", "poly", {"points": [[1.1, 2.2], [5.6, 2.2], [5.6, 3.3]], "polygonlabels": ["p"]}),
        region(
            "rectanglelabels",
            "box",
            {"x": 1.1, "y": 2.2, "width": 5.6, "height": 3.3, "rotation": 30, "rectanglelabels": ["r"]},
            id="b",
        ),  # fmt: skip
        region("keypointlabels", "kp", {"x": 2.2, "y": 3.3, "keypointlabels": ["nose"]}, parentID="b"),
    ]
    task = {"id": 1, "data": {"image": "/data/upload/1/a.jpg"}, "annotations": [{"id": 1, "result": result}]}
    convert([task], "coco", tmp_path / "out", config=config)
    polygon, turned, keypoints = json.loads((tmp_path / "out" / "result.json").read_text())["annotations"]
    assert polygon["segmentation"] == [[7.04, 22.0, 35.84, 22.0, 35.84, 33.0]]
    assert polygon["bbox"] == [7.04, 22.0, 28.8, 11.0] and polygon["area"] == 158.4
    assert all(number == round(number, 10) for number in turned["segmentation"][0] + turned["bbox"])
    assert turned["area"] == 1182.72  # the turned rectangle's own sides: 35.84 x 33
    assert keypoints["keypoints"] == [14.08, 33.0, 2] and keypoints["bbox"] == turned["bbox"]


_PERCENT = st.decimals(min_value=0, max_value=100, places=4, allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(
    x=_PERCENT,
    y=_PERCENT,
    w=st.decimals(min_value="0.01", max_value=100, places=4),
    h=st.decimals(min_value="0.01", max_value=100, places=4),
    width=st.integers(1, 10_000) | st.integers(10_000, 1_000_000),
    height=st.integers(1, 10_000) | st.integers(10_000, 1_000_000),
)
def test_a_box_is_written_as_its_exact_decimal_pixels(x, y, w, h, width, height):
    """Whatever the percentages (up to four decimals, as Label Studio writes them) and the image
    size, each bbox number is the float nearest the exact decimal value, clamped to the image, and
    the area the float nearest the exact product of the box's sides."""
    assume(x < 100 and y < 100)
    value = {"x": float(x), "y": float(y), "width": float(w), "height": float(h), "rotation": 0}
    folder = Path(tempfile.mkdtemp())
    try:
        convert([box_task(1, "a", value, width, height)], "coco", folder / "out", config=CONFIG)
        (annotation,) = load(folder / "out")["annotations"]
    finally:
        shutil.rmtree(folder)
    left, top = x * width / 100, y * height / 100
    right, bottom = min(left + w * width / 100, Decimal(width)), min(top + h * height / 100, Decimal(height))
    exact = [left, top, right - left, bottom - top]
    assert annotation["bbox"] == [float(number) for number in exact]
    assert annotation["area"] == float(exact[2] * exact[3])
