"""A real Label Studio (from PyPI, in its own virtual environment) on 127.0.0.1 for the session.

``scripts/install-label-studio.sh`` installs it into ``.cache/label-studio-venv``. The first start
runs the database migrations (about a minute); the migrated data folder is kept in ``.cache`` as a
template, and each session starts from a copy of it in a few seconds.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.support.servers.processes import free_port

VERSION = "1.23.2"
REPO = Path(__file__).resolve().parents[3]
USERNAME = "ml-data@example.com"
PASSWORD = "ml-data-test-password"
LEGACY_TOKEN = "ml-data-test-legacy-token-0123456789"
#: Variables Label Studio reads under bare names too (its get_env tries NAME after LABEL_STUDIO_NAME).
_STRAY = ("USERNAME", "PASSWORD", "PORT", "HOST", "USER_TOKEN", "DATA_DIR", "DATABASE_NAME")


@dataclass(frozen=True)
class LabelStudioServer:
    url: str
    legacy_token: str
    data_dir: Path
    document_root: Path
    log: Path


def executable() -> Path:
    """The label-studio command: $ML_DATA_TEST_LABEL_STUDIO, else the one the install script made."""
    configured = os.environ.get("ML_DATA_TEST_LABEL_STUDIO")
    path = Path(configured) if configured else REPO / ".cache" / "label-studio-venv" / "bin" / "label-studio"
    if not path.exists():
        raise RuntimeError(f"Label Studio is not installed at {path}: run bash scripts/install-label-studio.sh")
    return path


def _environment(data_dir: Path, document_root: Path, port: int) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("LABEL_STUDIO_", "HEARTEX_", "ML_DATA_", "AWS_", "AZURE_", "GOOGLE_"))
        and name not in _STRAY
    }
    env.update(
        {
            "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir),
            "LABEL_STUDIO_USERNAME": USERNAME,
            "LABEL_STUDIO_PASSWORD": PASSWORD,
            "LABEL_STUDIO_USER_TOKEN": LEGACY_TOKEN,
            "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
            "LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED": "true",
            "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT": str(document_root),
            "LABEL_STUDIO_HOST": f"http://127.0.0.1:{port}",
            "SENTRY_DSN": "",
            "FRONTEND_SENTRY_DSN": "",
            "LATEST_VERSION_CHECK": "false",
            "COLLECT_ANALYTICS": "false",
            "DEBUG": "false",
            "PYTHONUNBUFFERED": "1",
            # The suite's ML backend and webhook receivers listen on 127.0.0.1, which Label Studio
            # refuses by default (both settings are its guard against requests to private addresses).
            "ML_BLOCK_LOCAL_IP": "false",
            "SSRF_PROTECTION_ENABLED": "false",
        }
    )
    return env


@contextmanager
def _process(data_dir: Path, document_root: Path, log: Path, *, timeout: float) -> Iterator[str]:
    """Start Label Studio on a free loopback port; yield its URL once /health/ answers UP."""
    port = free_port()
    command = [
        str(executable()),
        "start",
        "--no-browser",
        "--internal-host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--username",
        USERNAME,
        "--password",
        PASSWORD,
        "--user-token",
        LEGACY_TOKEN,
        "--enable-legacy-api-token",
    ]
    url = f"http://127.0.0.1:{port}"
    with open(log, "ab") as log_file:
        # Its own process group: the server may start children, all stopped with it.
        process = subprocess.Popen(
            command,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=_environment(data_dir, document_root, port),
            cwd=data_dir,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"Label Studio exited with {process.returncode}; see {log}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Label Studio did not become ready in {timeout:.0f} s; see {log}")
            try:
                answer = requests.get(f"{url}/health/", timeout=2)
                if answer.ok and answer.json().get("status") == "UP":
                    break
            except (requests.RequestException, ValueError):
                pass
            time.sleep(0.5)
        yield url
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _template(cache: Path, document_root: Path) -> Path:
    """A data folder with the migrations applied and the user created (made once, then reused)."""
    template = cache / f"label-studio-data-{VERSION}"
    if (template / "label_studio.sqlite3").exists():
        return template
    building = cache / f".label-studio-data-{VERSION}.building-{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    with _process(building, document_root, cache / "label-studio-migrate.log", timeout=600):
        pass
    shutil.rmtree(building / "export", ignore_errors=True)
    shutil.rmtree(template, ignore_errors=True)
    building.rename(template)
    return template


@contextmanager
def label_studio(workdir: Path) -> Iterator[LabelStudioServer]:
    """A running Label Studio with its own data folder and Local Files document root under ``workdir``."""
    cache = REPO / ".cache"
    cache.mkdir(exist_ok=True)
    document_root = workdir / "document-root"
    document_root.mkdir(parents=True, exist_ok=True)
    data_dir = workdir / "label-studio-data"
    shutil.copytree(_template(cache, document_root), data_dir)
    log = workdir / "label-studio.log"
    with _process(data_dir, document_root, log, timeout=300) as url:
        yield LabelStudioServer(url, LEGACY_TOKEN, data_dir, document_root, log)
