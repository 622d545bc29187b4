"""Malformed and hostile task dicts against every format: a typed error that names the task, or a
complete output; never a traceback, never a NaN or a path outside the output folder."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ml_data.converters import KNOWN_FORMATS, ConvertOptions, MediaHooks, convert
from ml_data.errors import ConversionError, InvalidExport, InvalidLabelConfig, MlDataError
from ml_data.tasks.label_config import parse_label_config

CONFIG = parse_label_config(
    "<View>"
    "<Image name='image' value='$image'/>"
    "<RectangleLabels name='box' toName='image'><Label value='cat'/><Label value='dog'/></RectangleLabels>"
    "<PolygonLabels name='poly' toName='image'><Label value='cat'/></PolygonLabels>"
    "<KeyPointLabels name='kp' toName='image'><Label value='nose'/></KeyPointLabels>"
    "<BrushLabels name='brush' toName='image'><Label value='cat'/></BrushLabels>"
    "<Text name='text' value='$text'/>"
    "<Labels name='ner' toName='text'><Label value='PER'/></Labels>"
    "<Audio name='audio' value='$audio'/>"
    "<TextArea name='transcript' toName='audio'/>"
    "</View>"
)

NASTY_NUMBERS = [math.nan, math.inf, -math.inf, None, {}, [], "10", True, 2**70, -(2**70), 1e308, -5, 0, 50.5]
NASTY_STRINGS = ["/../../../../tmp/x", "a\x00b", "x" * 300, "\ud800", "", "..", "dir/x.jpg", "é.png"]
nasty_number = st.sampled_from(NASTY_NUMBERS)
nasty_string = st.sampled_from(NASTY_STRINGS)
deep = st.recursive(st.none() | st.integers(), lambda inner: st.lists(inner, max_size=2), max_leaves=5)
anything = st.one_of(nasty_number, nasty_string, deep)


@st.composite
def regions(draw: st.DrawFn) -> dict:
    kind = draw(st.sampled_from(["rectanglelabels", "polygonlabels", "keypointlabels", "brushlabels", "labels"]))
    from_name = {"rectanglelabels": "box", "polygonlabels": "poly", "keypointlabels": "kp"}.get(kind, "brush")
    if kind == "labels":
        from_name = "ner"
    value: dict = {
        "x": draw(nasty_number),
        "y": draw(nasty_number),
        "width": draw(nasty_number),
        "height": draw(nasty_number),
        "rotation": draw(nasty_number),
        "points": draw(st.one_of(st.lists(st.lists(nasty_number, min_size=2, max_size=2), max_size=4), anything)),
        "start": draw(nasty_number),
        "end": draw(nasty_number),
        kind: draw(st.one_of(st.just(["cat"]), st.just([{}]), st.lists(anything, max_size=2), anything)),
        "rle": draw(st.one_of(st.just([]), st.lists(st.integers(-5, 300), max_size=20), anything)),
        "format": "rle",
        "text": draw(st.one_of(st.just(["hello"]), st.lists(anything, max_size=2))),
    }
    return {
        "id": draw(st.one_of(st.just("r1"), anything)),
        "from_name": from_name,
        "to_name": "image",
        "type": kind,
        "original_width": draw(st.one_of(st.just(640), nasty_number)),
        "original_height": draw(st.one_of(st.just(480), nasty_number)),
        "value": value,
        "parentID": draw(st.one_of(st.none(), st.just("r1"))),
    }


@st.composite
def tasks(draw: st.DrawFn) -> dict:
    return {
        "id": draw(st.one_of(st.integers(1, 10), st.just(2**70), nasty_string, anything)),
        "data": {
            "image": draw(st.one_of(st.just("/data/upload/1/x.jpg"), nasty_string, anything)),
            "text": draw(st.one_of(st.just("Anna lives in Paris"), nasty_string, anything)),
            "audio": draw(st.one_of(st.just("/data/upload/1/a.wav"), nasty_string)),
            "nested": draw(deep),
        },
        "annotations": [
            {
                "id": draw(st.one_of(st.just(1), anything)),
                "completed_by": draw(st.one_of(st.just(1), anything)),
                "result": draw(st.lists(regions(), max_size=3)),
                "was_cancelled": False,
            }
        ],
    }


def _outputs_are_clean(out: Path) -> None:
    for path in out.rglob("*"):
        assert out.resolve() in path.resolve().parents or path.resolve() == out.resolve()
        if path.is_file() and path.suffix in (".txt", ".json", ".xml", ".csv", ".tsv", ".conll", ".yaml"):
            text = path.read_text("utf-8", errors="replace")
            assert not re.search(r"\b(nan|NaN|inf|Infinity)\b", text), (path.name, text[:300])


@pytest.mark.parametrize("name", list(KNOWN_FORMATS))
@pytest.mark.parametrize("policy", ["fail", "skip"])
def test_hostile_tasks_give_typed_errors_or_complete_outputs(tmp_path, name, policy):
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(batch=st.lists(tasks(), min_size=1, max_size=3))
    def check(batch: list[dict]) -> None:
        out = tmp_path / f"out-{os.urandom(4).hex()}"
        options = ConvertOptions(on_error=policy)
        try:
            convert(
                batch, name, out, config=CONFIG, options=options, media=MediaHooks(local_path=lambda url, task_id: None)
            )
        except MlDataError:
            assert not out.exists()  # nothing half-written
            return
        assert out.is_dir()
        _outputs_are_clean(out)
        assert not any(p.name.startswith(".") and p.is_dir() for p in tmp_path.iterdir())

    check()


def test_a_task_id_cannot_place_a_label_file_outside_the_output(tmp_path):
    """Regression: task id "/../../../../tmp/x" reached a label file path unsanitised."""
    task = {
        "id": "/../../../../tmp/x",
        "data": {"image": "/data/upload/1/../../x.jpg"},
        "annotations": [{"id": 1, "result": []}],
    }
    other = {**task, "id": 2}
    convert([other, task], "yolo", tmp_path / "out", config=CONFIG)
    files = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.txt"))
    assert all("/" not in name.removeprefix("labels/") for name in files if name.startswith("labels/"))
    assert len([name for name in files if name.startswith("labels/")]) == 2


def test_nan_coordinates_are_never_written(tmp_path):
    """Regression: NaN coordinates became `1 nan 0.2 nan 0.2` in YOLO and null in COCO, exit 0."""
    task = {
        "id": 1,
        "data": {"image": "/data/upload/1/x.jpg"},
        "annotations": [
            {
                "id": 1,
                "result": [
                    {
                        "id": "a",
                        "from_name": "box",
                        "to_name": "image",
                        "type": "rectanglelabels",
                        "original_width": 100,
                        "original_height": 100,
                        "value": {"x": math.nan, "y": 10, "width": 20, "height": 20, "rectanglelabels": ["cat"]},
                    }
                ],
            }
        ],
    }
    for name in ("yolo", "coco", "voc"):
        with pytest.raises(ConversionError, match="finite") as info:
            convert([task], name, tmp_path / name, config=CONFIG)
        assert info.value.task_id == 1 and not (tmp_path / name).exists()
        (region,) = task["annotations"][0]["result"]
        sound = {**region, "value": {**region["value"], "x": 10}}
        good = {"id": 2, "data": {"image": "/data/upload/1/y.jpg"}, "annotations": [{"id": 2, "result": [sound]}]}
        report = convert([task, good], name, tmp_path / name, config=CONFIG, options=ConvertOptions(on_error="skip"))
        assert sum(report.skipped.values()) == 1  # the task: its image is left out in every format
        _outputs_are_clean(tmp_path / name)


@pytest.mark.parametrize("category", ["99999999999999999999999", "3000000", "-1"])
def test_absurd_category_ids_are_refused(category):
    """Regression: category="99999999999999999999999" grew memory without bound (a classes.txt line per id)."""
    with pytest.raises(InvalidLabelConfig, match="class ids"):
        parse_label_config(
            f"<View><Image name='i' value='$i'/><RectangleLabels name='b' toName='i'>"
            f"<Label value='cat' category='{category}'/></RectangleLabels></View>"
        )


def test_a_task_nested_deeper_than_the_decoder_goes_is_skipped(tmp_path):
    deep_value = "[" * 5000 + "]" * 5000
    export = tmp_path / "export.json"
    export.write_text(
        '[{"id": 1, "data": {"text": "ok"}}, {"id": 2, "data": {"x": ' + deep_value + '}}, {"id": 3, "data": {}}]'
    )
    report = convert(export, "json", tmp_path / "out", options=ConvertOptions(on_error="skip"))
    assert report.items_written == 2 and sum(report.skipped.values()) == 1
    with pytest.raises(ConversionError, match="nested deeper"):
        convert(export, "json", tmp_path / "out2")


def test_an_export_that_is_not_utf8_is_a_typed_error_for_convert_and_fetch(tmp_path):
    from ml_data import Settings
    from ml_data.pipeline import fetch_export

    export = tmp_path / "export.json"
    export.write_bytes(b'[{"id": 1, "data": {"text": "\xff\xfe"}}]')
    with pytest.raises(InvalidExport, match="not UTF-8"):
        convert(export, "json", tmp_path / "out")
    with pytest.raises(InvalidExport, match="not UTF-8"):
        fetch_export(export, format="json", out=tmp_path / "dataset", settings=Settings(cache_dir=tmp_path / "c"))
    assert not (tmp_path / "out").exists() and not (tmp_path / "dataset").exists()


def test_a_brush_mask_of_absurd_size_is_refused_before_decoding(tmp_path):
    """A task's size fields are hostile: 100,000 x 100,000 pixels would ask for 10 GB of mask."""
    from ml_data.converters.brush_rle import rle_from_mask

    config = (
        "<View><Image name='image' value='$image'/>"
        "<BrushLabels name='tag' toName='image'><Label value='cell'/></BrushLabels></View>"
    )
    region = {
        "id": "m",
        "from_name": "tag",
        "to_name": "image",
        "type": "brushlabels",
        "original_width": 100_000,
        "original_height": 100_000,
        "value": {"format": "rle", "rle": rle_from_mask(np.zeros((2, 2), dtype=np.uint8)), "brushlabels": ["cell"]},
    }
    task = {"id": 7, "data": {"image": "/data/upload/1/x.png"}, "annotations": [{"id": 1, "result": [region]}]}
    with pytest.raises(ConversionError, match="100000x100000 pixels is larger") as info:
        convert([task], "brush-numpy", tmp_path / "out", config=config)
    assert info.value.task_id == 7 and not (tmp_path / "out").exists()
