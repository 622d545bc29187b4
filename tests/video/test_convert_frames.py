"""``ml-data convert --frames`` and ``convert_export``: video tasks written as frame images with
Label Studio's interpolated boxes, the same files ``fetch --export`` writes, frames decoded once
into the shared cache, and a video that cannot be resolved handled by the error policy."""

from __future__ import annotations

import base64
import json
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ml_data import Settings
from ml_data.cli import main
from ml_data.converters import ConvertOptions
from ml_data.errors import ConversionError
from ml_data.fsutil import MARKER
from ml_data.pipeline import DatasetOptions, convert_export, fetch
from ml_data.pipeline.report import MANIFEST
from tests.support.servers.http_files import FileServer

pytest.importorskip("av")

from tests.support.frame_datasets import check_frames  # noqa: E402
from tests.support.videos import CONFIG, VIDEO_1, VIDEO_2, expected_boxes, video_sha8, video_tasks  # noqa: E402

#: frames 1, 6, 11, ... of each video
EVERY_FIFTH = "every=5"


@pytest.fixture(scope="module")
def tasks() -> list[dict[str, Any]]:
    return video_tasks()


@pytest.fixture
def export(tmp_path: Path, tasks: list[dict[str, Any]]) -> Path:
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks))
    return path


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.xml"
    path.write_text(CONFIG)
    return path


def expectations(tasks: list[dict[str, Any]], step: int = 1) -> tuple[dict[str, Any], dict[str, list[int]]]:
    expected = {video_sha8(task): expected_boxes(task) for task in tasks}
    counts = {1: VIDEO_1[0], 2: VIDEO_2[0]}
    frames = {video_sha8(task): list(range(1, counts[task["id"]] + 1, step)) for task in tasks}
    return expected, frames


def files(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in folder.rglob("*")
        if path.is_file() and path.name not in (MARKER, MANIFEST)
    }


