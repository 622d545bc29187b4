"""What a conversion leaves out, and says so: tasks whose id an earlier task has, regions whose
geometry is degenerate, images with nothing the format can hold, runs that produce nothing."""

from __future__ import annotations

import itertools
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml_data.converters import KNOWN_FORMATS, ConvertOptions, MediaHooks, convert
from ml_data.converters.brush_rle import rle_from_mask
from ml_data.converters.images import UniqueNames
from ml_data.errors import ConversionError, FormatNotSupported, NothingToWrite
from ml_data.fsutil import MARKER, MAX_FILENAME_BYTES, safe_filename

IMAGE = (
    "<View><Image name='image' value='$image'/>"
    "<RectangleLabels name='box' toName='image'><Label value='cat'/><Label value='dog'/></RectangleLabels>"
    "<PolygonLabels name='poly' toName='image'><Label value='cat'/><Label value='dog'/></PolygonLabels>"
    "<KeyPointLabels name='kp' toName='image'><Label value='nose' model_index='0'/></KeyPointLabels>"
    "<BrushLabels name='brush' toName='image'><Label value='cat'/></BrushLabels>"
    "<Choices name='kind' toName='image'><Choice value='indoor'/></Choices></View>"
)
TEXT = "<View><Text name='text' value='$text'/><Labels name='ner' toName='text'><Label value='PER'/></Labels></View>"
AUDIO = "<View><Audio name='audio' value='$audio'/><TextArea name='said' toName='audio'/></View>"
VIDEO = (
    "<View><Video name='video' value='$video'/>"
    "<TimelineLabels name='timeline' toName='video'><Label value='run'/></TimelineLabels></View>"
)
SIZE = {"original_width": 200, "original_height": 100}


def box(x: float = 10, y: float = 10, width: float = 20, height: float = 20, label: str = "cat", **extra: Any) -> dict:
    value = {"x": x, "y": y, "width": width, "height": height, "rotation": 0, "rectanglelabels": [label]}
    return {
        "id": "b",
        "from_name": "box",
        "to_name": "image",
        "type": "rectanglelabels",
        **SIZE,
        "value": value,
        **extra,
    }


def polygon(points: list[list[float]], label: str = "cat") -> dict:
    value = {"points": points, "polygonlabels": [label]}
    return {"id": "p", "from_name": "poly", "to_name": "image", "type": "polygonlabels", **SIZE, "value": value}


def keypoint(parent: str | None = "b", x: float = 15) -> dict:
    value = {"x": x, "y": 15, "keypointlabels": ["nose"]}
    region = {"id": "k", "from_name": "kp", "to_name": "image", "type": "keypointlabels", **SIZE, "value": value}
    return {**region, "parentID": parent} if parent else region


def brush() -> dict:
    mask = np.zeros((100, 200), dtype=np.uint8)
    mask[10:20, 10:20] = 255
    value = {"format": "rle", "rle": rle_from_mask(mask), "brushlabels": ["cat"]}
    return {"id": "m", "from_name": "brush", "to_name": "image", "type": "brushlabels", **SIZE, "value": value}


def ellipse() -> dict:
    value = {"x": 50, "y": 50, "radiusX": 10, "radiusY": 5, "ellipselabels": ["cat"]}
    return {"id": "e", "from_name": "ellipse", "to_name": "image", "type": "ellipselabels", **SIZE, "value": value}


def image_task(task_id: Any, regions: list[dict], url: str = "/data/upload/1/a.jpg") -> dict:
    return {"id": task_id, "data": {"image": url}, "annotations": [{"id": 1, "result": regions}]}


