"""timeline-csv: TimelineLabels segments as a ``frame,label`` CSV per video. The result shape is the
one Label Studio's SDK validates (``TimelineLabelsTag``); a range covers its start and end frames,
as Label Studio's editor draws it (``rangeToSequence``: a one-frame click is start == end)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from label_studio_sdk.label_interface import LabelInterface

from ml_data.converters import ConvertOptions, MediaHooks, convert, get_format, supported_formats
from ml_data.converters.timeline import MAX_FRAME, MAX_ROWS
from ml_data.errors import ConversionError, FormatNotSupported, MlDataError, OutputError
from ml_data.tasks.label_config import parse_label_config

CONFIG = """<View>
  <Video name="video" value="$video"/>
  <TimelineLabels name="timeline" toName="video">
    <Label value="run"/><Label value="jump"/><Label value="rest, then walk"/>
  </TimelineLabels>
</View>"""


def segment(ranges: list[dict[str, Any]], *labels: str, region_id: str = "r") -> dict[str, Any]:
    return {
        "id": region_id,
        "from_name": "timeline",
        "to_name": "video",
        "type": "timelinelabels",
        "origin": "manual",
        "value": {"ranges": ranges, "timelinelabels": list(labels)},
    }


def video_task(task_id: Any, url: str, *results: dict[str, Any], annotations: int = 1) -> dict[str, Any]:
    return {
        "id": task_id,
        "data": {"video": url},
        "annotations": [{"id": task_id * 10 + n, "result": list(results)} for n in range(annotations)],
    }


def rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def test_each_covered_frame_is_a_row_of_its_video_csv(tmp_path: Path) -> None:
    results = [
        segment([{"start": 3, "end": 5}], "run", region_id="a"),
        segment([{"start": 5, "end": 6}, {"start": 9, "end": 9}], "jump", region_id="b"),
        segment([{"start": 4, "end": 7}], "run", region_id="c"),  # overlaps a: its frames once
        segment([{"start": 1, "end": 1}], "rest, then walk", region_id="d"),
    ]
    interface = LabelInterface(CONFIG)
    assert all(interface.validate_region(region) for region in results)  # Label Studio's own shape
    tasks = [
        video_task(1, "/data/upload/3/clip.mp4", *results),
        video_task(2, "/data/upload/4/clip.mp4", segment([{"start": 2.0, "end": 2}], "jump")),
        video_task(3, "/data/upload/4/empty.mp4"),  # labelled, with no segment: a header alone
    ]
    report = convert(tasks, "timeline-csv", tmp_path / "out", config=CONFIG)
    assert report.items_written == 3 and not report.skipped
    assert rows(tmp_path / "out" / "labels" / "clip.csv") == [
        ["frame", "label"],
        ["1", "rest, then walk"],
        ["3", "run"],
        ["4", "run"],
        ["5", "jump"],
        ["5", "run"],
        ["6", "jump"],
        ["6", "run"],
        ["7", "run"],
        ["9", "jump"],
    ]
    assert rows(tmp_path / "out" / "labels" / "clip__task2.csv") == [["frame", "label"], ["2", "jump"]]
    assert rows(tmp_path / "out" / "labels" / "empty.csv") == [["frame", "label"]]
    assert not (tmp_path / "out" / "videos").exists()  # a plain conversion places no media


def test_every_selected_annotation_counts_and_placing_names_the_video(tmp_path: Path) -> None:
    first = segment([{"start": 1, "end": 2}], "run")
    task = video_task(1, "https://example.com/v/clip.webm", first, annotations=1)
    task["annotations"].append({"id": 99, "result": [segment([{"start": 2, "end": 3}], "jump")]})
    placing = MediaHooks(places_media=True)
    report = convert([task], "timeline-csv", tmp_path / "out", config=CONFIG, media=placing)
    assert rows(tmp_path / "out" / "labels" / "clip.csv")[1:] == [
        ["1", "run"],
        ["2", "jump"],
        ["2", "run"],
        ["3", "jump"],
    ]
    assert report.placements == [("https://example.com/v/clip.webm", 1, "videos/clip.webm")]
    latest = convert(
        [task], "timeline-csv", tmp_path / "latest", config=CONFIG, options=ConvertOptions(annotations="first")
    )
    assert latest.items_written == 1
    assert rows(tmp_path / "latest" / "labels" / "clip.csv")[1:] == [["1", "run"], ["2", "run"]]


def test_a_config_without_timeline_labels_on_a_video_is_refused_before_reading() -> None:
    image = "<View><Image name='i' value='$i'/><RectangleLabels name='b' toName='i'/></View>"
    assert "TimelineLabels" in (supported_formats(parse_label_config(image))["timeline-csv"] or "")
    assert supported_formats(parse_label_config(CONFIG))["timeline-csv"] is None
    with pytest.raises(FormatNotSupported, match="labeling config"):
        convert([video_task(1, "/data/upload/1/v.mp4")], "timeline-csv", "unused", config=None)


@pytest.mark.parametrize(
    ("ranges", "labels", "message"),
    [
        ([{"start": 5, "end": 3}], ["run"], "ends \\(frame 3\\) before it starts \\(5\\)"),
        ([{"start": 0, "end": 3}], ["run"], "start=0"),
        ([{"start": 1.5, "end": 3}], ["run"], "start=1.5"),
        ([{"start": 1, "end": MAX_FRAME + 1}], ["run"], f"end={MAX_FRAME + 1}"),
        # every frame up to MAX_FRAME under eleven labels: more rows than a timeline CSV may hold
        ([{"start": 1, "end": MAX_FRAME}], [f"label {n}" for n in range(11)], f"more than {MAX_ROWS}"),
        ([{"start": 1, "end": float("nan")}], ["run"], "end=nan"),
        ([{"start": True, "end": 3}], ["run"], "start=True"),
        ([{"start": "1", "end": 3}], ["run"], "start='1'"),
        ([{"end": 3}], ["run"], "start=None"),
        ([7], ["run"], "not an object"),
        ("1-3", ["run"], "ranges='1-3'"),
        ([{"start": 1, "end": 3}], "run", "timelinelabels='run'"),
        ([{"start": 1, "end": 3}], [None], "timelinelabels=\\[None\\]"),
    ],
)
def test_a_broken_range_names_the_task_and_writes_nothing(
    tmp_path: Path, ranges: Any, labels: Any, message: str
) -> None:
    good = video_task(1, "/data/upload/1/good.mp4", segment([{"start": 1, "end": 2}], "run"))
    broken = video_task(2, "/data/upload/1/bad.mp4", segment([{"start": 1, "end": 2}], "run"))
    broken["annotations"][0]["result"].append(
        {
            "from_name": "timeline",
            "to_name": "video",
            "type": "timelinelabels",
            "value": {"ranges": ranges, "timelinelabels": labels},
        }
    )
    with pytest.raises(ConversionError, match=message) as caught:
        convert([good, broken], "timeline-csv", tmp_path / "fail", config=CONFIG)
    assert caught.value.task_id == 2 and not (tmp_path / "fail").exists()
    skip = ConvertOptions(on_error="skip")
    report = convert([good, broken], "timeline-csv", tmp_path / "skip", config=CONFIG, options=skip)
    assert report.items_written == 1 and sum(report.skipped.values()) == 1
    assert sorted(path.name for path in (tmp_path / "skip" / "labels").iterdir()) == ["good.csv"]


_number = st.one_of(
    st.integers(-3, 60), st.floats(allow_nan=True), st.sampled_from([None, True, "4", [], {}, 2**70, MAX_FRAME + 1])
)


@settings(max_examples=200, deadline=None)
@given(
    ranges=st.lists(st.fixed_dictionaries({"start": _number, "end": _number}), max_size=4),
    labels=st.lists(st.sampled_from(["run", "jump", "x\ny", "=cmd"]), max_size=3),
)
def test_any_ranges_give_exactly_the_covered_frames_or_a_typed_error(
    tmp_path_factory: pytest.TempPathFactory, ranges: list[dict[str, Any]], labels: list[str]
) -> None:
    out = tmp_path_factory.mktemp("timeline") / "out"
    task = video_task(1, "/data/upload/1/v.mp4", segment(ranges, *labels))
    try:
        convert([task], "timeline-csv", out, config=CONFIG)
    except MlDataError as exc:
        assert exc.task_id == 1 and not out.exists()
        return
    expected = sorted(
        {
            (frame, label)
            for item in ranges
            for frame in range(int(item["start"]), int(item["end"]) + 1)
            for label in labels
        }
    )
    assert [(int(frame), label) for frame, label in rows(out / "labels" / "v.csv")[1:]] == expected


def test_shards_never_join_two_videos_rows(tmp_path: Path) -> None:
    """A distributed run: two shards' clip.csv are two videos of one name, not one table."""
    for shard, frames in (("a", [{"start": 1, "end": 2}]), ("b", [{"start": 5, "end": 5}])):
        task = video_task(1, f"/data/upload/{shard}/clip.mp4", segment(frames, "run"))
        convert([task], "timeline-csv", tmp_path / shard, config=CONFIG)
    target = tmp_path / "a" / "labels" / "clip.csv"
    with pytest.raises(OutputError, match="labels/clip.csv"):
        get_format("timeline-csv").merge("labels/clip.csv", target, [tmp_path / "b" / "labels" / "clip.csv"])
    assert rows(target)[1:] == [["1", "run"], ["2", "run"]]
