"""VOC, brush masks and YOLO pose."""

from __future__ import annotations

import io
from xml.etree import ElementTree

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ml_data.converters import convert
from ml_data.converters.brush_rle import rle_from_mask
from ml_data.converters.voc import voc_box, voc_document
from ml_data.fsutil import MARKER

CONFIG = (
    "<View><Image name='img' value='$image'/><RectangleLabels name='box' toName='img'><Label value='cat'/></RectangleLabels>"
    "<PolygonLabels name='poly' toName='img'><Label value='cat'/></PolygonLabels></View>"
)


def test_voc_boxes_and_reported_polygons(tmp_path):
    task = {
        "id": 1,
        "data": {"image": "/data/upload/1/photo.jpg"},
        "annotations": [
            {
                "id": 1,
                "result": [
                    {
                        "from_name": "box",
                        "to_name": "img",
                        "type": "rectanglelabels",
                        "original_width": 400,
                        "original_height": 200,
                        "value": {
                            "x": 10,
                            "y": 20,
                            "width": 25,
                            "height": 50,
                            "rotation": 0,
                            "rectanglelabels": ["cat"],
                        },
                    },
                    {
                        "from_name": "poly",
                        "to_name": "img",
                        "type": "polygonlabels",
                        "original_width": 400,
                        "original_height": 200,
                        "value": {"points": [[1, 1], [5, 1], [5, 5]], "polygonlabels": ["cat"]},
                    },
                ],
            }
        ],
    }
    report = convert([task], "voc", tmp_path / "out", config=CONFIG)
    root = ElementTree.parse(tmp_path / "out" / "Annotations" / "photo.xml").getroot()
    assert root.findtext("filename") == "photo.jpg"
    assert (root.findtext("size/width"), root.findtext("size/height")) == ("400", "200")
    (item,) = root.findall("object")
    assert item.findtext("name") == "cat"
    assert [int(item.findtext(f"bndbox/{t}")) for t in ("xmin", "ymin", "xmax", "ymax")] == [41, 41, 140, 140]
    assert report.skipped == {"polygon left out of VOC (boxes only; use coco or yolo-seg)": 1}


@pytest.mark.parametrize(
    ("edges", "expected"),
    [((0, 0, 10, 10), (1, 1, 10, 10)), ((9.6, 0.4, 20.4, 5.5), (11, 1, 20, 6)), ((-5, -5, 500, 500), (1, 1, 100, 50))],
)
def test_voc_rounding_is_one_based_and_inside(edges, expected):
    assert voc_box(*edges, 100, 50) == expected


BRUSH = "<View><Image name='img' value='$image'/><BrushLabels name='brush' toName='img'><Label value='road'/><Label value='car'/></BrushLabels></View>"


def brush_region(mask, label):  # type: ignore[no-untyped-def]
    height, width = mask.shape
    return {
        "from_name": "brush",
        "to_name": "img",
        "type": "brushlabels",
        "original_width": width,
        "original_height": height,
        "value": {"format": "rle", "rle": rle_from_mask(mask), "brushlabels": [label]},
    }


def _element_tree_document(folder, filename, width, height, objects):
    """The same annotation built and written by ElementTree, as VOC files were written before."""
    root = ElementTree.Element("annotation")

    def child(parent, tag, text=None):
        element = ElementTree.SubElement(parent, tag)
        if text is not None:
            element.text = str(text)
        return element

    child(root, "folder", folder)
    child(root, "filename", filename)
    size = child(root, "size")
    child(size, "width", width)
    child(size, "height", height)
    child(size, "depth", 3)
    child(root, "segmented", 0)
    for name, bounds in objects:
        item = child(root, "object")
        child(item, "name", name)
        child(item, "pose", "Unspecified")
        child(item, "truncated", 0)
        child(item, "difficult", 0)
        box = child(item, "bndbox")
        for tag, value in zip(("xmin", "ymin", "xmax", "ymax"), bounds, strict=True):
            child(box, tag, value)
    ElementTree.indent(root)
    written = io.BytesIO()
    ElementTree.ElementTree(root).write(written, encoding="utf-8", xml_declaration=True)
    return written.getvalue()


