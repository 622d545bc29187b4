"""Every item of a task in the image formats: one image per page of a ``<Repeater>`` document and
per image of a ``valueList``, each with the results Label Studio put on it, named as a task's only
image is unless two items share a name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ml_data.converters import ConvertOptions, MediaHooks, convert
from tests.support.multi_item import (
    HEIGHT,
    REPEATER_CONFIG,
    VALUE_LIST_CONFIG,
    WIDTH,
    gallery_results,
    page_results,
    pixels,
)

#: the pages of document 7: two of them named page.png, in different folders
PAGES = ["/data/upload/1/a/page.png", "/data/upload/1/b/page.png", "/data/upload/1/c.png"]
DOCUMENT = {
    "id": 7,
    "data": {"pages": [{"url": url} for url in PAGES]},
    "annotations": [{"id": 70, "result": page_results(7)}],
}
GALLERY = {
    "id": 8,
    "data": {"images": ["s3://b/x.png", "s3://b/y.png"]},
    "annotations": [{"id": 80, "result": gallery_results(8)}],
}
SIZES = MediaHooks(image_size=lambda url, task_id: (WIDTH, HEIGHT))
STANDARD = ConvertOptions(layout="standard")


def coco(out: Path) -> dict:
    return json.loads((out / "annotations" / "instances_default.json").read_text())


def test_coco_writes_one_image_per_page_with_its_own_boxes(tmp_path):
    report = convert([DOCUMENT], "coco", tmp_path / "coco", config=REPEATER_CONFIG, options=STANDARD, media=SIZES)
    assert report.items_written == 3
    written = coco(tmp_path / "coco")
    assert [(image["id"], image["file_name"]) for image in written["images"]] == [
        (0, "page.png"),
        (1, "page__task7__p1.png"),
        (2, "c.png"),
    ]
    categories = {category["name"]: category["id"] for category in written["categories"]}
    regions = page_results(7)
    assert [(a["image_id"], a["category_id"], a["bbox"]) for a in written["annotations"]] == [
        (0, categories["word"], pixels(regions[0])),
        (2, categories["figure"], pixels(regions[1])),
        (2, categories["word"], pixels(regions[2])),
    ]


def test_yolo_and_voc_write_a_label_file_per_page(tmp_path):
    convert([DOCUMENT], "yolo", tmp_path / "yolo", config=REPEATER_CONFIG, options=STANDARD)
    labels = tmp_path / "yolo" / "labels"
    assert sorted(path.name for path in labels.iterdir()) == ["c.txt", "page.txt", "page__task7__p1.txt"]
    # classes alphabetically: figure 0, word 1
    assert (labels / "page.txt").read_text() == "1 0.225000 0.350000 0.250000 0.500000\n"
    assert (labels / "page__task7__p1.txt").read_text() == ""  # a page without boxes: a background image
    assert (labels / "c.txt").read_text() == (
        "0 0.625000 0.450000 0.250000 0.500000\n1 0.175000 0.650000 0.250000 0.500000\n"
    )
    convert([DOCUMENT], "voc", tmp_path / "voc", config=REPEATER_CONFIG, options=STANDARD, media=SIZES)
    annotations = tmp_path / "voc" / "Annotations"
    assert sorted(path.name for path in annotations.iterdir()) == ["c.xml", "page.xml", "page__task7__p1.xml"]
    assert (annotations / "c.xml").read_text().count("<object>") == 2
    listed = (tmp_path / "voc" / "ImageSets" / "Main" / "default.txt").read_text().split()
    assert listed == ["page", "page__task7__p1", "c"]


def test_a_value_list_puts_each_box_on_the_image_of_its_item_index(tmp_path):
    convert([GALLERY], "coco", tmp_path / "coco", config=VALUE_LIST_CONFIG, options=STANDARD)
    written = coco(tmp_path / "coco")
    assert [image["file_name"] for image in written["images"]] == ["x.png", "y.png"]
    regions = gallery_results(8)
    assert [(a["image_id"], a["bbox"]) for a in written["annotations"]] == [
        (0, pixels(regions[1])),
        (0, pixels(regions[2])),
        (1, pixels(regions[0])),
    ]
    convert([GALLERY], "yolo", tmp_path / "yolo", config=VALUE_LIST_CONFIG)
    assert (tmp_path / "yolo" / "labels" / "y.txt").read_text() == "0 0.325000 0.450000 0.250000 0.500000\n"
    assert len((tmp_path / "yolo" / "labels" / "x.txt").read_text().splitlines()) == 2


def test_the_same_page_name_in_another_task_is_told_apart_by_task_and_page(tmp_path):
    other = {**DOCUMENT, "id": 9, "annotations": [{"id": 90, "result": page_results(9)}]}
    convert([DOCUMENT, other], "yolo", tmp_path / "yolo", config=REPEATER_CONFIG)
    assert sorted(path.stem for path in (tmp_path / "yolo" / "labels").iterdir()) == [
        "c",
        "c__task9__p2",
        "page",
        "page__task7__p1",
        "page__task9__p0",
        "page__task9__p1",
    ]


@pytest.mark.parametrize("task", [{**DOCUMENT, "data": {"pages": []}}, {**GALLERY, "data": {"images": "x"}}])
def test_a_task_without_its_items_is_named_in_a_typed_error(tmp_path, task):
    from ml_data.errors import ConversionError

    config = REPEATER_CONFIG if "pages" in task["data"] else VALUE_LIST_CONFIG
    with pytest.raises(ConversionError, match=r"task data has no image under '(pages\[\*\]\.url|images)'.*task"):
        convert([task], "coco", tmp_path / "out", config=config)
    assert not (tmp_path / "out").exists()


def test_nested_repeaters_write_an_image_per_crop_named_by_both_indices(tmp_path):
    config = (
        '<View><Repeater on="$pages" indexFlag="{{p}}"><Repeater on="$pages[{{p}}].crops" indexFlag="{{c}}">'
        '<Image name="crop_{{p}}_{{c}}" value="$pages[{{p}}].crops[{{c}}].url"/>'
        '<RectangleLabels name="box_{{p}}_{{c}}" toName="crop_{{p}}_{{c}}"><Label value="a"/></RectangleLabels>'
        "</Repeater></Repeater></View>"
    )
    crops = [[f"/data/upload/1/{p}/crop.png" for _c in range(2)] for p in range(2)]
    crops[0][1] = "/data/upload/1/0b/crop.png"
    task = {
        "id": 4,
        "data": {"pages": [{"crops": [{"url": url} for url in row]} for row in crops]},
        "annotations": [{"id": 40, "result": [box_on("box_1_0", "crop_1_0")]}],
    }
    convert([task], "yolo", tmp_path / "yolo", config=config)
    labels = tmp_path / "yolo" / "labels"
    assert sorted(path.name for path in labels.iterdir()) == [
        "crop.txt",
        "crop__task4__p0-1.txt",
        "crop__task4__p1-0.txt",
        "crop__task4__p1-1.txt",
    ]
    assert (labels / "crop__task4__p1-0.txt").read_text().startswith("0 ")
    assert all(
        (labels / name).read_text() == "" for name in ("crop.txt", "crop__task4__p0-1.txt", "crop__task4__p1-1.txt")
    )


def box_on(from_name: str, to_name: str) -> dict:
    from tests.support.multi_item import box

    return box("r1", from_name, to_name, "a", 10, 10)