@pytest.mark.parametrize("fmt", ["yolo", "coco", "voc"])
def test_the_convert_command_writes_the_chosen_frames_with_their_boxes(
    tmp_path, monkeypatch, export, config_file, tasks, fmt, decoder_calls
) -> None:
    monkeypatch.setenv("ML_DATA_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / fmt
    command = ["convert", str(export), "--format", fmt, "--out", str(out), "--config", str(config_file)]
    result = CliRunner().invoke(main, [*command, "--frames", EVERY_FIFTH, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["tasks"] == 2 and report["items_written"] == 5 + 4  # frames 1, 6, 11, 16, 21 and 1 ... 16
    decoded = {task_id: (video["decoded_frames"], video["decoded_fps"]) for task_id, video in report["videos"].items()}
    assert decoded == {"1": (VIDEO_1[0], 24), "2": (VIDEO_2[0], 24)}
    written = check_frames(fmt, out, *expectations(tasks, step=5))
    assert all(item.image.is_file() for item in written)
    assert len(decoder_calls) == 2
    again = CliRunner().invoke(main, [*command, "--frames", EVERY_FIFTH])  # the frames come from the cache
    assert again.exit_code == 0, again.output
    assert len(decoder_calls) == 2
    keyframes = CliRunner().invoke(main, command)  # the default, as fetch's: the keyframes
    assert keyframes.exit_code == 0, keyframes.output
    keyframe_numbers = {video_sha8(task): [1, 12, 24] if task["id"] == 1 else [1, 10, 20] for task in tasks}
    keyframe_numbers[video_sha8(tasks[0])] += [8, 16]  # green's keyframes
    check_frames(fmt, out, expectations(tasks)[0], {video: sorted(set(n)) for video, n in keyframe_numbers.items()})


@pytest.mark.parametrize("fmt", ["yolo", "coco", "voc"])
@pytest.mark.parametrize("layout", ["standard", "label-studio"])
def test_convert_writes_the_same_files_as_fetch(tmp_path, settings: Settings, export, fmt, layout) -> None:
    """The same frames, names and annotation files; fetch adds only its manifest."""
    fetched, converted = tmp_path / "fetched", tmp_path / "converted"
    fetch(
        export, DatasetOptions(format=fmt, frames="all", layout=layout), settings=settings, out=fetched, config=CONFIG
    )
    options = ConvertOptions(layout=layout)
    convert_export(export, fmt, converted, config=CONFIG, options=options, frames="all", settings=settings)
    assert files(converted) == files(fetched)
    assert any(name.endswith(".png") for name in files(converted))


def test_task_dicts_convert_too(tmp_path, settings: Settings, tasks) -> None:
    report = convert_export(tasks, "yolo", tmp_path / "out", config=CONFIG, frames="all", settings=settings)
    assert report.tasks == 2 and report.items_written == VIDEO_1[0] + VIDEO_2[0]
    check_frames("yolo", tmp_path / "out", *expectations(tasks))


def test_a_huge_frames_count_costs_only_the_videos_frames(tmp_path, settings: Settings, tasks) -> None:
    """framesCount 10**12 on every track (a hostile export): the frames of the video are written as
    with the true count, without a box made for each of 10**12 frames."""
    hostile = json.loads(json.dumps(tasks))
    for task in hostile:
        for region in task["annotations"][0]["result"]:
            region["value"]["framesCount"] = 10**12
    convert_export(tasks, "yolo", tmp_path / "true", config=CONFIG, frames="all", settings=settings)
    convert_export(hostile, "yolo", tmp_path / "huge", config=CONFIG, frames="all", settings=settings)
    assert files(tmp_path / "huge") == files(tmp_path / "true")


def test_a_video_that_cannot_be_resolved_fails_or_leaves_its_task_out(
    tmp_path, settings: Settings, tasks, file_server: FileServer
) -> None:
    missing = {"id": 3, "data": {"video": file_server.url("/gone.mp4")}, "annotations": tasks[1]["annotations"]}
    batch = [tasks[0], missing]
    with pytest.raises(ConversionError, match="gone.mp4 could not be resolved") as caught:
        convert_export(batch, "coco", tmp_path / "fail", config=CONFIG, frames="all", settings=settings)
    assert caught.value.task_id == 3 and not (tmp_path / "fail").exists()
    skip = ConvertOptions(on_error="skip")
    report = convert_export(
        batch, "coco", tmp_path / "skip", config=CONFIG, options=skip, frames="all", settings=settings
    )
    assert report.tasks == 2 and report.items_written == VIDEO_1[0]
    assert [task_id for task_id, _reason in report.examples] == [3]
    expected, frames = expectations(tasks[:1])
    check_frames("coco", tmp_path / "skip", expected, frames)
    assert not list(tmp_path.glob(".skip*")) and not list(tmp_path.glob(".fail*"))  # no work folder left behind


def test_frames_must_be_a_known_choice(tmp_path, export, config_file) -> None:
    command = ["convert", str(export), "--format", "yolo", "--out", str(tmp_path / "o"), "--config", str(config_file)]
    result = CliRunner().invoke(main, [*command, "--frames", "every=0"])
    assert result.exit_code == 1 and "every=N (N >= 1)" in result.output
    assert not (tmp_path / "o").exists()


def test_the_report_records_each_video_decoded_as_the_fetch_manifest_does(tmp_path, settings: Settings, tasks) -> None:
    """Frames and fps decoded (PyAV, read here, is the oracle) beside the config's frameRate and the
    tracks' framesCount; a config whose frameRate differs is recorded with the difference."""
    import av

    config = CONFIG.replace('frameRate="24"', 'frameRate="25"')
    report = convert_export(tasks, "yolo", tmp_path / "convert", config=config, settings=settings)
    for task in tasks:
        record = report.videos[str(task["id"])]
        data = BytesIO(base64.b64decode(task["data"]["video"].split(",", 1)[1]))
        with av.open(data) as container:
            frames = sum(1 for _frame in container.decode(video=0))
            fps = float(container.streams.video[0].average_rate)
        assert (record["decoded_frames"], record["decoded_fps"]) == (frames, fps)
        assert record["config_frame_rate"] == 25 and record["frames_count"] == [frames]
        assert record["warnings"] == ["the config's frameRate 25 differs from the 24 fps decoded"]
    assert report.as_dict()["videos"] == report.videos
    export = tmp_path / "export.json"
    export.write_text(json.dumps(tasks))
    fetch(export, DatasetOptions(format="yolo"), out=tmp_path / "fetch", config=config, settings=settings)
    assert json.loads((tmp_path / "fetch" / MANIFEST).read_text())["videos"] == report.videos
