"""Only one holder of a folder's lease: a live holder blocks others, a silent one is taken over."""

from __future__ import annotations

import os
import time

from ml_data.backend.lease import FolderLease


def test_a_held_lease_is_refused_to_others_and_free_once_released(tmp_path):
    first, second = FolderLease(tmp_path), FolderLease(tmp_path)
    assert first.try_acquire()
    try:
        assert not second.try_acquire()
        holder = first.holder()
        assert holder is not None and holder["pid"] == os.getpid() and holder["host"]
    finally:
        first.release()
    assert not first.lease_path.exists()
    assert second.try_acquire()
    second.release()


def test_a_lease_left_by_a_dead_holder_on_another_host_is_taken_over_only_once_silent(tmp_path):
    """Another host's lock would not be seen here (locks may do nothing on NFS): only its lease is."""
    lease = FolderLease(tmp_path, stale_after=60)
    lease.lease_path.write_text('{"host": "elsewhere", "pid": 1, "token": "theirs"}')
    assert not lease.try_acquire()  # fresh: alive
    old = time.time() - 120
    os.utime(lease.lease_path, (old, old))
    assert lease.try_acquire()
    try:
        assert lease.holder()["token"] != "theirs"
    finally:
        lease.release()


def test_the_holder_keeps_its_lease_fresh(tmp_path):
    lease = FolderLease(tmp_path, stale_after=0.6, heartbeat=0.1)
    assert lease.try_acquire()
    try:
        old = time.time() - 100
        os.utime(lease.lease_path, (old, old))
        deadline = time.monotonic() + 5
        while time.time() - lease.lease_path.stat().st_mtime > 50 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert time.time() - lease.lease_path.stat().st_mtime < 50
        assert not FolderLease(tmp_path, stale_after=60).try_acquire()
    finally:
        lease.release()
