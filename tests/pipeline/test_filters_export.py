"""The filters on an export file: judged as the file is read, into a copy removed after the run;
a run the filters leave empty says so and leaves nothing behind."""

from __future__ import annotations

import json

import pytest

from ml_data.errors import ConfigurationError, NothingToWrite
from ml_data.pipeline import DatasetOptions, fetch

CONFIG = """<View>
  <Text name="text" value="$text"/>
  <Labels name="label" toName="text"><Label value="cat"/><Label value="dog"/></Labels>
</View>"""


def _task(task_id: int, *labels: str, by: int = 1) -> dict:
    result = [
        {
            "id": f"r{task_id}{n}",
            "from_name": "label",
            "to_name": "text",
            "type": "labels",
            "value": {"start": n, "end": n + 1, "labels": [label]},
        }
        for n, label in enumerate(labels)
    ]
    annotations = [{"id": task_id, "completed_by": by, "result": result}] if labels else []
    return {"id": task_id, "data": {"text": "a cat and a dog"}, "annotations": annotations}


@pytest.fixture
def export(tmp_path):
    path = tmp_path / "export.json"
    path.write_text(json.dumps([_task(1, "cat"), _task(2, "dog", by=2), _task(3, "cat", "dog", by=2), _task(4)]))
    return path


def _run(export, out, **filters):
    report = fetch(str(export), DatasetOptions(format="json", **filters), out=out, config=CONFIG)
    return report, json.loads((out / "result.json").read_text())


def test_filters_on_a_file_and_no_copy_left_behind(export, tmp_path):
    report, tasks = _run(export, tmp_path / "out", labels="dog", annotator="2")
    assert [task["id"] for task in tasks] == [2, 3]
    assert [r["value"]["labels"] for r in tasks[1]["annotations"][0]["result"]] == [["dog"]]
    assert report.left_out == {"labels": 0, "annotator": 2} and report.regions_dropped == {"cat": 1}
    assert sorted(path.name for path in tmp_path.iterdir()) == ["export.json", "out"]
    manifest = json.loads(report.manifest.read_text())
    assert manifest["settings"]["labels"] == ["dog"] and manifest["settings"]["annotator"] == "2"
    assert set(manifest["tasks"]) == {"2", "3"}


def test_a_run_the_filters_leave_empty_says_which_filters_and_writes_nothing(export, tmp_path):
    with pytest.raises(NothingToWrite, match=r"the filters left out every task \(annotator 4\)"):
        _run(export, tmp_path / "out", annotator="someone@example.com")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["export.json"]


def test_a_view_is_refused_for_a_file_before_anything_is_written(export, tmp_path):
    with pytest.raises(ConfigurationError, match="view: .*export.json is an export file"):
        _run(export, tmp_path / "out", view=2)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["export.json"]
