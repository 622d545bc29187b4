"""Reading exports: every shape Label Studio writes, streamed, with clear errors for bad input."""

from __future__ import annotations

import json
import math
import tracemalloc
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml_data.errors import InvalidExport
from ml_data.tasks import read_tasks
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
        ('[{"id": 1, "data": {}} ', "truncated"),
        ("hello", "not a Label Studio export"),
        (json.dumps([{"id": 1}]), r"^data is missing: it must be an object \[task 1\]$"),
        (json.dumps([{"id": 1, "data": {}, "annotations": {}}]), r"^annotations is an object, not a list"),
        (json.dumps([{"id": 1, "data": {}, "annotations": [{"result": {}}]}]), r"^annotations\[0\]\.result is an"),
        (json.dumps([{"id": 1, "data": {}, "annotations": [{"result": [3]}]}]), r"^annotations\[0\]\.result\[0\] is a"),
        (json.dumps([[1]]), r"^task #1 in .*bad\.json is a list, not an object$"),
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
    import ml_data.tasks.reader as reader

    monkeypatch.setattr(reader, "_CHUNK", 64)  # every task spans several windows
    tasks = [{**TASK, "id": n, "data": {"text": "é" * (n * 50)}} for n in range(1, 6)]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks, indent=1, ensure_ascii=False), encoding="utf-8")
    assert [(t.id, len(t.data["text"])) for t in read_tasks(path)] == [(n, n * 50) for n in range(1, 6)]
    path.write_text(json.dumps(tasks)[:-1])
    with pytest.raises(InvalidExport, match="truncated: it ends after task #5"):
        list(read_tasks(path))


# --- the msgspec fast path reads exactly what the standard library's decoder reads ------------

_json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.sampled_from(["\ud800", "a\udfffb", "é中😀", "\\", '"', "\u2028"]),
)
_json_value = st.recursive(
    _json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=12,
)
# Literals the standard library takes and msgspec does not: they must reach the same items.
_odd_literal = st.sampled_from(["NaN", "-Infinity", "1e400", "-1E999", '"\\ud800"', '"\\udc00x"'])


@st.composite
def _exports(draw: st.DrawFn) -> bytes:
    """A JSON list of tasks as text: objects (some with odd literals), now and then a non-object,
    with arbitrary white space and lenient separators between items."""
    parts = []
    for _ in range(draw(st.integers(min_value=0, max_value=6))):
        if draw(st.integers(min_value=0, max_value=9)) == 0:
            item = json.dumps(draw(_json_value))
        else:
            task = draw(st.dictionaries(st.text(max_size=4), _json_value, max_size=4))
            item = json.dumps({"id": draw(st.integers()), **task}, ensure_ascii=draw(st.booleans()))
            if draw(st.integers(min_value=0, max_value=5)) == 0:
                item = item[:-1] + (", " if len(item) > 2 else "") + f'"odd": {draw(_odd_literal)}' + "}"
        parts.append(item)
    space = st.sampled_from(["", " ", "\n", "\t", "\r\n  "])
    text = "[" + draw(space)
    for index, item in enumerate(parts):
        text += item + draw(space) + ("," if index < len(parts) - 1 else draw(st.sampled_from(["", ""]))) + draw(space)
    prefix = draw(st.sampled_from(["", "\ufeff", " \n"]))
    return (prefix + text + "]").encode("utf-8", "surrogatepass")


def _outcome(read, path):  # type: ignore[no-untyped-def]
    """Every item read before an error, and the error: its type, and for a broken export its
    message (which says where, in the whole file, whichever reader found it)."""
    items = []
    try:
        for item in read(path):
            items.append(repr(item))
    except InvalidExport as exc:
        return items, f"InvalidExport: {exc}"
    except UnicodeDecodeError as exc:
        return items, type(exc).__name__
    return items, None


