"""The Hugging Face folder formats on their own (``convert``, the shards' merge), checked by the
datasets library where it has a say: its split names, how it types a metadata file, its loader.
Fetching them (images and audio placed, splits, Label Studio): tests/pipeline/test_hf_folders.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ml_data.cli import main
from ml_data.converters import ConvertOptions, MediaHooks, convert, get_format
from ml_data.converters.hf_layout import SPLIT_NAMES, check_split_names
from ml_data.errors import ConfigurationError, ConversionError
from tests.support.hf_datasets import datasets, load_folder

BOXES = (
    "<View><Image name='image' value='$image'/><RectangleLabels name='box' toName='image'>"
    "<Label value='cat'/><Label value='dog'/></RectangleLabels></View>"
)
MULTIPLE = (
    "<View><Image name='image' value='$image'/><Choices name='tags' toName='image' choice='multiple'>"
    "<Choice value='sunny'/><Choice value='people'/><Choice value='night'/></Choices></View>"
)
SINGLE = MULTIPLE.replace(" choice='multiple'", "")
AUDIO = "<View><Audio name='audio' value='$audio'/><TextArea name='said' toName='audio'/></View>"
SIZE = MediaHooks(image_size=lambda url, task_id: (10, 10))


def boxed(task_id: int, boxes: int) -> dict:
    result = [
        {
            "id": f"b{task_id}_{n}",
            "from_name": "box",
            "to_name": "image",
            "type": "rectanglelabels",
            "original_width": 10,
            "original_height": 10,
            "value": {"x": 10, "y": 20, "width": 30, "height": 40, "rotation": 0, "rectanglelabels": ["dog"]},
        }
        for n in range(boxes)
    ]
    return {"id": task_id, "data": {"image": f"/data/upload/1/{task_id}.png"}, "annotations": [{"result": result}]}


def chose(task_id: int, *choices: str, config_name: str = "tags") -> dict:
    result = [{"from_name": config_name, "to_name": "image", "type": "choices", "value": {"choices": list(choices)}}]
    return {"id": task_id, "data": {"image": f"/data/upload/1/{task_id}.png"}, "annotations": [{"result": result}]}


def metadata(out: Path, split: str = "train") -> list[dict]:
    return [json.loads(line) for line in (out / split / "metadata.jsonl").read_text().splitlines()]


def test_the_split_names_are_those_datasets_reads_as_splits():
    from datasets.data_files import SPLIT_KEYWORDS

    assert {str(split): list(names) for split, names in SPLIT_NAMES.items()} == {
        str(split): names for split, names in SPLIT_KEYWORDS.items()
    }
    assert check_split_names("hf-imagefolder", ["training", "dev", "evaluation"]) is None
    assert "'train-a'" in (check_split_names("hf-imagefolder", ["train-a"]) or "")


def test_convert_refuses_split_names_datasets_cannot_read():
    with pytest.raises(ConfigurationError, match="split 'hold' would be left out"):
        convert(
            [boxed(1, 1)], "hf-imagefolder", "unused", config=BOXES, options=ConvertOptions(subsets=("train", "hold"))
        )


@pytest.mark.slow
def test_a_large_split_starting_with_images_without_objects_still_loads(tmp_path):
    """datasets types a metadata file's columns from its first 10 MB: 120,000 background images
    before the first box typed ``bbox`` as lists of nothing, and loading failed. Rows with objects
    are written first."""
    every = [
        {"id": n, "data": {"image": f"/data/upload/1/{n}.png"}, "annotations": [{"result": []}]}
        for n in range(1, 120_001)
    ]
    every.append(boxed(120_001, 2))
    convert(every, "hf-imagefolder", tmp_path / "out", config=BOXES, media=SIZE)
    loaded = load_folder("imagefolder", tmp_path / "out", tmp_path / "hf-cache")
    assert loaded["train"].num_rows == 120_001
    assert loaded["train"].features["objects"]["bbox"] == datasets.List(datasets.List(datasets.Value("float64")))
    assert metadata(tmp_path / "out")[0]["objects"]["bbox"] == [[1.0, 2.0, 3.0, 4.0]] * 2


def test_shards_merge_into_one_metadata_file_that_starts_with_objects(tmp_path):
    """The distributed writer's merge: a shard of background images first would give the merged
    file a first row without objects; the shard with objects goes first."""
    shards = {
        "one": [
            {"id": n, "data": {"image": f"/data/upload/1/{n}.png"}, "annotations": [{"result": []}]} for n in (1, 2)
        ],
        "two": [boxed(3, 1), boxed(4, 0)],
        "three": [boxed(5, 2)],
    }
    for name, part in shards.items():
        convert(part, "hf-imagefolder", tmp_path / name, config=BOXES, media=SIZE)
    target = tmp_path / "one" / "train" / "metadata.jsonl"
    parts = [tmp_path / name / "train" / "metadata.jsonl" for name in ("two", "three")]
    get_format("hf-imagefolder").merge("train/metadata.jsonl", target, parts)
    merged = metadata(tmp_path / "one")
    assert [row["file_name"] for row in merged] == [f"images/{n}.png" for n in (3, 4, 1, 2, 5)]
    assert merged[0]["objects"]["bbox"] and sum(len(row["objects"]["bbox"]) for row in merged) == 3
    assert load_folder("imagefolder", tmp_path / "one", tmp_path / "hf-cache")["train"].num_rows == 5


def test_a_multiple_choice_control_writes_a_labels_column_and_a_single_one_a_label(tmp_path):
    report = convert(
        [chose(1, "night", "sunny"), chose(2, "people")], "hf-imagefolder", tmp_path / "many", config=MULTIPLE
    )
    assert report.items_written == 2
    assert (tmp_path / "many" / "classes.txt").read_text().splitlines() == ["night", "people", "sunny"]
    assert [row["labels"] for row in metadata(tmp_path / "many")] == [[0, 2], [1]]
    order = ConvertOptions(category_order="config")
    convert([chose(1, "night")], "hf-imagefolder", tmp_path / "one", config=SINGLE, options=order)
    assert (tmp_path / "one" / "classes.txt").read_text().splitlines() == ["sunny", "people", "night"]
    assert metadata(tmp_path / "one") == [{"file_name": "images/1.png", "label": 2}]
    for task, reason in (
        (chose(3, "night", "sunny"), "2 choices in single-choice control 'tags'"),
        (chose(4, "rain"), "choice 'rain' is not a class"),
    ):
        with pytest.raises(ConversionError, match=reason) as info:
            convert([task], "hf-imagefolder", tmp_path / f"bad{task['id']}", config=SINGLE)
        assert info.value.task_id == task["id"] and not (tmp_path / f"bad{task['id']}").exists()


def test_an_audio_task_without_text_is_reported_and_a_broken_text_names_its_task(tmp_path):
    def said(task_id: int, value: dict) -> dict:
        result = [{"id": f"r{task_id}", "from_name": "said", "to_name": "audio", "type": "textarea", "value": value}]
        return {"id": task_id, "data": {"audio": f"/data/upload/1/{task_id}.mp3"}, "annotations": [{"result": result}]}

    report = convert(
        [said(1, {"text": ["hello"]}), said(2, {"text": []})], "hf-audiofolder", tmp_path / "out", config=AUDIO
    )
    assert report.items_written == 1 and dict(report.skipped) == {"no transcription": 1}
    assert metadata(tmp_path / "out") == [{"file_name": "audio/1.mp3", "transcription": "hello"}]
    assert any("file_name is where fetch places it" in warning for warning in report.warnings)
    with pytest.raises(ConversionError, match="result r3 has a text that is not a list of strings") as info:
        convert([said(3, {"text": [{"x": 1}]})], "hf-audiofolder", tmp_path / "bad", config=AUDIO)
    assert info.value.task_id == 3


def test_convert_from_the_command_line(tmp_path):
    export = tmp_path / "export.json"
    export.write_text(json.dumps([boxed(1, 1), boxed(2, 1)]))
    (tmp_path / "config.xml").write_text(BOXES)
    result = CliRunner().invoke(
        main,
        [
            "convert",
            str(export),
            "--format",
            "hf-imagefolder",
            "--out",
            str(tmp_path / "out"),
            "--config",
            str(tmp_path / "config.xml"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert [row["objects"]["categories"] for row in metadata(tmp_path / "out")] == [[1], [1]]
