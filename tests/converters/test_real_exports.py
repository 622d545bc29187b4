"""Shapes of real Label Studio exports that the synthetic ones miss: Label Studio 0.x completions
without an annotator, the OCR template, keypoint-only labels, empty annotations and masks."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from ml_data.converters import convert
from ml_data.converters.brush_rle import rle_from_mask
from ml_data.errors import NothingToWrite

OCR_CONFIG = """<View>
  <Image name="image" value="$ocr"/>
  <Labels name="label" toName="image">
    <Label value="Text" background="green"/>
    <Label value="Handwriting" background="blue"/>
  </Labels>
  <Rectangle name="bbox" toName="image" strokeWidth="3"/>
  <Polygon name="poly" toName="image" strokeWidth="3"/>
  <TextArea name="transcription" toName="image" editable="true" perRegion="true" required="true"
            maxSubmissions="1" rows="5" placeholder="Recognized Text" displayMode="region-list"/>
</View>"""


def ocr_region(region_id: str, kind: str, value: dict, **extra: object) -> dict:
    return {
        "id": region_id,
        "from_name": {"rectangle": "bbox", "polygon": "poly", "labels": "label", "textarea": "transcription"}[kind],
        "to_name": "image",
        "type": kind,
        "original_width": 200,
        "original_height": 100,
        "image_rotation": 0,
        "value": {**value, **extra},
    }


def ocr_task() -> dict:
    geometry = {"x": 10, "y": 20, "width": 30, "height": 10, "rotation": 0}
    points = {"points": [[50, 50], [80, 50], [80, 70], [50, 70]]}
    return {
        "id": 1,
        "data": {"ocr": "/data/upload/1/receipt.png"},
        "annotations": [
            {
                "id": 1,
                "result": [
                    ocr_region("r1", "rectangle", geometry),
                    ocr_region("r1", "labels", geometry, labels=["Text"]),
                    ocr_region("r1", "textarea", geometry, text=["TOTAL 12.50"]),
                    ocr_region("p1", "polygon", points),
                    ocr_region("p1", "labels", points, labels=["Handwriting"]),
                    ocr_region("p1", "textarea", points, text=["thanks!"]),
                ],
            }
        ],
    }


def test_the_ocr_template_exports_its_regions_to_coco_with_their_text(tmp_path):
    """Regression: Rectangle/Polygon + Labels + a per-region TextArea was refused for COCO."""
    convert([ocr_task()], "coco", tmp_path / "coco", config=OCR_CONFIG)
    coco = json.loads((tmp_path / "coco" / "result.json").read_text())
    names = {category["id"]: category["name"] for category in coco["categories"]}
    found = {(names[a["category_id"]], a["attributes"]["transcription"]) for a in coco["annotations"]}
    assert found == {("Text", "TOTAL 12.50"), ("Handwriting", "thanks!")}
    rectangle = next(a for a in coco["annotations"] if names[a["category_id"]] == "Text")
    assert rectangle["bbox"] == [20.0, 20.0, 60.0, 10.0]


def test_the_ocr_template_exports_boxes_to_voc_and_yolo(tmp_path):
    convert([ocr_task()], "voc", tmp_path / "voc", config=OCR_CONFIG)
    xml = (tmp_path / "voc" / "Annotations" / "receipt.xml").read_text()
    assert xml.count("<object>") == 1 and "<name>Text</name>" in xml  # the polygon is reported, VOC has boxes only
    convert([ocr_task()], "yolo", tmp_path / "yolo", config=OCR_CONFIG)
    classes = (tmp_path / "yolo" / "classes.txt").read_text().split()
    line = (tmp_path / "yolo" / "labels" / "receipt.txt").read_text().split()
    assert classes[int(line[0])] == "Text" and [float(v) for v in line[1:]] == [0.25, 0.25, 0.3, 0.1]
    convert([ocr_task()], "yolo-seg", tmp_path / "seg", config=OCR_CONFIG)
    segment = (tmp_path / "seg" / "labels" / "receipt.txt").read_text().split()
    assert classes[int(segment[0])] == "Handwriting" and len(segment) == 9


def test_plain_yolo_lists_no_keypoint_labels_as_box_classes(tmp_path):
    config = (
        "<View><Image name='image' value='$image'/>"
        "<RectangleLabels name='box' toName='image'><Label value='person'/></RectangleLabels>"
        "<KeyPointLabels name='kp' toName='image'><Label value='nose'/><Label value='ankle'/></KeyPointLabels></View>"
    )
    unlabelled = {"id": 1, "data": {"image": "/data/upload/1/a.jpg"}, "annotations": []}
    convert([unlabelled], "yolo", tmp_path / "yolo", config=config)
    assert (tmp_path / "yolo" / "classes.txt").read_text().split() == ["person"]


def test_an_annotation_without_an_annotator_has_none_as_label_studio_writes_it(tmp_path):
    """Regression: the annotator became the string "None" (Label Studio 0.x completions)."""
    task = {"id": 1, "data": {"text": "hi"}, "completions": [{"id": 5, "result": []}]}
    convert([task], "json-min", tmp_path / "min")
    assert json.loads((tmp_path / "min" / "result.json").read_text())[0]["annotator"] is None
    convert([task], "csv", tmp_path / "csv")
    with open(tmp_path / "csv" / "result.csv", newline="") as handle:
        (row,) = csv.DictReader(handle)
    assert row["annotator"] == ""


def test_an_empty_annotation_without_a_size_is_skipped_with_a_warning(tmp_path):
    """Regression: one submitted annotation without regions aborted an offline COCO/VOC conversion."""
    config = (
        "<View><Image name='image' value='$image'/>"
        "<RectangleLabels name='box' toName='image'><Label value='cat'/></RectangleLabels></View>"
    )
    sized = {
        "id": "r",
        "from_name": "box",
        "to_name": "image",
        "type": "rectanglelabels",
        "original_width": 10,
        "original_height": 10,
        "value": {"x": 0, "y": 0, "width": 50, "height": 50, "rectanglelabels": ["cat"]},
    }
    tasks = [
        {"id": 1, "data": {"image": "/data/upload/1/a.jpg"}, "annotations": [{"id": 1, "result": []}]},
        {"id": 2, "data": {"image": "/data/upload/1/b.jpg"}, "annotations": [{"id": 2, "result": [sized]}]},
    ]
    for name in ("coco", "voc"):
        report = convert(tasks, name, tmp_path / name, config=config)  # on_error "fail"
        assert report.items_written == 1 and sum(report.skipped.values()) == 1
        assert any("task 1" in warning for warning in report.warnings)


def test_an_empty_brush_mask_is_skipped_with_a_warning(tmp_path):
    config = (
        "<View><Image name='image' value='$image'/>"
        "<BrushLabels name='brush' toName='image'><Label value='cat'/></BrushLabels></View>"
    )
    empty = {
        "id": "m",
        "from_name": "brush",
        "to_name": "image",
        "type": "brushlabels",
        "original_width": 4,
        "original_height": 4,
        "value": {"format": "rle", "rle": [], "brushlabels": ["cat"]},
    }
    task = {"id": 1, "data": {"image": "/data/upload/1/a.jpg"}, "annotations": [{"id": 1, "result": [empty]}]}
    with pytest.raises(NothingToWrite, match="brush result without RLE"):  # the only task: nothing written
        convert([task], "brush-png", tmp_path / "brush", config=config)
    full = {
        **empty,
        "value": {"format": "rle", "rle": rle_from_mask(np.full((4, 4), 255, np.uint8)), "brushlabels": ["cat"]},
    }
    other = {"id": 2, "data": {"image": "/data/upload/1/b.jpg"}, "annotations": [{"id": 2, "result": [full]}]}
    report = convert([task, other], "brush-png", tmp_path / "brush", config=config)  # on_error "fail"
    assert report.items_written == 1 and report.warnings and sum(report.skipped.values()) == 1
