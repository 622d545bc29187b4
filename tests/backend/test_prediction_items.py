"""Images that are one item of a task with several (pure): matched to (task, item) by the manifest
or by ml-data's names, and their results named as Label Studio names them."""

from __future__ import annotations

import pytest

from ml_data.backend.predictions.matching import TaskIndex
from ml_data.backend.predictions.model import Detection, ImageItem, ItemProblem, Rect
from ml_data.backend.predictions.results import Targets, prediction_results
from ml_data.tasks.label_config import parse_label_config
from tests.support.multi_item import REPEATER_CONFIG, VALUE_LIST_CONFIG

NESTED = """<View>
  <Repeater on="$docs" indexFlag="{{d}}">
    <Repeater on="$docs[{{d}}].pages" indexFlag="{{p}}">
      <Image name="img_{{d}}_{{p}}" value="$docs[{{d}}].pages[{{p}}]"/>
      <RectangleLabels name="box_{{d}}_{{p}}" toName="img_{{d}}_{{p}}"><Label value="word"/></RectangleLabels>
    </Repeater>
  </Repeater>
</View>"""


def _image(name: str, label: str) -> ImageItem:
    return ImageItem(f"labels/{name}", name, (), (Detection(label, Rect(0.1, 0.1, 0.2, 0.2)),))


def _names(config: str, label: str, item: tuple[int, ...]) -> tuple:
    (result,) = prediction_results(
        _image("x.txt", label), None, Targets.from_config(parse_label_config(config)), 1, item
    )
    return result["from_name"], result["to_name"], result.get("item_index")


def test_results_are_named_for_the_page_or_carry_the_item_index():
    assert _names(REPEATER_CONFIG, "word", (2,)) == ("labels_2", "page_2", None)
    assert _names(VALUE_LIST_CONFIG, "cat", (1,)) == ("box", "img", 1)
    assert _names(NESTED, "word", (0, 3)) == ("box_0_3", "img_0_3", None)


@pytest.mark.parametrize(
    ("config", "label", "item", "message"),
    [
        (REPEATER_CONFIG, "word", (), "several images of a task, and which one this is is not known"),
        (REPEATER_CONFIG, "word", (1, 2), "does not fit 'page_{{idx}}'"),
        (VALUE_LIST_CONFIG, "cat", (0, 1), "item 0-1 of its task, which does not fit 'img'"),
        (
            '<View><Image name="i" value="$i"/><RectangleLabels name="r" toName="i"><Label value="a"/>'
            "</RectangleLabels></View>",
            "a",
            (1,),
            "item 1 of its task, but 'i' shows one image",
        ),
    ],
)
def test_an_item_that_does_not_fit_the_image_tag_is_that_images_problem(config, label, item, message):
    with pytest.raises(ItemProblem, match=message):
        _names(config, label, item)


def test_the_manifest_gives_each_file_its_item():
    manifest = {
        "files": {
            "images/scan.png": {"task": 4, "item": 0},
            "images/page.png": {"task": 4, "item": 2},
            "images/page__task5__p1.png": {"task": 5, "item": 1},
            "images/deep.png": {"task": 6, "item": [0, 3]},
            "images/odd.png": {"task": 6, "item": "2"},  # not an item: left out
            "images/single.png": {"task": 7},
        }
    }
    index = TaskIndex.from_manifest(manifest)
    found = {name: index.match(_image(f"{name}.txt", "x")) for name in ("scan", "page", "page__task5__p1", "deep")}
    assert {name: (c.task, c.item) for name, c in found.items()} == {
        "scan": (4, (0,)),
        "page": (4, (2,)),
        "page__task5__p1": (5, (1,)),
        "deep": (6, (0, 3)),
    }
    assert index.match(_image("single.txt", "x")).item == ()
    with pytest.raises(ItemProblem, match="no task has an image named 'odd'"):
        index.match(_image("odd.txt", "x"))


def test_names_over_every_item_of_every_task():
    """Without a manifest: ml-data's ``<name>__task<id>__p<item>`` names one item; a name two
    items of one task share is ambiguous."""
    index = TaskIndex.from_tasks(
        [
            (1, "/data/local-files/?d=a/page.png", (0,)),
            (1, "/data/local-files/?d=b/page.png", (1,)),
            (1, "s3://bucket/cover.png", (2,)),
            (2, "/data/local-files/?d=c/page.png", (0,)),
        ]
    )
    assert (index.match(_image("cover.txt", "x")).task, index.match(_image("cover.txt", "x")).item) == (1, (2,))
    matched = index.match(_image("page__task1__p1.txt", "x"))
    assert (matched.task, matched.item) == (1, (1,))
    assert index.match(_image("page__task2.txt", "x")).item == (0,)
    with pytest.raises(ItemProblem, match="ambiguous: images 0, 1 of task 1 are all named 'page__task1'"):
        index.match(_image("page__task1.txt", "x"))
    with pytest.raises(ItemProblem, match="ambiguous: tasks 1, 2"):
        index.match(_image("page.txt", "x"))
    with pytest.raises(ItemProblem, match="no task has an image named 'page__task1__p7'"):
        index.match(_image("page__task1__p7.txt", "x"))
