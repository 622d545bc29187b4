"""Reading exports: every shape Label Studio writes, streamed, with clear errors for bad input."""

from __future__ import annotations

import json
import tracemalloc

import pytest

from ml_data.converters import read_tasks
from ml_data.errors import InvalidExport
from tests.converters.conftest import write_json

TASK = {
    "id": 7,
    "data": {"image": "/data/upload/1/a.jpg"},
    "annotations": [
        {
            "id": 70,
            "completed_by": {"id": 1, "email": "a@example.com"},
            "result": [
                {
                    "id": "r1",
                    "from_name": "label",
                    "to_name": "image",
                    "type": "rectanglelabels",
                    "original_width": 640,
                    "original_height": 480,
                    "image_rotation": 0,
                    "value": {"x": 1, "y": 2, "width": 3, "height": 4, "rotation": 30, "rectanglelabels": ["cat"]},
                },
                {
                    "id": "k1",
                    "parentID": "r1",
                    "from_name": "kp",
                    "to_name": "image",
                    "type": "keypointlabels",
                    "value": {"x": 5, "y": 6},
                    "score": 0.5,
                },
            ],
        }
    ],
    "predictions": [{"id": 3, "model_version": "v2", "score": 0.9, "result": []}],
}


def test_a_json_list_reads_into_the_model(tmp_path):
    (task,) = list(read_tasks(write_json(tmp_path / "export.json", [TASK])))
    assert task.id == 7 and task.data["image"] == "/data/upload/1/a.jpg"
    (annotation,) = task.annotations
    rect, keypoint = annotation.result
    assert (rect.id, rect.from_name, rect.to_name, rect.type) == ("r1", "label", "image", "rectanglelabels")
    assert (rect.original_width, rect.original_height, rect.value["rotation"]) == (640, 480, 30)
    assert (keypoint.parent_id, keypoint.score) == ("r1", 0.5)
    (prediction,) = task.predictions
    assert prediction.is_prediction and prediction.model_version == "v2" and prediction.score == 0.9


def test_json_lines_single_object_folder_and_iterables(tmp_path):
    lines = tmp_path / "export.jsonl"
    lines.write_text("\n".join(json.dumps({**TASK, "id": n}) for n in (1, 2, 3)) + "\n")
    assert [t.id for t in read_tasks(lines)] == [1, 2, 3]
    assert [t.id for t in read_tasks(write_json(tmp_path / "one.json", TASK))] == [7]
    folder = tmp_path / "tasks"
    folder.mkdir()
    for n in (10, 2, 1):
        write_json(folder / f"{n}.json", {**TASK, "id": n})
    (folder / "notes.txt").write_text("ignored")
    assert [t.id for t in read_tasks(folder)] == [1, 2, 10]
    assert [t.id for t in read_tasks([TASK, {**TASK, "id": 8}])] == [7, 8]


def test_legacy_completions_read_as_annotations(tmp_path):
    legacy = {"id": 1, "data": {"text": "x"}, "completions": [{"id": 5, "result": [], "skipped": True}]}
    folder = tmp_path / "completions"
    folder.mkdir()
    write_json(folder / "1.json", {k: v for k, v in legacy.items() if k != "id"})
    (task,) = list(read_tasks(folder))
    assert task.id == 1 and task.annotations[0].id == 5 and task.annotations[0].was_cancelled


def test_a_source_can_be_read_twice(tmp_path):
    source = read_tasks(write_json(tmp_path / "export.json", [TASK]))
    assert [t.id for t in source] == [t.id for t in source] == [7]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[{"id": 1, "data": {}} ', "not valid JSON"),
        ("hello", "not a Label Studio export"),
        (json.dumps([{"id": 1}]), "no 'data' object"),
        (json.dumps([{"id": 1, "data": {}, "annotations": {}}]), "not lists"),
        (json.dumps([{"id": 1, "data": {}, "annotations": [{"result": {}}]}]), "result is not a list"),
        (json.dumps([{"id": 1, "data": {}, "annotations": [{"result": [3]}]}]), "not an object"),
        (json.dumps([[1]]), "not an object"),
    ],
)
def test_malformed_input_is_a_clear_error(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(InvalidExport, match=message):
        list(read_tasks(path))


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(InvalidExport, match="no such export"):
        read_tasks(tmp_path / "nope.json")


def _peak_reading(path) -> int:  # type: ignore[no-untyped-def]
    tracemalloc.start()
    try:
        count = sum(1 for _ in read_tasks(path))
        return tracemalloc.get_traced_memory()[1], count
    finally:
        tracemalloc.stop()


def test_memory_stays_flat_as_the_export_grows(tmp_path):
    small, large = tmp_path / "small.json", tmp_path / "large.json"
    write_json(small, [{**TASK, "id": n} for n in range(500)])
    write_json(large, [{**TASK, "id": n} for n in range(10_000)])
    small_peak, small_count = _peak_reading(small)
    large_peak, large_count = _peak_reading(large)
    assert (small_count, large_count) == (500, 10_000)
    assert large.stat().st_size > 10 * small.stat().st_size
    assert large_peak < 2 * small_peak + 256 * 1024, (small_peak, large_peak)


def test_tasks_larger_than_the_reading_window(tmp_path, monkeypatch):
    import ml_data.converters.model as model

    monkeypatch.setattr(model, "_CHUNK", 64)  # every task spans several windows
    tasks = [{**TASK, "id": n, "data": {"text": "é" * (n * 50)}} for n in range(1, 6)]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks, indent=1, ensure_ascii=False), encoding="utf-8")
    assert [(t.id, len(t.data["text"])) for t in read_tasks(path)] == [(n, n * 50) for n in range(1, 6)]
    path.write_text(json.dumps(tasks)[:-1])
    with pytest.raises(InvalidExport, match="not closed"):
        list(read_tasks(path))
