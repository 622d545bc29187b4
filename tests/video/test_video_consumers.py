"""Video projects fetched as COCO and VOC frame datasets, read by the tools that train on them:
pycocotools loads the COCO and COCOeval scores it perfectly against itself, datumaro imports the
VOC; every written box is Label Studio's interpolated box and holds the square drawn there."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ml_data import Settings
from ml_data.pipeline import DatasetOptions, build_dataset

pytest.importorskip("av")

from tests.pipeline.test_consumers import self_evaluation  # noqa: E402
from tests.support.frame_datasets import check_frames  # noqa: E402
from tests.support.videos import CONFIG, VIDEO_1, VIDEO_2, expected_boxes, video_sha8, video_tasks  # noqa: E402

SPLIT = "train=0.5,val=0.5"
#: boxes in all frames: red in 24, green in 16 (its track ends there), blue in 20
BOXES = 24 + 16 + 20


@pytest.fixture(scope="module")
def tasks() -> list[dict[str, Any]]:
    return video_tasks()


def fetch_frames(tmp_path: Path, settings: Settings, tasks: list[dict[str, Any]], fmt: str, **options: Any) -> Path:
    export = tmp_path / "export.json"
    export.write_text(json.dumps(tasks))
    out = tmp_path / fmt
    chosen = DatasetOptions(format=fmt, frames="all", **options)
    build_dataset(export, out, config=CONFIG, settings=settings, options=chosen, source={"export": "x"})
    return out


def every_frame(tasks: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, list[int]]]:
    expected = {video_sha8(task): expected_boxes(task) for task in tasks}
    frames = {
        video_sha8(task): list(range(1, count + 1)) for task, (count, _) in zip(tasks, (VIDEO_1, VIDEO_2), strict=True)
    }
    return expected, frames


@pytest.mark.parametrize("split", [None, SPLIT], ids=["no-split", "split"])
def test_pycocotools_scores_the_coco_frames_perfectly(tmp_path, settings, tasks, split) -> None:
    from pycocotools.coco import COCO

    out = fetch_frames(tmp_path, settings, tasks, "coco", split=split)
    written = check_frames("coco", out, *every_frame(tasks))
    assert sum(len(item.boxes) for item in written) == BOXES
    annotation_files = sorted((out / "annotations").glob("instances_*.json"))
    assert [path.name for path in annotation_files] == (
        ["instances_default.json"] if split is None else [f"instances_{name}.json" for name in ("train", "val")]
    )
    loaded = 0
    for path in annotation_files:
        coco = COCO(str(path))
        loaded += len(coco.getImgIds())
        assert {category["name"] for category in coco.loadCats(coco.getCatIds())} == {"red", "green", "blue"}
        assert self_evaluation(path) == pytest.approx(1.0), path
    assert loaded == VIDEO_1[0] + VIDEO_2[0]
    if split is not None:
        # every frame of a video in its task's split
        assert len({(item.video, item.subset) for item in written}) == 2


@pytest.mark.parametrize("split", [None, SPLIT], ids=["no-split", "split"])
def test_datumaro_imports_the_voc_frames(tmp_path, settings, tasks, split) -> None:
    from datumaro.components.annotation import AnnotationType
    from datumaro.components.dataset import Dataset

    out = fetch_frames(tmp_path, settings, tasks, "voc", split=split)
    written = check_frames("voc", out, *every_frame(tasks))
    dataset = Dataset.import_from(str(out), "voc_detection")
    labels = dataset.categories()[AnnotationType.label]
    boxes = {
        (item.id, labels[annotation.label].name): annotation.get_bbox()
        for item in dataset
        for annotation in item.annotations
        if annotation.type == AnnotationType.bbox
    }
    assert len(dataset) == VIDEO_1[0] + VIDEO_2[0] and len(boxes) == BOXES
    for item in written:
        for label, (x0, y0, x1, y1) in item.boxes:
            # datumaro reads VOC's 1-based pixels as they are: x = xmin, width = xmax - xmin
            assert boxes[(item.image.stem, label)] == pytest.approx([x0 + 1, y0 + 1, x1 - x0 - 1, y1 - y0 - 1])
    if split is not None:
        assert {item.subset for item in dataset} == {item.subset for item in written}
