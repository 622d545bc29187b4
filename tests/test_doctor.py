"""``ml-data doctor`` against a real Label Studio, a server that is not Label Studio, and nothing."""

from __future__ import annotations

import json
import socket

import pytest
from click.testing import CliRunner

from ml_data import Settings
from ml_data.cli import main
from ml_data.doctor import run_checks


def by_name(checks):  # type: ignore[no-untyped-def]
    return {check.name: check for check in checks}


def doctor(monkeypatch, env: dict[str, str], *args: str):  # type: ignore[no-untyped-def]
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return CliRunner().invoke(main, ["doctor", *args])


@pytest.mark.label_studio
def test_a_working_setup_passes_every_check(seeded, tmp_path, monkeypatch):
    env = {
        "LABEL_STUDIO_URL": seeded.server.url,
        "LABEL_STUDIO_API_KEY": seeded.server.legacy_token,
        "ML_DATA_CACHE_DIR": str(tmp_path / "cache"),
    }
    result = doctor(monkeypatch, env, "--project", str(seeded.project))
    assert result.exit_code == 0, result.output
    lines = {line.split()[1]: line.split()[0] for line in result.output.splitlines()}
    assert lines["label-studio"] == lines["token"] == lines["sample-task"] == lines["cache"] == "ok"
    assert "Label Studio 1.23.2" in result.output and "legacy token, accepted" in result.output


@pytest.mark.label_studio
def test_a_personal_access_token_is_named_and_accepted(seeded, tmp_path):
    token = seeded.personal_access_token()
    checks = by_name(run_checks(seeded.settings(tmp_path, token), project=seeded.project))
    assert checks["token"].status == "ok" and "personal access token" in checks["token"].message
    assert checks["sample-task"].status == "ok"


@pytest.mark.label_studio
def test_a_wrong_token_fails_with_its_kind(seeded, tmp_path, monkeypatch):
    env = {
        "LABEL_STUDIO_URL": seeded.server.url,
        "LABEL_STUDIO_API_KEY": "f" * 40,
        "ML_DATA_CACHE_DIR": str(tmp_path / "cache"),
    }
    result = doctor(monkeypatch, env, "--project", str(seeded.project), "--json")
    assert result.exit_code == 1
    checks = {item["check"]: item for item in json.loads(result.output)}
    assert checks["label-studio"]["status"] == "ok"
    assert checks["token"]["status"] == "fail" and "legacy token" in checks["token"]["message"]
    assert "f" * 40 not in result.output
    assert checks["sample-task"]["status"] == "skip"


def test_nothing_listening_fails_with_what_to_check(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings(label_studio_url=f"http://127.0.0.1:{port}", api_key="x" * 40, cache_dir=tmp_path / "c")
    checks = by_name(run_checks(settings))
    assert checks["label-studio"].status == "fail" and "cannot reach" in checks["label-studio"].message
    assert checks["token"].status == "skip"


def test_a_server_that_is_not_label_studio_is_named(file_server, tmp_path):
    file_server.add("/api/version", body=b"<html>hello</html>", headers={"Content-Type": "text/html"})
    settings = Settings(label_studio_url=file_server.origin, api_key="x" * 40, cache_dir=tmp_path / "c")
    checks = by_name(run_checks(settings))
    assert checks["label-studio"].status == "fail" and "root URL" in checks["label-studio"].message


def test_folders_and_cache_and_clouds_without_label_studio(tmp_path, monkeypatch):
    settings = Settings(local_files_root=tmp_path / "missing", upload_dir=tmp_path, cache_dir=tmp_path / "cache")
    checks = by_name(run_checks(settings))
    assert checks["label-studio"].status == "fail" and "LABEL_STUDIO_URL" in checks["label-studio"].message
    assert checks["local-files-root"].status == "fail" and "not a folder" in checks["local-files-root"].message
    assert checks["upload-dir"].status == "ok"
    assert checks["cache"].status in ("ok", "warn") and "writable" in checks["cache"].message
    assert checks["s3"].status == "warn"  # boto3 is installed for the tests; no credentials here
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    assert by_name(run_checks(settings))["s3"].status == "ok"
