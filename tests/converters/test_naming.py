"""File names several tasks share: the lowest task id keeps the name, the others get
``__task<id>``, decided from the (task id, name) pairs alone, so the order of the tasks (or how
a cluster cuts them into shards) changes no name. The fetch pipeline's side: tests/pipeline."""

from __future__ import annotations

import random
from pathlib import Path

from ml_data.converters import convert
from ml_data.converters.images import UniqueNames
from ml_data.converters.naming import renamed_stems
from tests.converters.test_yolo import CONFIG, task

BOX = {"x": 10, "y": 10, "width": 10, "height": 10, "rotation": 0}


def test_the_lowest_id_keeps_a_shared_name_whatever_the_order():
    triples = [(12, None, "a"), (3, None, "a"), (9, None, "a"), (10, None, "b"), (3, None, "c"), (3, None, "a")]
    expected = {("9", None, "a"): "a__task9", ("12", None, "a"): "a__task12"}
    for seed in range(20):
        random.Random(seed).shuffle(triples)
        assert renamed_stems(triples) == expected  # 9 before 12: ids in numeric order


def test_a_rename_that_is_another_files_name_takes_the_next_free_one():
    # Task 4's image is literally named "a__task7": task 7's rename goes past it.
    triples = [(7, None, "a"), (1, None, "a"), (4, None, "a__task7"), (None, None, "a")]
    assert renamed_stems(triples) == {("7", None, "a"): "a__task7__3"}
    assert renamed_stems(reversed(triples)) == {("7", None, "a"): "a__task7__3"}


def test_items_the_lowest_task_then_the_lowest_item_keeps_a_name():
    triples = [(5, "10", "p"), (5, "2", "p"), (8, None, "p"), (3, "0-1", "q"), (3, "0", "q"), (3, None, "r")]
    expected = {
        ("5", "10", "p"): "p__task5__p10",  # 2 before 10: items in numeric order
        ("8", None, "p"): "p__task8",
        ("3", "0-1", "q"): "q__task3__p0-1",  # within one task, the lowest item keeps it
    }
    for seed in range(20):
        random.Random(seed).shuffle(triples)
        assert renamed_stems(triples) == expected


def test_unique_names_follow_the_decision_and_still_never_reuse_a_name():
    names = UniqueNames(renamed_stems([(2, None, "a"), (1, None, "a")]))
    assert names.stem("http://h/x/a.jpg", 2) == "a__task2"  # asked first, still renamed
    assert names.stem("http://h/y/a.png", 1) == "a"
    assert names.stem("http://h/z/a.jpg", None) == "a__2"  # a task without an id owns nothing


def _convert(tasks: list[dict], out: Path) -> dict[str, bytes]:
    convert(tasks, "yolo", out, config=CONFIG)
    return {path.relative_to(out).as_posix(): path.read_bytes() for path in sorted(out.rglob("*")) if path.is_file()}


def test_a_conversion_names_files_the_same_under_any_task_order(tmp_path):
    tasks = [task(n, f"/data/local-files/?d=folder{n % 5}/a.jpg", ("ant" if n % 2 else "cat", BOX)) for n in range(20)]
    first = _convert(tasks, tmp_path / "sorted")
    assert "labels/a.txt" in first and "labels/a__task19.txt" in first
    for seed in range(3):
        shuffled = list(tasks)
        random.Random(seed).shuffle(shuffled)
        assert _convert(shuffled, tmp_path / f"shuffled{seed}") == first


def test_a_later_task_with_a_lower_id_keeps_the_name(tmp_path):
    """Regression: the first task read used to keep the name, so the order of the export decided."""
    tasks = [
        task(5, "/data/local-files/?d=x/frame.jpg", ("ant", BOX)),
        task(1, "/data/local-files/?d=y/frame.jpg", ("cat", BOX)),
    ]
    convert(tasks, "yolo", tmp_path / "out", config=CONFIG)
    assert (tmp_path / "out" / "labels" / "frame.txt").read_text().split()[0] == "1"  # cat: task 1
    assert (tmp_path / "out" / "labels" / "frame__task5.txt").read_text().split()[0] == "0"  # ant: task 5


def test_a_one_shot_iterator_is_still_converted(tmp_path):
    """Tasks that can be read only once are not read twice: names go first come, first served."""
    tasks = iter([task(5, "/data/local-files/?d=x/frame.jpg", ("ant", BOX)), task(1, "/d/y/frame.jpg", ("cat", BOX))])
    convert(tasks, "yolo", tmp_path / "out", config=CONFIG)
    assert sorted(p.name for p in (tmp_path / "out" / "labels").iterdir()) == ["frame.txt", "frame__task1.txt"]