coordinate = st.integers(min_value=-(2**40), max_value=2**40)
markup = st.text(alphabet=st.sampled_from("&<>\"'a\u00e9\u4e2d\U0001f600\ud800\r\n\t ]"), max_size=12)
names = st.one_of(st.text(max_size=12), markup)


@given(
    folder=st.sampled_from(["images", "JPEGImages"]),
    filename=names,
    width=st.integers(min_value=1, max_value=100_000),
    height=st.integers(min_value=1, max_value=100_000),
    objects=st.lists(st.tuples(names, st.tuples(coordinate, coordinate, coordinate, coordinate)), max_size=4),
)
def test_voc_files_are_byte_for_byte_what_element_tree_writes(folder, filename, width, height, objects):
    expected = _element_tree_document(folder, filename, width, height, objects)
    assert voc_document(folder, filename, width, height, objects) == expected


def test_voc_document_reads_back_with_escaped_names():
    objects = [("a<b & c>", (1, 2, 3, 4))]
    root = ElementTree.fromstring(voc_document("images", "x&y.jpg", 10, 20, objects))
    assert root.findtext("filename") == "x&y.jpg"
    assert root.findtext("object/name") == "a<b & c>"
    assert [root.findtext(f"object/bndbox/{tag}") for tag in ("xmin", "ymin", "xmax", "ymax")] == ["1", "2", "3", "4"]


@pytest.mark.parametrize(("fmt", "suffix"), [("brush-numpy", ".npy"), ("brush-png", ".png")])
def test_brush_one_file_per_label_per_image(tmp_path, fmt, suffix):
    first = np.zeros((30, 40), dtype=np.uint8)
    first[2:10, 3:20] = 255
    second = np.zeros((30, 40), dtype=np.uint8)
    second[20:25, 5:8] = 255
    car = np.zeros((30, 40), dtype=np.uint8)
    car[0:3, 0:3] = 255
    task = {
        "id": 1,
        "data": {"image": "/data/upload/1/street.jpg"},
        "annotations": [
            {"id": 1, "result": [brush_region(first, "road"), brush_region(second, "road"), brush_region(car, "car")]}
        ],
    }
    report = convert([task], fmt, tmp_path / "out", config=BRUSH)
    files = sorted(p.name for p in (tmp_path / "out").iterdir() if p.name != MARKER)
    assert files == [f"street-brush-car{suffix}", f"street-brush-road{suffix}"] and report.items_written == 2
    path = tmp_path / "out" / f"street-brush-road{suffix}"
    if suffix == ".npy":
        road = np.load(path)
    else:
        from PIL import Image

        road = np.array(Image.open(path))
    assert np.array_equal(road, np.maximum(first, second))


def test_yolo_pose_fixture(fixtures, tmp_path):
    folder = fixtures / "test_export_yolo"
    convert(
        folder / "data_keypoints.json",
        "yolo-pose",
        tmp_path / "out",
        config=(folder / "label_config_keypoints.xml").read_text(),
    )
    lines = [
        [float(v) for v in line.split()]
        for line in (tmp_path / "out" / "labels" / "image1.txt").read_text().splitlines()
    ]
    assert lines
    for line in lines:
        assert len(line) == 5 + 3 * 17
        assert all(0 <= v <= 1 for v in line[1:5])
        keypoints = line[5:]
        assert all(0 <= v <= 1 for v in keypoints[0::3] + keypoints[1::3])
        assert set(keypoints[2::3]) <= {0, 2}
        for x, y, v in zip(keypoints[0::3], keypoints[1::3], keypoints[2::3], strict=True):
            assert v != 0 or (x, y) == (0, 0)
    assert (tmp_path / "out" / "classes.txt").read_text().split() == ["person"]