def _standard_library_only(path):  # type: ignore[no-untyped-def]
    from ml_data.tasks.reader import _array_scan

    with open(path, "rb") as handle:
        yield from (item for item, _start, _end in _array_scan(handle, str(path), "utf-8-sig"))


@settings(max_examples=300, deadline=None)
@given(export=_exports(), chunk=st.sampled_from([8, 31, 64, 257, 8 * 1024 * 1024]), cut=st.data())
def test_the_fast_reader_reads_what_the_standard_library_reads(tmp_path_factory, export, chunk, cut):
    import ml_data.tasks.reader as reader

    path = tmp_path_factory.mktemp("export") / "export.json"
    mutation = cut.draw(st.sampled_from(["none", "truncate", "flip", "insert"]))
    if mutation != "none" and export:
        at = cut.draw(st.integers(min_value=0, max_value=len(export) - 1))
        byte = cut.draw(st.sampled_from([b"\xff", b"{", b"}", b"]", b",", b'"', b"x", b"\x01", b"\xc3"]))
        export = {
            "truncate": export[:at],
            "flip": export[:at] + byte + export[at + 1 :],
            "insert": export[:at] + byte + export[at:],
        }[mutation]
    path.write_bytes(export)
    if not export.lstrip(b" \n\t\r\xef\xbb\xbf").startswith(b"["):
        return  # not a JSON list: read by the other paths
    with mock.patch.object(reader, "_CHUNK", chunk):
        fast, fast_error = _outcome(reader._array_items, path)
        standard, standard_error = _outcome(_standard_library_only, path)
    assert fast_error == standard_error, (export, chunk)
    if standard_error == "UnicodeDecodeError":
        # Bytes are decoded a window at a time, so where the error stops the reading depends on
        # where the windows fall: the items read are the same up to the shorter run.
        shorter = min(len(fast), len(standard))
        assert fast[:shorter] == standard[:shorter]
    else:
        assert fast == standard, (export, chunk)


def test_the_fast_reader_hands_odd_tasks_to_the_standard_library(tmp_path):
    path = tmp_path / "export.json"
    path.write_text('[{"id": 1, "data": {}}, {"id": 2, "data": {"x": NaN}}, {"id": 3, "data": {}}]')
    tasks = list(read_tasks(path))
    assert [task.id for task in tasks] == [1, 2, 3]
    assert math.isnan(tasks[1].data["x"])
    path.write_text('[{"id": 1, "data": {}}, {"id": 2, "data": {}} x]')
    with pytest.raises(InvalidExport, match=r"at line 1, column 47 \(byte 46\), in task #3: Expecting value$"):
        list(read_tasks(path))


def test_a_number_cut_by_the_window_is_read_whole(tmp_path, monkeypatch):
    import ml_data.tasks.reader as reader

    monkeypatch.setattr(reader, "_CHUNK", 4)
    path = tmp_path / "export.json"
    path.write_text("[1234567, 0.25e-3,-10]")
    assert list(_standard_library_only(path)) == [1234567, 0.25e-3, -10]
    assert [end - start for start, end in reader.array_item_spans(path)] == [7, 7, 3]


def test_a_clean_export_never_needs_the_standard_library(tmp_path, monkeypatch):
    """msgspec's message for bytes after a value is what the fast path reads ends from: if a
    msgspec release changes it, reading stays right (the fallback) but slow, and this says so."""
    import ml_data.tasks.reader as reader

    monkeypatch.setattr(reader, "_CHUNK", 1500)  # many windows, tasks cut at their edges
    monkeypatch.setattr(reader, "_array_scan", mock.Mock(side_effect=AssertionError("fallback used")))
    path = write_json(tmp_path / "export.json", [{**TASK, "id": n} for n in range(50)])
    assert [task.id for task in read_tasks(path)] == list(range(50))


# --- a broken export says what is wrong and where, in the whole file -----------------------------


