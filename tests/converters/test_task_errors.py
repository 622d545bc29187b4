"""A malformed task is named, with the field that is wrong: by its id when it has one, else by
its position in the export; in the error, in the report's skip reasons, and on the command line."""

from __future__ import annotations

import copy
import json
import re

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from ml_data.cli import main
from ml_data.converters import ConvertOptions, convert, read_tasks
from ml_data.errors import ConversionError, InvalidExport
from ml_data.tasks.model import task_from_dict


def _region(n: int) -> dict:
    return {"id": f"r{n}", "from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["a"]}}


def _task(task_id: object = 7) -> dict:
    task = {
        "data": {"text": "hello"},
        "annotations": [{"id": 1, "result": [_region(0), _region(1), _region(2)]}],
        "predictions": [5, {"id": 2, "result": [_region(0)]}],
    }
    return task if task_id is None else {"id": task_id, **task}


def _broken(task: dict, field: str) -> dict:
    """``task`` with one field broken, as each example in the table below names it."""
    task = copy.deepcopy(task)
    if field == "annotations":
        task["annotations"] = {"result": []}
    elif field == "annotations[0].result[2].value":
        task["annotations"][0]["result"][2]["value"] = ["x"]
    elif field == "annotations[0].result[1]":
        task["annotations"][0]["result"][1] = "r1"
    elif field == "data":
        task["data"] = "hello"
    elif field == "predictions[1].result":
        task["predictions"][1]["result"] = 3
    elif field == "completions[0]":
        task["completions"] = [None]
        del task["annotations"]
    return task


CASES = {
    "annotations": "annotations is an object, not a list",
    "annotations[0].result[2].value": "annotations[0].result[2].value is a list, not an object",
    "annotations[0].result[1]": "annotations[0].result[1] is a string, not an object",
    "data": "data is a string, not an object",
    # predictions[0] is a prediction id, as Label Studio's direct export writes them: still counted
    "predictions[1].result": "predictions[1].result is a number, not a list",
    "completions[0]": "completions[0] is null, not an object",
}


@pytest.mark.parametrize("field", list(CASES))
def test_a_malformed_task_names_its_id_and_the_field(field):
    with pytest.raises(InvalidExport) as info:
        task_from_dict(_broken(_task(7), field))
    assert info.value.task_id == 7
    assert str(info.value) == f"{CASES[field]} [task 7]"


@pytest.mark.parametrize("field", list(CASES))
def test_a_malformed_task_without_an_id_is_named_by_its_position(tmp_path, field):
    export = tmp_path / "export.json"
    export.write_text(json.dumps([_task(1), _task(2), _broken(_task(None), field)]))
    with pytest.raises(InvalidExport) as info:
        list(read_tasks(export))
    assert info.value.task_id is None
    assert str(info.value) == f"task #3 in {export}: {CASES[field]}"


@pytest.mark.parametrize("task_id", [[1], {"n": 1}, 1.5, True, None])
def test_an_id_that_is_not_an_integer_or_a_string_is_refused_by_position(tmp_path, task_id):
    export = tmp_path / "export.json"
    export.write_text(json.dumps([_task(1), {**_task(None), "id": task_id, "data": 3}]))
    with pytest.raises(InvalidExport) as info:
        list(read_tasks(export))
    field = "data is a number, not an object" if task_id is None else "id is "
    assert str(info.value).startswith(f"task #2 in {export}: {field}")
    assert info.value.task_id is None


def test_skip_reasons_and_failures_name_the_task_and_the_field(tmp_path):
    export = tmp_path / "export.json"
    export.write_text(
        json.dumps([_task(1), _broken(_task(7), "annotations[0].result[2].value"), _broken(_task(None), "data")])
    )
    report = convert(export, "json", tmp_path / "out", options=ConvertOptions(on_error="skip"))
    assert report.items_written == 1
    assert report.examples == [
        (7, "annotations[0].result[2].value is a list, not an object"),
        (None, f"task #3 in {export}: data is a string, not an object"),
    ]
    with pytest.raises(ConversionError) as info:
        convert(export, "json", tmp_path / "out2")
    assert str(info.value) == "annotations[0].result[2].value is a list, not an object [task 7]"
    assert info.value.task_id == 7 and not (tmp_path / "out2").exists()


def test_the_command_line_names_the_tasks_it_skipped(tmp_path):
    export = tmp_path / "export.json"
    tasks = [_broken(_task(n), "annotations[0].result[2].value") for n in (7, 8)] + [_broken(_task(None), "data")]
    export.write_text(json.dumps([_task(1), *tasks]))
    result = CliRunner().invoke(
        main, ["convert", str(export), "--format", "json", "--out", str(tmp_path / "o"), "--on-error", "skip"]
    )
    assert result.exit_code == 0, result.output
    assert "skipped 2: annotations[0].result[2].value is a list, not an object (tasks 7, 8)" in result.output
    assert f"skipped 1: task #4 in {export}: data is a string, not an object\n" in result.output


# --- whatever field is broken, the path in the message leads to it --------------------------

_NOT_AN_OBJECT = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=3), st.lists(st.integers(), max_size=2)
)
_NOT_A_LIST = st.one_of(
    st.booleans(), st.integers(), st.text(max_size=3), st.dictionaries(st.text(max_size=2), st.integers(), max_size=2)
)


@st.composite
def _tasks_with_one_broken_field(draw: st.DrawFn) -> tuple[dict, str, object]:
    annotations = [
        {"id": a, "result": [_region(r) for r in range(draw(st.integers(0, 3)))]}
        for a in range(draw(st.integers(1, 3)))
    ]
    task = {
        "id": draw(st.one_of(st.integers(), st.text(max_size=4))),
        "data": {"text": "x"},
        "annotations": annotations,
    }
    a = draw(st.integers(0, len(annotations) - 1))
    regions = annotations[a]["result"]
    choices = ["data", "annotations", f"annotations[{a}]", f"annotations[{a}].result"]
    if regions:
        r = draw(st.integers(0, len(regions) - 1))
        choices += [f"annotations[{a}].result[{r}]", f"annotations[{a}].result[{r}].value"]
    field = draw(st.sampled_from(choices))
    value = draw(_NOT_A_LIST if field.endswith(("annotations", "result")) else _NOT_AN_OBJECT)
    if field.endswith("value") and value is None:
        value = 0  # a result without a value is a relation: not an error
    # Walk to the parent of the field and break it.
    parts = re.findall(r"\w+|\[\d+\]", field)
    parent: object = task
    for part in parts[:-1]:
        parent = parent[int(part[1:-1])] if part.startswith("[") else parent[part]  # type: ignore[index]
    last = parts[-1]
    if last.startswith("["):
        parent[int(last[1:-1])] = value  # type: ignore[index]
    else:
        parent[last] = value  # type: ignore[index]
    return task, field, value


@settings(max_examples=200, deadline=None)
@given(case=_tasks_with_one_broken_field())
def test_the_message_names_the_broken_field_whatever_it_is(case):
    task, field, _value = case
    with pytest.raises(InvalidExport) as info:
        task_from_dict(task)
    assert info.value.message.startswith(f"{field} is ")
    assert info.value.task_id == task["id"]