def example(fmt: str, task_id: Any, url: str) -> tuple[dict, str]:
    """A task every format writes an item for, and its config."""
    if fmt == "conll2003":
        result = {
            "from_name": "ner",
            "to_name": "text",
            "type": "labels",
            "value": {"start": 0, "end": 4, "labels": ["PER"]},
        }
        return {"id": task_id, "data": {"text": f"Anna {url}"}, "annotations": [{"id": 1, "result": [result]}]}, TEXT
    if fmt in ("asr-manifest", "hf-audiofolder"):
        said = {"from_name": "said", "to_name": "audio", "type": "textarea", "value": {"text": ["hello"]}}
        return {"id": task_id, "data": {"audio": url}, "annotations": [{"id": 1, "result": [said]}]}, AUDIO
    if fmt == "timeline-csv":
        value = {"ranges": [{"start": 2, "end": 4}], "timelinelabels": ["run"]}
        segment = {"from_name": "timeline", "to_name": "video", "type": "timelinelabels", "value": value}
        return {"id": task_id, "data": {"video": url}, "annotations": [{"id": 1, "result": [segment]}]}, VIDEO
    regions = {"yolo-seg": [polygon([[10, 10], [40, 10], [40, 40]])], "yolo-pose": [box(), keypoint()]}.get(
        fmt, [box()]
    )
    if fmt.startswith("brush"):
        regions = [brush()]
    return image_task(task_id, regions, url), IMAGE


def _items(out: Path) -> list[str]:
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and p.name != MARKER)


@pytest.mark.parametrize("fmt", list(KNOWN_FORMATS))
def test_a_duplicate_task_id_fails_or_is_skipped_in_every_format(tmp_path, fmt):
    """Regression: two tasks with the same id and image name wrote one YOLO/VOC label file over
    the other ("2 items written"), and COCO listed images/a.jpg twice."""
    first, config = example(fmt, 7, "/data/upload/1/a.jpg")
    second, _ = example(fmt, 7, "/data/upload/2/a.jpg")
    with pytest.raises(ConversionError, match="duplicate task id") as info:
        convert([first, second], fmt, tmp_path / "fail", config=config)
    assert info.value.task_id == 7 and not (tmp_path / "fail").exists()
    skip = ConvertOptions(on_error="skip")
    report = convert([first, second], fmt, tmp_path / "skip", config=config, options=skip)
    alone = convert([first], fmt, tmp_path / "alone", config=config, options=skip)
    assert report.skipped == {"duplicate task id": 1} and report.examples == [(7, "duplicate task id")]
    assert report.tasks == 2 and report.items_written == alone.items_written >= 1
    assert _items(tmp_path / "skip") == _items(tmp_path / "alone")
    for name in _items(tmp_path / "skip"):
        assert (tmp_path / "skip" / name).read_bytes() == (tmp_path / "alone" / name).read_bytes()


def test_ids_are_compared_as_the_pipeline_keys_them(tmp_path):
    tasks = [image_task(1, [box()]), image_task("1", [box()], "/data/upload/2/a.jpg"), image_task(None, [box()])]
    report = convert(
        tasks + [image_task(None, [box()])],
        "coco",
        tmp_path / "out",
        config=IMAGE,
        options=ConvertOptions(on_error="skip"),
    )
    assert report.skipped == {"duplicate task id": 1} and report.items_written == 3
    coco = json.loads((tmp_path / "out" / "result.json").read_text())
    assert len({image["file_name"] for image in coco["images"]}) == len(coco["images"]) == 3


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "a__task2", "a__task2__3", "a__2", "x" * 130, "x" * 119 + "é", "..", "a.b"]),
            st.one_of(st.none(), st.integers(1, 3), st.sampled_from(["2", "../2", "2" * 60])),
        ),
        max_size=12,
    )
)
def test_unique_names_never_give_two_tasks_one_file(items):
    """Stems are per-task unique whatever the names and ids: an id-less task, an image already
    named ``a__task2``, a name cut to fit once gave two tasks the same label file."""
    names = UniqueNames()
    stems = [names.stem(f"/data/upload/1/{name}.jpg", task_id) for name, task_id in items]
    for i, j in itertools.combinations(range(len(items)), 2):
        if items[i][1] is None or str(items[i][1]) != str(items[j][1]):
            assert stems[i] != stems[j], (items, stems)
    for stem in stems:
        assert stem == safe_filename(stem) and len(stem.encode()) <= MAX_FILENAME_BYTES


DEGENERATE = {
    "outside the image": box(x=150, y=150),
    "left of the image": box(x=-40, width=30),
    "zero width": box(width=0),
    "negative width": box(width=-5),
    "negative height": box(height=-5),
}


