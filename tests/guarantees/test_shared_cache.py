"""A cache folder shared by writers that cannot see each other: separate pid namespaces (as
containers on one volume are), no working locks (as on NFS without a lock manager), and a
cleaner running meanwhile. Every file must be complete and correct; duplicate downloads are
allowed; the cleaner must never delete a live writer's temp file."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import threading
import time

import pytest

from ml_data import Cache

WRITERS = 8
URLS = 200

_WRITER = """
import hashlib, json, sys
from pathlib import Path
from ml_data import Settings, resolve_many
settings = Settings(cache_dir=Path(sys.argv[1]), cache_locking=False, cache_writer_timeout=5.0, retries=2,
                    backoff_factor=0.05)
urls = json.loads(Path(sys.argv[2]).read_text())
result = resolve_many(urls, settings=settings, workers=8, progress=False)
files = {url: hashlib.sha256(local.path.read_bytes()).hexdigest() for url, local in result.files.items()}
print(json.dumps({"errors": {url: repr(error) for url, error in result.errors.items()}, "files": files}))
"""


def _isolated(command: list[str]) -> list[str]:
    """The command in a pid namespace of its own, where this machine allows it."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return command
    probe = subprocess.run([unshare, "--pid", "--fork", "--mount-proc", "true"], capture_output=True)
    return [unshare, "--pid", "--fork", "--mount-proc", *command] if probe.returncode == 0 else command


@pytest.mark.slow
def test_writers_in_separate_pid_namespaces_without_locks_and_a_cleaner(file_server, tmp_path):
    bodies = {f"/f/{n}.bin": hashlib.sha256(str(n).encode()).digest() * 512 for n in range(URLS)}
    for path, body in bodies.items():
        # Sent in four parts a little apart: temp files live long enough to meet the cleaner.
        file_server.add(path, body=body, chunk_size=len(body) // 4, chunk_delay=0.02)
    urls = [file_server.url(path) for path in bodies]
    url_file = tmp_path / "urls.json"
    url_file.write_text(json.dumps(urls))
    cache_dir = tmp_path / "cache"
    command = _isolated([sys.executable, "-c", _WRITER, str(cache_dir), str(url_file)])

    cleaner = Cache(cache_dir, writer_timeout=5.0, locking=False)
    stop = threading.Event()
    cleaned: list[int] = []

    def clean() -> None:
        while not stop.is_set():
            cleaned.append(cleaner.prune().leftovers_removed)
            time.sleep(0.01)

    thread = threading.Thread(target=clean)
    thread.start()
    try:
        writers = [
            subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(WRITERS)
        ]
        outputs = [writer.communicate(timeout=240) for writer in writers]
    finally:
        stop.set()
        thread.join(30)
    expected = {file_server.url(path): hashlib.sha256(body).hexdigest() for path, body in bodies.items()}
    for writer, (out, err) in zip(writers, outputs, strict=True):
        assert writer.returncode == 0, err[-2000:]
        result = json.loads(out.strip().splitlines()[-1])
        assert result["errors"] == {}
        assert result["files"] == expected
    assert len(cleaned) > 10 and sum(cleaned) == 0  # nothing a live writer was writing was removed
    entries = Cache(cache_dir).scan().entries
    assert len(entries) == URLS
    assert all(hashlib.sha256(entry.path.read_bytes()).hexdigest() == entry.sha256 for entry in entries)
    gets = sum(1 for request in file_server.requests if request.method == "GET")
    assert URLS <= gets <= URLS * WRITERS  # duplicates allowed without locks, never a missing file
    assert not list((cache_dir / "tmp").glob("*.part"))
