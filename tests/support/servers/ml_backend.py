"""A real ML backend (label-studio-ml's app, tests/support/servers/ml_backend_app.py) on 127.0.0.1.

scripts/install-ml-backend.sh installs label-studio-ml into .cache/ml-backend-venv (its Flask and
Werkzeug pins differ from ml-data's); the backend runs there with this source tree on its
PYTHONPATH, so it reads files through the ml-data under test.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.support.servers.processes import free_port

REPO = Path(__file__).resolve().parents[3]
APP = Path(__file__).with_name("ml_backend_app.py")


@dataclass(frozen=True)
class MLBackendServer:
    url: str
    log: Path

    def requests(self) -> list[dict]:
        """Every request the backend received: path, headers and body."""
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]


def python() -> Path:
    """The backend's interpreter: $ML_DATA_TEST_ML_BACKEND_PYTHON, else the install script's venv."""
    configured = os.environ.get("ML_DATA_TEST_ML_BACKEND_PYTHON")
    path = Path(configured) if configured else REPO / ".cache" / "ml-backend-venv" / "bin" / "python"
    if not path.exists():
        raise RuntimeError(f"the ML backend is not installed at {path}: run bash scripts/install-ml-backend.sh")
    return path


@contextmanager
def ml_backend(
    workdir: Path, env: dict[str, str], *, delay: float = 0.0, timeout: float = 60.0
) -> Iterator[MLBackendServer]:
    """The backend on a free loopback port until the block ends; ``env`` is its ml-data settings
    (LABEL_STUDIO_URL, LABEL_STUDIO_API_KEY, ML_DATA_CACHE_DIR, ...)."""
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "requests.jsonl"
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(workdir),
        "PYTHONPATH": str(REPO),
        "PYTHONUNBUFFERED": "1",
        "ML_BACKEND_LOG": str(log),
        "ML_BACKEND_DELAY": str(delay),
        **env,
    }
    url = f"http://127.0.0.1:{port}"
    with open(workdir / "ml-backend.log", "ab") as output:
        process = subprocess.Popen(
            [str(python()), str(APP), str(port), str(workdir / "models")],
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=environment,
            cwd=workdir,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the ML backend exited with {process.returncode}; see {workdir / 'ml-backend.log'}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the ML backend did not start in {timeout:.0f} s")
            try:
                if requests.get(f"{url}/health", timeout=2).json().get("status") == "UP":
                    break
            except (requests.RequestException, ValueError):
                pass
            time.sleep(0.2)
        log.unlink(missing_ok=True)  # the health checks are not what a test asks about
        yield MLBackendServer(url, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