def _fast_reader(path):  # type: ignore[no-untyped-def]
    import ml_data.tasks.reader as reader

    return reader._array_items(path)


_READERS = {"fast": _fast_reader, "standard library": _standard_library_only}


@pytest.mark.parametrize("reader_name", list(_READERS))
def test_an_export_cut_inside_a_task_says_it_is_truncated_and_where(tmp_path, reader_name):
    """Regression: a list cut in the middle of a task was "not valid JSON: Expecting ',' delimiter
    (character 0 after byte 4096)", naming neither the truncation nor a line."""
    text = json.dumps([{**TASK, "id": n} for n in range(101, 106)], indent=2)
    cut = text.index('"id": 103') + 40
    path = tmp_path / "export.json"
    path.write_text(text[:cut])
    line = text[:cut].count("\n") + 1
    column = cut - text[:cut].rindex("\n")
    with pytest.raises(InvalidExport) as info:
        list(_READERS[reader_name](path))
    assert str(info.value) == (
        f"{path} is truncated: it ends inside task #3, at line {line}, column {column} (byte {cut}), "
        "before the list of tasks closes"
    )


@pytest.mark.parametrize("reader_name", list(_READERS))
def test_an_export_cut_between_tasks_says_after_which(tmp_path, reader_name):
    path = tmp_path / "export.json"
    path.write_text('[{"id": 1, "data": {}},\n {"id": 2, "data": {}},\n')
    with pytest.raises(InvalidExport, match=r"truncated: it ends after task #2, at line 3, column 1 \(byte 48\)"):
        list(_READERS[reader_name](path))
    path.write_text("[ ")
    with pytest.raises(InvalidExport, match=r"truncated: it ends at line 1, column 3 \(byte 2\), before the list"):
        list(_READERS[reader_name](path))


@pytest.mark.parametrize("reader_name", list(_READERS))
def test_a_syntax_error_names_the_line_and_column_json_names(tmp_path, reader_name):
    tasks = [{**TASK, "id": n, "data": {"text": "é" * n}} for n in range(1, 6)]
    text = "\ufeff" + json.dumps(tasks, indent=2, ensure_ascii=False).replace('"id": 4', '"id" 4')
    path = tmp_path / "export.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(text[1:])
    byte = len(text[: expected.value.pos + 1].encode("utf-8"))
    where = f"line {expected.value.lineno}, column {expected.value.colno} (byte {byte})"
    with pytest.raises(InvalidExport) as info:
        list(_READERS[reader_name](path))
    assert str(info.value) == f"{path} is not valid JSON at {where}, in task #4: Expecting ':' delimiter"


@settings(max_examples=200, deadline=None)
@given(export=_exports(), chunk=st.sampled_from([8, 31, 257, 8 * 1024 * 1024]), data=st.data())
def test_every_cut_of_an_export_is_truncated_at_the_end_of_the_file(tmp_path_factory, export, chunk, data):
    """Wherever a file of tasks is cut inside its list (within a literal, a number, an escape, a
    multi-byte character, between tasks), both readers say it is truncated, at its last byte."""
    import ml_data.tasks.reader as reader

    try:
        export.decode("utf-8")
    except UnicodeDecodeError:
        return  # lone surrogates written raw: not UTF-8, another error
    opening = export.index(b"[") + 1
    cut = data.draw(st.integers(min_value=opening, max_value=len(export) - 1))
    head = export[:cut]
    path = tmp_path_factory.mktemp("export") / "export.json"
    path.write_bytes(head)
    text = head.decode("utf-8", "replace").removeprefix("\ufeff")  # a cut character is one
    line = text.count("\n") + 1
    column = len(text) - (text.rfind("\n") + 1) + 1
    with mock.patch.object(reader, "_CHUNK", chunk):
        for read in _READERS.values():
            with pytest.raises(InvalidExport) as info:
                list(read(path))
            message = str(info.value)
            assert message.startswith(f"{path} is truncated: it ends "), (head, message)
            assert message.endswith(f"at line {line}, column {column} (byte {cut}), before the list of tasks closes")


