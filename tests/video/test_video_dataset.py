"""Video projects written as YOLO/COCO frame datasets: each written box is Label Studio's
interpolated box, the square drawn in each frame lies inside it, and a rerun decodes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ml_data import Settings
from ml_data.pipeline import DatasetOptions, build_dataset

pytest.importorskip("av")

from tests.support.frame_datasets import check_frames  # noqa: E402
from tests.support.videos import CONFIG, VIDEO_1, VIDEO_2, expected_boxes, video_sha8, video_tasks  # noqa: E402


def test_yolo_frames_hold_label_studios_interpolated_boxes(
    tmp_path: Path, settings: Settings, decoder_calls: list[int]
) -> None:
    tasks = video_tasks()
    export = tmp_path / "export.json"
    export.write_text(json.dumps(tasks))
    out = tmp_path / "yolo"
    options = DatasetOptions(format="yolo", frames="all", split="train=0.5,val=0.5")
    build_dataset(export, out, config=CONFIG, settings=settings, options=options, source={"export": "x"})
    expected = {video_sha8(task): expected_boxes(task) for task in tasks}
    frames = {
        video_sha8(task): list(range(1, count + 1)) for task, (count, _) in zip(tasks, (VIDEO_1, VIDEO_2), strict=True)
    }
    written = check_frames("yolo", out, expected, frames)
    assert sum(len(item.boxes) for item in written) == 24 + 16 + 20
    assert len({(item.video, item.subset) for item in written}) == 2
    # every frame of a video in its task's split
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["videos"]["1"]["decoded_frames"] == 24 and manifest["videos"]["2"]["decoded_fps"] == 24
    assert manifest["videos"]["1"]["warnings"] == []
    calls = len(decoder_calls)
    assert calls == 2
    export.write_text(json.dumps(tasks[::-1]))  # the same tasks: rebuilt from the cached frames
    build_dataset(export, tmp_path / "again", config=CONFIG, settings=settings, options=options, source={"export": "x"})
    assert len(decoder_calls) == calls
