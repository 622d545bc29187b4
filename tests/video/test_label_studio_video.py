"""Video tracks against the session's real Label Studio: two videos made here (coloured squares
moving over black, encoded with PyAV) are uploaded, keyframe tracks posted through the API (one
ended by ``enabled: false``), and Label Studio's own export with ``interpolate_key_frames=true``
is the oracle for every frame box ml-data writes, in YOLO, COCO and VOC, from the project or from
either export file."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ml_data.pipeline import DatasetOptions, convert_export, fetch
from tests.support.label_studio_project import Seeded

pytest.importorskip("av")

from tests.support.frame_datasets import check_frames  # noqa: E402
from tests.support.videos import (  # noqa: E402
    CONFIG,
    VIDEO_1,
    VIDEO_2,
    encode_video,
    interpolated_boxes,
    tracks,
    video_sha8,
)

VIDEOS = {"squares-1.mp4": VIDEO_1, "squares-2.mp4": VIDEO_2}


@dataclass(frozen=True)
class VideoProject:
    project: int
    #: video sha8 -> (frame, label) -> the box of Label Studio's interpolated export
    interpolated: dict[str, dict[tuple[int, str], dict[str, Any]]]
    #: video sha8 -> its frame numbers, and its keyframes' frame numbers
    frames: dict[str, list[int]]
    keyframes: dict[str, list[int]]
    #: Label Studio's export as it is, and with interpolate_key_frames=true
    export: list[dict[str, Any]]
    export_interpolated: list[dict[str, Any]]


def _export(seeded: Seeded, project: int, interpolate: bool) -> list[dict[str, Any]]:
    params = {"exportType": "JSON", "interpolate_key_frames": "true" if interpolate else "false"}
    exported: list[dict[str, Any]] = seeded.api("GET", f"/api/projects/{project}/export", params=params).json()
    return exported


@pytest.fixture(scope="module")
def video_project(seeded: Seeded) -> VideoProject:
    project = seeded.api("POST", "/api/projects/", json={"title": "video tracks", "label_config": CONFIG}).json()["id"]
    bodies = {name: encode_video(*video) for name, video in VIDEOS.items()}
    files = {name: (name, body, "video/mp4") for name, body in bodies.items()}
    seeded.api("POST", f"/api/projects/{project}/import", files=files)
    tasks = seeded.api("GET", "/api/tasks", params={"project": project, "page_size": 100}).json()["tasks"]
    assert len(tasks) == 2
    sha8, keyframes, frames, posted = {}, {}, {}, {}
    for task in tasks:
        url = task["data"]["video"]
        assert url.startswith("/data/upload/"), url
        name = next(name for name in VIDEOS if url.endswith(name))
        count, squares = VIDEOS[name]
        result = tracks(count, squares)
        seeded.api("POST", f"/api/tasks/{task['id']}/annotations/", json={"result": result})
        sha8[task["id"]] = video_sha8(bodies[name])
        frames[sha8[task["id"]]] = list(range(1, count + 1))
        keyframes[sha8[task["id"]]] = sorted(
            {item["frame"] for region in result for item in region["value"]["sequence"]}
        )
        posted[task["id"]] = result
    export = _export(seeded, project, interpolate=False)
    interpolated = _export(seeded, project, interpolate=True)
    for task in export:  # as posted: keyframes only
        (annotation,) = task["annotations"]
        assert [region["value"]["sequence"] for region in annotation["result"]] == [
            region["value"]["sequence"] for region in posted[task["id"]]
        ]
    return VideoProject(
        project=project,
        interpolated={sha8[task["id"]]: interpolated_boxes(task["annotations"][0]["result"]) for task in interpolated},
        frames=frames,
        keyframes=keyframes,
        export=export,
        export_interpolated=interpolated,
    )


def test_label_studios_interpolated_export_holds_every_frame_of_each_track(video_project: VideoProject) -> None:
    """The oracle itself: a box in each frame each track covers, green's ended at its last square."""
    for video, boxes in video_project.interpolated.items():
        count = len(video_project.frames[video])
        labels = {label for _, label in boxes}
        for label in labels:
            covered = sorted(frame for frame, other in boxes if other == label)
            assert covered == list(range(1, (16 if label == "green" else count) + 1)), (label, covered)