def _tree(out: Path) -> dict[str, bytes]:
    return {path.relative_to(out).as_posix(): path.read_bytes() for path in sorted(out.rglob("*")) if path.is_file()}


def test_pages_of_tasks_are_named_by_the_lowest_task_then_item_whatever_the_order(tmp_path):
    """Regression: with pages of several tasks sharing names, the task read first kept them."""
    from tests.converters.test_multi_item import DOCUMENT
    from tests.support.multi_item import REPEATER_CONFIG, page_results

    other = {**DOCUMENT, "id": 9, "annotations": [{"id": 90, "result": page_results(9)}]}
    convert([other, DOCUMENT], "yolo", tmp_path / "reversed", config=REPEATER_CONFIG)
    convert([DOCUMENT, other], "yolo", tmp_path / "sorted", config=REPEATER_CONFIG)
    reversed_files = _tree(tmp_path / "reversed")
    assert reversed_files == _tree(tmp_path / "sorted")
    assert sorted(name for name in reversed_files if name.startswith("labels/")) == [
        "labels/c.txt",
        "labels/c__task9__p2.txt",
        "labels/page.txt",  # task 7's first page
        "labels/page__task7__p1.txt",
        "labels/page__task9__p0.txt",
        "labels/page__task9__p1.txt",
    ]


def test_hf_imagefolder_names_images_by_the_lowest_task_id(tmp_path):
    """Regression: hf-imagefolder gave a shared name to the first task read."""
    from tests.converters.test_hf_folders import BOXES, SIZE, boxed, metadata

    tasks = [boxed(task_id, boxes) for task_id, boxes in ((5, 1), (2, 2))]
    for boxed_task in tasks:
        boxed_task["data"]["image"] = f"/data/upload/{boxed_task['id']}/x.png"
    convert(tasks, "hf-imagefolder", tmp_path / "out", config=BOXES, media=SIZE)
    rows = {row["file_name"]: len(row["objects"]["bbox"]) for row in metadata(tmp_path / "out")}
    assert rows == {"images/x.png": 2, "images/x__task5.png": 1}


def test_timeline_csv_names_videos_by_the_lowest_task_id(tmp_path):
    """Regression: timeline-csv gave a shared name to the first task read."""
    from tests.converters.test_timeline import CONFIG, segment, video_task

    later = video_task(8, "/data/upload/8/clip.mp4", segment([{"start": 1, "end": 1}], "run"))
    lower = video_task(3, "/data/upload/3/clip.mp4", segment([{"start": 2, "end": 2}], "jump"))
    convert([later, lower], "timeline-csv", tmp_path / "out", config=CONFIG)
    labels = tmp_path / "out" / "labels"
    assert sorted(path.name for path in labels.iterdir()) == ["clip.csv", "clip__task8.csv"]
    assert "jump" in (labels / "clip.csv").read_text() and "run" in (labels / "clip__task8.csv").read_text()


def test_voc_class_masks_are_named_by_the_lowest_task_id(tmp_path):
    """Regression: VOC (and its SegmentationClass masks) gave a shared name to the first task read."""
    from ml_data.converters import ConvertOptions, MediaHooks
    from tests.converters.test_voc_segmentation import CONFIG, HEIGHT, POINTS, WIDTH, polygon, rectangle

    def image_task(task_id: int, regions: list[dict]) -> dict:
        return {"id": task_id, "data": {"image": f"/data/upload/{task_id}/x.jpg"}, "annotations": [{"result": regions}]}

    media = MediaHooks(image_size=lambda url, task_id: (WIDTH, HEIGHT))
    options = ConvertOptions(layout="standard")
    tasks = [image_task(6, [rectangle("r")]), image_task(4, [polygon("p", POINTS)])]
    convert(tasks, "voc", tmp_path / "voc", config=CONFIG, options=options, media=media)
    out = tmp_path / "voc"
    assert sorted(path.name for path in (out / "Annotations").iterdir()) == ["x.xml", "x__task6.xml"]
    assert "<name>car</name>" in (out / "Annotations" / "x.xml").read_text()  # task 4's polygon
    assert [path.name for path in (out / "SegmentationClass").iterdir()] == ["x.png"]
