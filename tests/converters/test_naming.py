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
    pairs = [(12, "a"), (3, "a"), (9, "a"), (10, "b"), (3, "c"), (3, "a")]
    expected = {("9", "a"): "a__task9", ("12", "a"): "a__task12"}
    for seed in range(20):
        random.Random(seed).shuffle(pairs)
        assert renamed_stems(pairs) == expected  # 9 before 12: ids in numeric order


def test_a_rename_that_is_another_files_name_takes_the_next_free_one():
    # Task 4's image is literally named "a__task7": task 7's rename goes past it.
    pairs = [(7, "a"), (1, "a"), (4, "a__task7"), (None, "a")]
    assert renamed_stems(pairs) == {("7", "a"): "a__task7__3"}
    assert renamed_stems(reversed(pairs)) == {("7", "a"): "a__task7__3"}


def test_unique_names_follow_the_decision_and_still_never_reuse_a_name():
    names = UniqueNames(renamed_stems([(2, "a"), (1, "a")]))
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
