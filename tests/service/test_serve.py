"""``ml-data serve`` when it cannot serve: one clear line and a non-zero exit, never a banner
followed by a traceback; and what the service's 404s tell a client about the server."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

from ml_data.cli import main
from ml_data.service import ServiceSettings, create_app
from tests.support.jobs import wait_for_job

TOKEN = "serve-token"


@pytest.fixture
def busy_port():  # type: ignore[no-untyped-def]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_port_in_use_is_one_line_before_any_banner(busy_port, monkeypatch, tmp_path):
    """Regression: the banner was printed, then waitress's OSError traceback."""
    monkeypatch.setenv("ML_DATA_SERVICE_TOKEN", TOKEN)
    monkeypatch.setenv("ML_DATA_CACHE_DIR", str(tmp_path / "cache"))
    result = CliRunner().invoke(main, ["serve", "--host", "127.0.0.1", "--port", str(busy_port)])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert result.output.strip().splitlines() == [
        f"Error: cannot listen on 127.0.0.1:{busy_port}: the port is already in use"
    ]


@pytest.mark.parametrize(
    ("variable", "value"), [("ML_DATA_ACCEL_REDIRECT", "cache"), ("ML_DATA_SERVICE_MAX_FILE_SIZE", "lots")]
)
def test_bad_service_settings_are_one_line(busy_port, monkeypatch, tmp_path, variable, value):
    """Regression: the service's own settings were read outside the error handling (a traceback)."""
    monkeypatch.setenv("ML_DATA_SERVICE_TOKEN", TOKEN)
    monkeypatch.setenv("ML_DATA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv(variable, value)
    result = CliRunner().invoke(main, ["serve", "--port", str(busy_port)])  # never serves, whatever happens
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert variable in result.output and "ml-data service on" not in result.output


_WITHOUT = """
import sys
sys.modules[{module!r}] = None  # as if the extra were not installed: importing it fails
from ml_data.cli import main
main(["serve"], prog_name="ml-data")
"""


@pytest.mark.parametrize("module", ["flask", "waitress"])
def test_without_the_service_extra_serve_names_the_install(module, tmp_path):
    """Regression: ``serve`` without the extra ended in ``ModuleNotFoundError: flask``."""
    env = {"ML_DATA_SERVICE_TOKEN": TOKEN, "ML_DATA_CACHE_DIR": str(tmp_path / "cache"), "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_WITHOUT.format(module=module))],
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, "PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)},
    )
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        f"Error: the service needs its extra ({module} is not installed): pip install 'ml-data[service]'"
    ]


def test_a_missing_local_file_names_the_url_not_the_folder(settings, tmp_path):
    """Regression: the 404 body said which server folder was searched."""
    root = tmp_path / "secret-place" / "files"
    root.mkdir(parents=True)
    app = create_app(settings.with_changes(local_files_root=root), ServiceSettings(token=TOKEN))
    client = app.test_client()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    for url in ("/data/local-files/?d=missing.txt", "/data/local-files/?d=" + "x" * 300, str(root / "missing.txt")):
        answer = client.get("/v1/resources", query_string={"url": url}, headers=headers)
        assert answer.status_code == 404, url
        message = answer.get_json()["message"]
        assert message == f"no such file [url {url}]"  # the URL asked for, and no other path
    # A prefetch job reports the same.
    started = client.post("/v1/prefetch", json={"urls": ["/data/local-files/?d=" + "x" * 300]}, headers=headers)
    job = wait_for_job(client, started.get_json()["id"], headers, timeout=30)
    assert job["failed"] == 1 and "secret-place" not in json.dumps(job)
