"""COCO brush masks: compressed RLE as pycocotools writes and reads it."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ml_data.converters import ConvertOptions, convert
from ml_data.converters.coco_rle import mask_bbox, mask_rle
from ml_data.errors import ConversionError
from tests.support.exports import brush_result

pycocotools = pytest.importorskip("pycocotools")
from pycocotools import mask as coco_mask  # noqa: E402
from pycocotools.coco import COCO  # noqa: E402
from pycocotools.cocoeval import COCOeval  # noqa: E402

CONFIG = (
    "<View><Image name='image' value='$image'/>"
    "<BrushLabels name='brush' toName='image'><Label value='cat'/><Label value='dog'/></BrushLabels></View>"
)


brush = brush_result


def task(task_id: int, regions: list[dict]) -> dict:
    return {
        "id": task_id,
        "data": {"image": f"/data/upload/1/{task_id}.png"},
        "annotations": [{"id": 1, "result": regions}],
    }


def masks(seed: int, height: int, width: int, count: int) -> list[np.ndarray]:
    """Blobs and noise: runs of every length, masks touching the image's edges."""
    rng = np.random.default_rng(seed)
    out = []
    for index in range(count):
        mask = np.zeros((height, width), dtype=np.uint8)
        y, x = rng.integers(0, height), rng.integers(0, width)
        mask[y : y + rng.integers(1, height), x : x + rng.integers(1, width)] = 255
        if index % 2:
            mask[rng.random((height, width)) < 0.1] = 255
        out.append(mask)
    return out


@settings(max_examples=200, deadline=None)
@given(hnp.arrays(np.uint8, hnp.array_shapes(min_dims=2, max_dims=2, max_side=40), elements=st.sampled_from([0, 255])))
def test_compressed_rle_and_bbox_are_pycocotools_own(mask):
    encoded = coco_mask.encode(np.asfortranarray((mask > 0).astype(np.uint8)))
    assert mask_rle(mask) == {"size": list(encoded["size"]), "counts": encoded["counts"].decode("ascii")}
    assert mask_bbox(mask) == coco_mask.toBbox(encoded).tolist()


def test_every_brush_annotation_decodes_to_its_brush_mask_and_evaluates_to_ap_one(tmp_path):
    """pycocotools' annToMask of every COCO annotation equals the decoded brush mask bit for bit;
    COCOeval (segm) of the ground truth against itself scores AP 1.0."""
    drawn = {1: masks(1, 48, 64, 4), 2: masks(2, 31, 17, 3)}
    tasks = [
        task(task_id, [brush(f"r{i}", mask, "cat" if i % 2 else "dog") for i, mask in enumerate(found)])
        for task_id, found in drawn.items()
    ]
    report = convert(tasks, "coco", tmp_path / "out", config=CONFIG)
    assert report.items_written == 2 and not report.skipped
    path = tmp_path / "out" / "result.json"
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(path))
    names = {category["id"]: category["name"] for category in coco.loadCats(coco.getCatIds())}
    expected = [(mask, "cat" if i % 2 else "dog") for found in drawn.values() for i, mask in enumerate(found)]
    annotations = coco.loadAnns(coco.getAnnIds())
    assert len(annotations) == len(expected)
    for annotation, (mask, label) in zip(annotations, expected, strict=True):
        assert isinstance(annotation["segmentation"]["counts"], str)
        assert np.array_equal(coco.annToMask(annotation), (mask > 0).astype(np.uint8))
        assert names[annotation["category_id"]] == label
        assert annotation["area"] == np.count_nonzero(mask)
        assert annotation["bbox"] == coco_mask.toBbox(coco.annToRLE(annotation)).tolist()
    detections = [{**annotation, "score": 1.0} for annotation in json.loads(path.read_text())["annotations"]]
    with contextlib.redirect_stdout(io.StringIO()):
        evaluation = COCOeval(coco, coco.loadRes(detections), "segm")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    assert evaluation.stats[0] == pytest.approx(1.0)


def test_a_mask_of_another_size_than_the_image_is_an_invalid_task(tmp_path):
    box = {
        "id": "b",
        "from_name": "box",
        "to_name": "image",
        "type": "rectanglelabels",
        "original_width": 20,
        "original_height": 10,
        "value": {"x": 0, "y": 0, "width": 50, "height": 50, "rectanglelabels": ["cat"]},
    }
    config = CONFIG.replace(
        "</View>", "<RectangleLabels name='box' toName='image'><Label value='cat'/></RectangleLabels></View>"
    )
    regions = [box, brush("m", np.full((5, 5), 255, np.uint8), "cat")]
    with pytest.raises(ConversionError, match="5x5, the image 20x10") as info:
        convert([task(3, regions)], "coco", tmp_path / "out", config=config)
    assert info.value.task_id == 3 and not Path(tmp_path / "out").exists()


def test_an_empty_brush_is_left_out_and_reported(tmp_path):
    empty = brush("e", np.zeros((8, 8), np.uint8), "cat")
    cleared = {
        **brush("c", np.zeros((8, 8), np.uint8), "cat"),
        "value": {"format": "rle", "rle": [], "brushlabels": ["cat"]},
    }
    kept = brush("k", np.full((8, 8), 255, np.uint8), "dog")
    report = convert(
        [task(1, [empty, cleared, kept])], "coco", tmp_path / "out", config=CONFIG, options=ConvertOptions()
    )
    annotations = json.loads((tmp_path / "out" / "result.json").read_text())["annotations"]
    assert [annotation["area"] for annotation in annotations] == [64]
    assert sum(report.skipped.values()) == 2