_ONE_TASK = {"id": 1, "data": {"text": "é"}, "annotations": []}
_LINE = json.dumps(_ONE_TASK)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        # one task object, pretty-printed: its own line and column, not "line 1" of JSON lines
        (
            json.dumps(_ONE_TASK, indent=2, ensure_ascii=False).replace('"data":', '"data"'),
            "is not valid JSON at line 3, column 10 (byte 22): unexpected character, expected ':' after key",
        ),
        (
            json.dumps(_ONE_TASK, indent=2)[:30],
            "is truncated: it ends inside the task object, at line 4, column 6 (byte 30)",
        ),
        (
            _LINE + "\n" + _LINE[:20],
            f"is truncated: it ends inside task #2, at line 2, column 21 (byte {len(_LINE) + 21})",
        ),
        (
            _LINE + "\n\n" + _LINE.replace(":", "", 1) + "\n",
            f"is not valid JSON at line 3, column 7 (byte {len(_LINE) + 8}), in task #2: "
            "unexpected character, expected ':' after key",
        ),
    ],
)
def test_a_broken_task_object_or_json_lines_file_names_the_line(tmp_path, content, message):
    """Regression: a pretty-printed task with a typo was read as JSON lines and reported at
    "line 1: not valid JSON (unexpected end of data ...)"; a cut JSON lines file did not say so."""
    path = tmp_path / "export.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InvalidExport) as info:
        list(read_tasks(path))
    assert str(info.value) == f"{path} {message}"


def test_a_byte_order_mark_before_a_task_object_or_json_lines_is_read(tmp_path):
    path = tmp_path / "export.json"
    path.write_text("\ufeff" + _LINE, encoding="utf-8")
    assert [task.id for task in read_tasks(path)] == [1]
    path.write_text("\ufeff" + _LINE + "\n" + json.dumps({**_ONE_TASK, "id": 2}) + "\n", encoding="utf-8")
    assert [task.id for task in read_tasks(path)] == [1, 2]
    path.write_bytes(b'{"id": 1, "data": {"text": "\xff"}}\n')
    with pytest.raises(InvalidExport, match=r"is not UTF-8 text"):
        list(read_tasks(path))


def test_a_broken_file_in_a_task_folder_names_the_file_and_where(tmp_path):
    folder = tmp_path / "tasks"
    folder.mkdir()
    (folder / "1.json").write_text("\ufeff" + _LINE, encoding="utf-8")
    (folder / "2.json").write_text(json.dumps(_ONE_TASK, indent=2)[:30])
    with pytest.raises(InvalidExport) as info:
        list(read_tasks(folder))
    assert (
        str(info.value) == f"{folder / '2.json'} is truncated: it ends inside its JSON, at line 4, column 6 (byte 30)"
    )


@pytest.mark.parametrize("chunk", [16, 64, 8 * 1024 * 1024])
def test_bytes_that_are_not_utf8_are_named_where_they_are_in_the_file(tmp_path, monkeypatch, chunk):
    """Regression: the byte named counted from the start of the reading window, not the file."""
    import ml_data.tasks.reader as reader

    monkeypatch.setattr(reader, "_CHUNK", chunk)
    head = json.dumps([{**_ONE_TASK, "id": n} for n in range(3)], indent=1, ensure_ascii=False)[:-3]
    path = tmp_path / "export.json"
    path.write_bytes(head.encode() + b',\n {"id": 9, "data": {"text": "\xff"}}]')
    bad = path.read_bytes().index(b"\xff")
    line = head.count("\n") + 2
    with pytest.raises(InvalidExport) as info:
        list(read_tasks(path))
    assert str(info.value) == (
        f"{path} is not UTF-8 text (at line {line}, column 30 (byte {bad})): not a Label Studio export"
    )
