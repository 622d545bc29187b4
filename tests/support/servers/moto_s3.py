"""moto's S3 server on 127.0.0.1 (its default host is all interfaces)."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.servers.processes import free_port, running


@contextmanager
def moto_server() -> Iterator[str]:
    """Yield the endpoint URL; the server is stopped by the pid it was started with."""
    executable = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
    port = free_port()
    with running([executable, "-H", "127.0.0.1", "-p", str(port)], port, "moto_server"):
        yield f"http://127.0.0.1:{port}"
