"""What a conversion asks its caller about media goes through one named argument (MediaHooks), and
the options hold only the user's choices: a plain conversion resolves, measures and places nothing."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from ml_data.converters import ConvertOptions, MediaHooks, convert
from ml_data.errors import ConversionError

CONFIG = (
    "<View><Image name='img' value='$image'/><RectangleLabels name='box' toName='img'>"
    "<Label value='cat'/></RectangleLabels></View>"
)


def _task(task_id: int, sized: bool = True) -> dict:
    region = {
        "id": f"r{task_id}",
        "from_name": "box",
        "to_name": "img",
        "type": "rectanglelabels",
        "value": {"x": 10, "y": 20, "width": 30, "height": 40, "rectanglelabels": ["cat"]},
    }
    if sized:
        region.update(original_width=200, original_height=100)
    return {"id": task_id, "data": {"image": f"/data/upload/1/img{task_id}.jpg"}, "annotations": [{"result": [region]}]}


def test_the_options_are_the_users_choices_only():
    """No callable and no pipeline state in the options: they compare, hash and pickle as values."""
    names = {field.name for field in dataclasses.fields(ConvertOptions)}
    assert names == {
        "annotations",
        "predictions",
        "model_version",
        "on_error",
        "split_sentences",
        "category_order",
        "category_start",
        "layout",
        "subsets",
        "clips",
    }
    options = ConvertOptions(layout="standard", subsets=("train", "val"))
    assert pickle.loads(pickle.dumps(options)) == options and hash(options) == hash(ConvertOptions(**vars(options)))
    with pytest.raises(TypeError):
        ConvertOptions(media=lambda url, task_id: None)  # type: ignore[call-arg]


def test_a_plain_conversion_measures_nothing_and_places_nothing(tmp_path):
    with pytest.raises(ConversionError, match="image size unknown"):
        convert([_task(1, sized=False)], "coco", tmp_path / "plain", config=CONFIG)
    report = convert([_task(1)], "coco", tmp_path / "sized", config=CONFIG)
    assert report.items_written == 1 and report.placements == []


def test_the_hooks_answer_sizes_subsets_and_collect_placements(tmp_path):
    asked: list[tuple[str, object]] = []

    def size(url: str, task_id: object) -> tuple[int, int]:
        asked.append((url, task_id))
        return (200, 100)

    hooks = MediaHooks(image_size=size, subset_of=lambda task_id: "train" if task_id == 1 else "val", places_media=True)
    options = ConvertOptions(layout="standard", subsets=("train", "val"))
    report = convert(
        [_task(1, sized=False), _task(2)], "yolo", tmp_path / "out", config=CONFIG, options=options, media=hooks
    )
    assert asked == [("/data/upload/1/img1.jpg", 1)]  # only the image whose results lack a size
    line = (tmp_path / "out" / "labels" / "train" / "img1.txt").read_text().split()
    assert [float(value) for value in line] == [0, 0.25, 0.4, 0.3, 0.4]
    assert (tmp_path / "out" / "labels" / "val" / "img2.txt").is_file()
    assert sorted(report.placements) == [
        ("/data/upload/1/img1.jpg", 1, "images/train/img1.jpg"),
        ("/data/upload/1/img2.jpg", 2, "images/val/img2.jpg"),
    ]


def test_subsets_named_without_a_hook_leave_tasks_unsplit(tmp_path):
    """The options name the subsets; which task is in which only the caller knows. Without its
    hook, no task is put in a subset (the standard layout's files are still written)."""
    options = ConvertOptions(layout="standard", subsets=("train",))
    convert([_task(1)], "yolo", tmp_path / "out", config=CONFIG, options=options)
    assert (tmp_path / "out" / "labels" / "img1.txt").is_file()