@pytest.mark.parametrize("fmt", ["yolo", "coco", "voc"])
def test_fetched_frames_hold_label_studios_interpolated_boxes(
    seeded: Seeded, video_project: VideoProject, tmp_path: Path, fmt: str
) -> None:
    settings = seeded.settings(tmp_path)
    out = tmp_path / fmt
    report = fetch(video_project.project, DatasetOptions(format=fmt, frames="all"), settings=settings, out=out)
    written = check_frames(fmt, out, video_project.interpolated, video_project.frames)
    assert sum(len(item.boxes) for item in written) == 24 + 16 + 20
    assert sorted(report.videos) == sorted(str(task["id"]) for task in video_project.export)
    assert all(video["warnings"] == [] for video in report.videos.values())
    keyframes_only = tmp_path / f"{fmt}-keyframes"
    fetch(video_project.project, DatasetOptions(format=fmt), settings=settings, out=keyframes_only)
    check_frames(fmt, keyframes_only, video_project.interpolated, video_project.keyframes)


@pytest.mark.parametrize("interpolated", [False, True], ids=["keyframes-export", "interpolated-export"])
@pytest.mark.parametrize("command", ["fetch", "convert"])
def test_either_export_file_gives_the_same_frames(
    seeded: Seeded, video_project: VideoProject, tmp_path: Path, interpolated: bool, command: str
) -> None:
    """A server that interpolates its exports (INTERPOLATE_KEY_FRAMES) hands over every frame as a
    keyframe: ml-data writes the same boxes from it, by fetch --export and by convert alike."""
    export = tmp_path / "export.json"
    export.write_text(json.dumps(video_project.export_interpolated if interpolated else video_project.export))
    out = tmp_path / "yolo"
    settings = seeded.settings(tmp_path)
    if command == "fetch":
        fetch(export, DatasetOptions(format="yolo", frames="every=5"), settings=settings, out=out, config=CONFIG)
    else:
        convert_export(export, "yolo", out, config=CONFIG, frames="every=5", settings=settings)
    every_fifth = {video: numbers[::5] for video, numbers in video_project.frames.items()}
    check_frames("yolo", out, video_project.interpolated, every_fifth)


TIMELINE_CONFIG = """<View>
  <Video name="video" value="$video" frameRate="24"/>
  <TimelineLabels name="timeline" toName="video"><Label value="red"/><Label value="green"/></TimelineLabels>
</View>"""


def test_timeline_segments_from_label_studio_become_a_frame_csv_beside_the_video(
    seeded: Seeded, tmp_path: Path
) -> None:
    """Segments posted to Label Studio (which checks them against the config) come back in its
    export, and fetch writes each video's covered frames and places the video itself."""
    title = "video timeline"
    project = seeded.api("POST", "/api/projects/", json={"title": title, "label_config": TIMELINE_CONFIG}).json()["id"]
    body = encode_video(*VIDEO_1)
    seeded.api("POST", f"/api/projects/{project}/import", files={"clip.mp4": ("clip.mp4", body, "video/mp4")})
    (task,) = seeded.api("GET", "/api/tasks", params={"project": project}).json()["tasks"]
    ranges = {"red": [{"start": 1, "end": 3}, {"start": 22, "end": 24}], "green": [{"start": 3, "end": 4}]}
    result = [
        {
            "id": f"segment-{label}",
            "from_name": "timeline",
            "to_name": "video",
            "type": "timelinelabels",
            "origin": "manual",
            "value": {"ranges": spans, "timelinelabels": [label]},
        }
        for label, spans in ranges.items()
    ]
    seeded.api("POST", f"/api/tasks/{task['id']}/annotations/", json={"result": result})
    out = tmp_path / "timeline"
    report = fetch(project, DatasetOptions(format="timeline-csv"), settings=seeded.settings(tmp_path), out=out)
    assert report.conversions["all"].items_written == 1
    (csv_file,) = (out / "labels").iterdir()
    (video,) = (out / "videos").iterdir()
    assert video.read_bytes() == body and video.stem == csv_file.stem
    assert csv_file.read_text().splitlines() == [
        "frame,label",
        "1,red",
        "2,red",
        "3,green",
        "3,red",
        "4,green",
        "22,red",
        "23,red",
        "24,red",
    ]