@pytest.mark.parametrize("fmt", ["yolo", "yolo-obb", "yolo-pose", "voc", "coco", "hf-imagefolder"])
@pytest.mark.parametrize("case", list(DEGENERATE))
def test_degenerate_boxes_fail_or_are_reported_never_written_as_zero_boxes(tmp_path, fmt, case):
    """Regression: a box outside the image or of negative size became ``0 0 0 0 0`` in YOLO and
    ``bbox [100, 100, 0, 0]`` in COCO, written without a word."""
    tasks = [image_task(1, [box()]), image_task(2, [{**DEGENERATE[case], "id": "bad"}], "/data/upload/1/b.jpg")]
    with pytest.raises(ConversionError, match="outside the image|negative") as info:
        convert(tasks, fmt, tmp_path / "fail", config=IMAGE)
    assert info.value.task_id == 2 and "bad" in str(info.value)
    report = convert(tasks, fmt, tmp_path / "skip", config=IMAGE, options=ConvertOptions(on_error="skip"))
    assert report.items_written == 1 and [task_id for task_id, _ in report.examples] == [2]
    assert all(reason.startswith("result bad has no valid geometry") for reason in report.skipped)
    if fmt == "coco":
        (annotation,) = json.loads((tmp_path / "skip" / "result.json").read_text())["annotations"]
        assert annotation["bbox"] == [20, 10, 40, 20]
    elif fmt == "voc":
        assert _items(tmp_path / "skip") == ["Annotations/a.xml"]
    elif fmt == "hf-imagefolder":
        (row,) = _hf_rows(tmp_path / "skip")
        assert row["objects"]["bbox"] == [[20.0, 10.0, 40.0, 20.0]]
    else:
        assert _items(tmp_path / "skip") == ["classes.txt", "data.yaml", "labels/a.txt"]


def test_a_polygon_outside_the_image_is_not_written_as_a_line_on_its_border(tmp_path):
    outside = polygon([[110, 10], [150, 10], [150, 40]])
    with pytest.raises(ConversionError, match="outside the image"):
        convert([image_task(1, [outside])], "yolo-seg", tmp_path / "seg", config=IMAGE)
    with pytest.raises(ConversionError, match="outside the image"):
        convert([image_task(1, [outside])], "coco", tmp_path / "coco", config=IMAGE)


coordinate = st.floats(-150, 250, allow_nan=False)


@given(x=coordinate, y=coordinate, width=st.floats(-50, 250, allow_nan=False), height=st.floats(-50, 250))
@settings(max_examples=80, deadline=None)
def test_every_box_written_covers_part_of_the_image(tmp_path_factory, x, y, width, height):
    """Whatever the numbers, a YOLO box is inside [0, 1] with a size above zero as written, or
    its task is reported: a box whose clipped part of the image is empty is never written, one
    that covers a visible part always is."""
    out = tmp_path_factory.mktemp("yolo") / "out"
    tasks = [image_task(1, [box(x, y, width, height)]), image_task(2, [box()], "/data/upload/1/sound.jpg")]
    report = convert(tasks, "yolo", out, config=IMAGE, options=ConvertOptions(on_error="skip"))
    written = report.items_written - 1  # besides the sound task's
    assert written + sum(report.skipped.values()) == 1
    seen_x = min(x + width, 100) - max(x, 0) if width >= 0 else -1
    seen_y = min(y + height, 100) - max(y, 0) if height >= 0 else -1
    if seen_x <= 0 or seen_y <= 0:
        assert written == 0
    elif seen_x > 1e-3 and seen_y > 1e-3:
        assert written == 1
    if written:
        _, cx, cy, w, h = map(float, (out / "labels" / "a.txt").read_text().split())
        assert w > 0 and h > 0 and cx - w / 2 >= -1e-6 and cx + w / 2 <= 1 + 1e-6
        assert cy - h / 2 >= -1e-6 and cy + h / 2 <= 1 + 1e-6


