from __future__ import annotations

import json

from click.testing import CliRunner

from ml_data import __version__
from ml_data.cli import main


def test_help_lists_commands():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "resolve" in result.output


def test_version():
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def test_resolve_prints_paths(file_server, monkeypatch, tmp_path):
    monkeypatch.setenv("ML_DATA_CACHE_DIR", str(tmp_path))
    file_server.add("/a.txt", body=b"A")
    result = CliRunner().invoke(main, ["resolve", file_server.url("/a.txt")])
    assert result.exit_code == 0, result.output
    path = result.output.strip()
    assert open(path, "rb").read() == b"A"


def test_resolve_json_reports_each_url_and_fails_on_any_error(file_server, monkeypatch, tmp_path):
    monkeypatch.setenv("ML_DATA_CACHE_DIR", str(tmp_path))
    file_server.add("/a.txt", body=b"A")
    result = CliRunner().invoke(
        main, ["resolve", "--json", file_server.url("/a.txt"), "/data/local-files/?d=../x&token=SECRET", "s3://b/k"]
    )
    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert lines[0]["size"] == 1 and lines[0]["cached"] is True and len(lines[0]["sha256"]) == 64
    assert lines[1]["error"] == "UnsafePath" and "SECRET" not in result.output
    assert lines[2]["error"] == "MissingTaskId"


def test_bad_configuration_is_a_clean_error(monkeypatch):
    monkeypatch.setenv("LABEL_STUDIO_URL", "no-scheme:8080")
    result = CliRunner().invoke(main, ["resolve", "/data/upload/1/x.jpg"])
    assert result.exit_code == 1
    assert "invalid Label Studio URL" in result.output
    assert "Traceback" not in result.output


def test_resolve_tasks_file_resolves_every_resource_with_its_task_id(file_server, monkeypatch, tmp_path):
    monkeypatch.setenv("ML_DATA_CACHE_DIR", str(tmp_path / "cache"))
    file_server.add("/one.jpg", body=b"1")
    file_server.add("/two.jpg", body=b"2")
    tasks = [
        {"id": 10, "data": {"image": file_server.url("/one.jpg"), "text": "a caption, not a URL"}},
        {"id": 11, "data": {"images": [file_server.url("/two.jpg"), "s3://bucket/k.jpg"], "n": 3}},
        {"id": 12, "data": "not a dict"},
    ]
    export = tmp_path / "export.json"
    export.write_text(json.dumps(tasks))
    result = CliRunner().invoke(main, ["resolve", "--json", "--tasks", str(export)])
    lines = [json.loads(line) for line in result.output.splitlines()]
    # Values that are not resource URLs are reported, not dropped silently.
    skipped = [(r.get("task_id"), r.get("key")) for r in lines if "skipped" in r]
    assert skipped == [(10, "text"), (11, "n"), (None, None)]
    records = [r for r in lines if "skipped" not in r]
    assert [(r["task_id"], r["key"]) for r in records] == [(10, "image"), (11, "images"), (11, "images")]
    assert open(records[0]["path"], "rb").read() == b"1" and open(records[1]["path"], "rb").read() == b"2"
    assert records[2]["error"] == "LabelStudioNotConfigured" and "task 11" in records[2]["message"]
    assert "ml-data[s3]" in records[2]["message"]
    assert result.exit_code == 1


def test_resolve_tasks_file_that_is_not_json_is_a_clean_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("[{not json")
    result = CliRunner().invoke(main, ["resolve", "--tasks", str(bad)])
    assert result.exit_code == 1 and "cannot read tasks" in result.output


def test_resolve_needs_something_to_resolve():
    result = CliRunner().invoke(main, ["resolve"])
    assert result.exit_code == 2 and "--tasks" in result.output
