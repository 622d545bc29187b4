"""moto's S3 server on 127.0.0.1 (its default host is all interfaces)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.servers.processes import free_port, running


@contextmanager
def moto_server() -> Iterator[str]:
    """Yield the endpoint URL; the server is stopped by the pid it was started with."""
    port = free_port()
    # moto's server, with S3's name for the answer to CompleteMultipartUpload (see moto_main.py)
    command = [sys.executable, "-m", "tests.support.servers.moto_main", "-H", "127.0.0.1", "-p", str(port)]
    root = str(Path(__file__).resolve().parents[3])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    with running(command, port, "moto_server", env=env):
        yield f"http://127.0.0.1:{port}"
