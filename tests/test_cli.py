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
