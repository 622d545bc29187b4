"""Video projects written as YOLO/COCO frame datasets: each written box is Label Studio's
interpolated box, the square drawn in each frame lies inside it, and a rerun decodes nothing."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from ml_data import Settings
from ml_data.pipeline import DatasetOptions, build_dataset
from ml_data.video import decode as decoding

pytest.importorskip("av")

from label_studio_sdk._extensions.label_studio_tools.postprocessing.video import extract_key_frames  # noqa: E402

from tests.support.videos import HEIGHT, VIDEO_1, VIDEO_2, WIDTH, encode_video, find_square  # noqa: E402

CONFIG = """<View>
  <Labels name="videoLabels" toName="video"><Label value="red"/><Label value="green"/><Label value="blue"/></Labels>
  <Video name="video" value="$video" frameRate="24"/>
  <VideoRectangle name="box" toName="video"/>
</View>"""


def video_tasks() -> list[dict[str, Any]]:
    """Two video tasks, three tracks; green's track ends at frame 16 by a disabled keyframe."""
    tasks = []
    for task_id, (count, squares) in ((1, VIDEO_1), (2, VIDEO_2)):
        url = "data:video/mp4;base64," + base64.b64encode(encode_video(count, squares)).decode()
        result = []
        for index, square in enumerate(squares):
            middle = (square.first + square.last) // 2
            ends = square.last < count
            sequence = [
                square.keyframe(square.first),
                square.keyframe(middle),
                square.keyframe(square.last, enabled=not ends),
            ]
            result.append(
                {
                    "id": f"track{task_id}{index}",
                    "from_name": "box",
                    "to_name": "video",
                    "type": "videorectangle",
                    "value": {
                        "sequence": sequence,
                        "labels": [square.label],
                        "framesCount": count,
                        "duration": count / 24,
                    },
                }
            )
        tasks.append({"id": task_id, "data": {"video": url}, "annotations": [{"id": 10 + task_id, "result": result}]})
    return tasks


def expected_boxes(task: dict[str, Any]) -> dict[tuple[int, str], dict[str, float]]:
    """(frame, label) -> the box Label Studio's interpolated export holds."""
    found = {}
    for region in extract_key_frames(task["annotations"][0]["result"]):
        for item in region["value"]["sequence"]:
            found[(item["frame"], region["value"]["labels"][0])] = item
    return found


@pytest.fixture
def decoder_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = decoding.decode

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(decoding, "decode", counted)
    return calls


def test_yolo_frames_hold_label_studios_interpolated_boxes(
    tmp_path: Path, settings: Settings, decoder_calls: list[int]
) -> None:
    tasks = video_tasks()
    export = tmp_path / "export.json"
    export.write_text(json.dumps(tasks))
    out = tmp_path / "yolo"
    options = DatasetOptions(format="yolo", frames="all", split="train=0.5,val=0.5")
    build_dataset(export, out, config=CONFIG, settings=settings, options=options, source={"export": "x"})
    classes = (out / "classes.txt").read_text().split() if (out / "classes.txt").exists() else None
    names = classes or __import__("yaml").safe_load((out / "data.yaml").read_text())["names"]
    names = list(names.values()) if isinstance(names, dict) else names
    labels = sorted(out.glob("labels/*/*.txt"))
    assert len(labels) == VIDEO_1[0] + VIDEO_2[0]  # every frame of both videos
    checked = 0
    for label_file in labels:
        split = label_file.parent.name
        image = next((out / "images" / split).glob(label_file.stem + ".*"))
        frame = int(label_file.stem.split("_frame")[1].split("__")[0])
        task_id = next(i for i, task in enumerate(tasks, 1) if _sha8(task) in label_file.stem)
        expected = {
            label: box for (number, label), box in expected_boxes(tasks[task_id - 1]).items() if number == frame
        }
        pixels = np.asarray(Image.open(image).convert("RGB"))
        lines = [line.split() for line in label_file.read_text().splitlines()]
        assert sorted(names[int(line[0])] for line in lines) == sorted(expected)
        for line in lines:
            label = names[int(line[0])]
            cx, cy, w, h = (float(v) for v in line[1:])
            box = expected[label]
            assert cx == pytest.approx((box["x"] + box["width"] / 2) / 100, abs=1e-6)
            assert cy == pytest.approx((box["y"] + box["height"] / 2) / 100, abs=1e-6)
            assert w == pytest.approx(box["width"] / 100, abs=1e-6) and h == pytest.approx(
                box["height"] / 100, abs=1e-6
            )
            square = find_square(pixels, label)
            assert square is not None
            x0, y0 = (cx - w / 2) * WIDTH, (cy - h / 2) * HEIGHT
            x1, y1 = (cx + w / 2) * WIDTH, (cy + h / 2) * HEIGHT
            assert x0 - 2 <= square[0] and square[2] <= x1 + 2 and y0 - 2 <= square[1] and square[3] <= y1 + 2
            checked += 1
    assert checked == 24 + 16 + 20
    # every frame of a video in its task's split
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["videos"]["1"]["decoded_frames"] == 24 and manifest["videos"]["2"]["decoded_fps"] == 24
    assert manifest["videos"]["1"]["warnings"] == []
    calls = len(decoder_calls)
    assert calls == 2
    export.write_text(json.dumps(tasks[::-1]))  # the same tasks: rebuilt from the cached frames
    build_dataset(export, tmp_path / "again", config=CONFIG, settings=settings, options=options, source={"export": "x"})
    assert len(decoder_calls) == calls


def _sha8(task: dict[str, Any]) -> str:
    """The start of the video's sha256, which names its frames."""
    return hashlib.sha256(base64.b64decode(task["data"]["video"].split(",", 1)[1])).hexdigest()[:8]