SQUARE = [[10, 10], [40, 10], [40, 40], [10, 40]]
NOTHING_CASES = {
    # format: (objects it cannot hold, what it can)
    "yolo": ([polygon(SQUARE)], [box()]),
    "yolo-obb": ([polygon(SQUARE), keypoint(parent=None)], [box()]),
    "yolo-seg": ([box()], [polygon(SQUARE)]),
    "yolo-pose": ([polygon(SQUARE), keypoint(parent=None)], [box(), keypoint()]),
    "voc": ([polygon(SQUARE), brush()], [box()]),
    "coco": ([ellipse()], [box(), brush()]),
    "hf-imagefolder": ([polygon(SQUARE), brush()], [box()]),
}


def _hf_rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "train" / "metadata.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("fmt", list(NOTHING_CASES))
def test_an_image_with_nothing_the_format_holds_is_left_out_but_a_truly_empty_one_stays(tmp_path, fmt):
    """Regression: an image whose every object was a polygon in plain YOLO (boxes in yolo-seg) got
    an empty label file, which Ultralytics trains on as a background image."""
    cannot, can = NOTHING_CASES[fmt]
    classified = {"from_name": "kind", "to_name": "image", "type": "choices", "value": {"choices": ["indoor"]}}
    tasks = [
        image_task(1, cannot, "/data/upload/1/unexpressed.jpg"),
        image_task(2, [], "/data/upload/1/background.jpg"),
        image_task(3, [classified], "/data/upload/1/indoor.jpg"),
        image_task(4, can + cannot, "/data/upload/1/mixed.jpg"),
    ]
    # A task whose only result records no size is skipped for that: give the empty ones a size.
    sizes = MediaHooks(image_size=lambda url, task_id: (200, 100))
    report = convert(tasks, fmt, tmp_path / "out", config=IMAGE, media=sizes)
    assert report.items_written == 3 and report.skipped["nothing in this format"] == 1
    assert (1, "nothing in this format") in report.examples
    written = " ".join(_items(tmp_path / "out"))
    if fmt == "coco":
        written = " ".join(
            image["file_name"] for image in json.loads((tmp_path / "out" / "result.json").read_text())["images"]
        )
    elif fmt == "hf-imagefolder":
        written = " ".join(row["file_name"] for row in _hf_rows(tmp_path / "out"))
    assert "unexpressed" not in written and all(name in written for name in ("background", "indoor", "mixed"))
    # Every object left out is reported, by kind, once per object.
    left_out = sum(count for reason, count in report.skipped.items() if "left out of" in reason)
    assert left_out == 2 * len(cannot)
    if fmt.startswith("yolo"):
        assert (tmp_path / "out" / "labels" / "background.txt").read_text() == ""


def _config_with_labels(names: list[str]) -> str:
    """A box config whose labels are ``names``, each character kept through the XML parser
    (line breaks and tabs in attributes are written as character references)."""

    def attribute(text: str) -> str:
        escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
        return escaped.replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")

    labels = "".join(f'<Label value="{attribute(name)}"/>' for name in names)
    return f"<View><Image name='image' value='$image'/><RectangleLabels name='box' toName='image'>{labels}</RectangleLabels></View>"


@pytest.mark.parametrize("bad", ["cat\ndog", "cat\r", "a\tb", "x\x85y", "line\u2028separator"])
@pytest.mark.parametrize("fmt", ["yolo", "yolo-obb", "voc", "hf-imagefolder"])
def test_a_class_name_with_a_line_break_is_refused_naming_the_label(tmp_path, fmt, bad):
    """Regression: a label value with a newline split classes.txt, so class 1 read as another name."""
    config = _config_with_labels(["bird", bad])
    with pytest.raises(FormatNotSupported, match="line break or control character") as info:
        convert([image_task(1, [box(label=bad)])], fmt, tmp_path / "out", config=config)
    assert repr(bad)[1:-1] in str(info.value)
    assert not (tmp_path / "out").exists()


def test_coco_keeps_any_class_name_and_voc_refuses_one_from_a_result(tmp_path):
    config = _config_with_labels(["cat\ndog"])
    convert([image_task(1, [box(label="cat\ndog")])], "coco", tmp_path / "coco", config=config)
    categories = json.loads((tmp_path / "coco" / "result.json").read_text())["categories"]
    assert [category["name"] for category in categories] == ["cat\ndog"]  # JSON escapes it
    with pytest.raises(ConversionError, match="VOC <name>"):
        convert([image_task(1, [box(label="cat\rdog")])], "voc", tmp_path / "voc", config=IMAGE)


def test_a_label_voc_s_labelmap_cannot_hold_is_reported(tmp_path):
    config = _config_with_labels(["cat", "a:b"])
    report = convert(
        [image_task(1, [box()])], "voc", tmp_path / "out", config=config, options=ConvertOptions(layout="standard")
    )
    assert any("'a:b' left out of labelmap.txt" in warning for warning in report.warnings)


@given(
    st.lists(
        st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=8),
        min_size=1,
        max_size=4,
        unique=True,
    )
)
@settings(max_examples=60, deadline=None)
def test_classes_txt_reads_back_as_the_config_s_names_or_is_refused(tmp_path_factory, names):
    names = [name for name in names if not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", name)]
    if not names or any(not name.strip() for name in names):
        return  # XML cannot hold those characters; Label Studio drops blank label values
    out = tmp_path_factory.mktemp("yolo") / "out"
    try:
        convert([image_task(1, [box(label=names[0])])], "yolo", out, config=_config_with_labels(names))
    except FormatNotSupported as exc:
        assert "line break or control character" in str(exc)
        return
    assert (out / "classes.txt").read_bytes().decode("utf-8").splitlines() == sorted(names)


def test_a_run_that_writes_nothing_fails_and_keeps_the_previous_output(tmp_path):
    """Regression: an empty export, or one whose every task was left out, exited 0 with an empty
    dataset (replacing the previous one)."""
    out = tmp_path / "out"
    convert([image_task(1, [box()])], "yolo", out, config=IMAGE)
    before = _items(out)
    with pytest.raises(NothingToWrite, match="the export holds no tasks") as info:
        convert([], "yolo", out, config=IMAGE)
    assert isinstance(info.value, ValueError)
    broken = [image_task(2, [box(x=math.nan)]), image_task(3, [box(width=-1)], "/data/upload/1/b.jpg")]
    with pytest.raises(NothingToWrite, match=r"no item was written from 2 tasks: result b has no valid geometry"):
        convert(broken, "coco", out, config=IMAGE, options=ConvertOptions(on_error="skip"))
    assert _items(out) == before and sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.parametrize("fmt", ["yolo", "coco", "voc", "conll2003", "csv", "json"])
def test_an_unlabelled_project_is_a_true_empty_dataset(tmp_path, fmt):
    """The rule: a run that writes no item fails, unless every task simply has nothing to export
    yet (no annotation, all cancelled, no ground truth), which the tabular formats still list."""
    data = {"image": "/data/upload/1/a.jpg", "text": "Anna"}
    tasks = [
        {"id": 1, "data": data, "annotations": []},
        {"id": 2, "data": data, "annotations": [{"id": 5, "was_cancelled": True, "result": []}]},
    ]
    config = TEXT if fmt == "conll2003" else IMAGE
    report = convert(tasks, fmt, tmp_path / "out", config=config)
    assert report.nothing_written is None and report.tasks == 2
    assert report.items_written == (2 if fmt == "json" else 1 if fmt == "csv" else 0)
    annotated = {"id": 3, "data": data, "annotations": [{"id": 6, "result": []}]}
    only_truth = ConvertOptions(annotations="ground-truth")
    report = convert([annotated], fmt, tmp_path / "truth", config=config, options=only_truth)
    assert report.nothing_written is None and report.items_written == (1 if fmt == "json" else 0)


def test_cli_convert_exits_1_with_the_reason_when_nothing_is_written(tmp_path):
    from click.testing import CliRunner

    from ml_data.cli import main

    export = tmp_path / "export.json"
    export.write_text("[]")
    result = CliRunner().invoke(main, ["convert", str(export), "--format", "json", "--out", str(tmp_path / "out")])
    assert result.exit_code == 1 and "NothingToWrite: the export holds no tasks" in result.output
    assert not (tmp_path / "out").exists()
