"""A full disk is a typed CacheError naming the folder, and leaves each entry complete or absent,
with no temp file behind: on a real 5 MB tmpfs, and with ENOSPC injected at every step of a write."""

from __future__ import annotations

import base64
import errno
import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ml_data import CacheError, MlDataError, Resolver, Settings
from ml_data.cache import Cache, cache_key
from ml_data.resolvers.parse import parse_ref
from tests.support.disk_faults import Faults, count_steps, temp_files

PAGE = 4096


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 5 MB tmpfs, unmounted afterwards; skipped where mounting is not permitted."""
    mount = shutil.which("mount")
    if mount is None or not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    disk = tmp_path / "disk"
    disk.mkdir()
    done = subprocess.run([mount, "-t", "tmpfs", "-o", "size=5m", "tmpfs", str(disk)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def fill(disk: Path, *, leave_pages: int) -> None:
    """Fill ``disk`` so that exactly ``leave_pages`` pages stay free (tmpfs counts whole pages)."""
    filler = disk / "filler"
    with open(filler, "ab") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    used = os.stat(filler).st_blocks * 512
    os.truncate(filler, used - leave_pages * PAGE)


def assert_complete_or_absent(cache_dir: Path, identity: str, allowed: set[bytes]) -> bytes | None:
    """The entry, read by a fresh process and re-hashed, is one of ``allowed``; or there is none,
    and its folder holds nothing (no file without metadata)."""
    entry = Cache(cache_dir).get(identity, verify="hash")
    if entry is None:
        folder = Cache(cache_dir).entry_dir(cache_key(identity))
        assert not folder.exists() or list(folder.iterdir()) == []
        return None
    content = entry.path.read_bytes()
    assert content in allowed and hashlib.sha256(content).hexdigest() == entry.sha256
    return content


def assert_disk_full_error(exc: BaseException, cache_dir: Path) -> None:
    assert isinstance(exc, CacheError) and isinstance(exc, OSError) and isinstance(exc, MlDataError)
    assert exc.errno == errno.ENOSPC
    assert str(cache_dir) in str(exc) and "full" in str(exc)


def test_a_full_tmpfs_is_a_typed_error_and_leaves_nothing(small_disk):
    """Each free-space level lands the failure in another step: the data file's writes, the flush
    when it is closed, the metadata, and finally enough room."""
    cache_dir = small_disk / "cache"
    outcomes = []
    for leave_pages in range(6):  # the file needs 3 pages and its metadata 1
        fill(small_disk, leave_pages=leave_pages)
        body = os.urandom(10_000)
        uri = "data:application/octet-stream;base64," + base64.b64encode(body).decode()
        try:
            local = Resolver(Settings(cache_dir=cache_dir)).resolve(uri, task_id=7)
        except CacheError as exc:
            assert_disk_full_error(exc, cache_dir)
            assert exc.task_id == 7
            outcomes.append("full")
        else:
            assert local.path.read_bytes() == body
            outcomes.append("ok")
        assert temp_files(cache_dir) == []
        found = assert_complete_or_absent(cache_dir, parse_ref(uri).identity, {body})
        assert (found is not None) == (outcomes[-1] == "ok")
        Cache(cache_dir).clear()
    assert outcomes == ["full"] * 4 + ["ok"] * 2


def test_enospc_at_each_step_of_a_resolve_leaves_the_entry_absent(tmp_path, monkeypatch):
    body = b"0123456789" * 2000  # above the write buffer: the data file is written in several steps
    uri = "data:text/plain;base64," + base64.b64encode(body).decode()
    identity = parse_ref(uri).identity
    steps = count_steps(
        monkeypatch, tmp_path / "probe", lambda: Resolver(Settings(cache_dir=tmp_path / "probe")).resolve(uri)
    )
    assert steps >= 8  # folders, lock, temp file, writes, close, metadata, two renames
    for fail_at in range(1, steps + 1):
        cache_dir = tmp_path / f"cache-{fail_at}"
        resolver = Resolver(Settings(cache_dir=cache_dir))
        with monkeypatch.context() as patch:
            Faults(patch, cache_dir, fail_at)
            with pytest.raises(CacheError) as raised:
                resolver.resolve(uri)
        assert_disk_full_error(raised.value, cache_dir)
        assert temp_files(cache_dir) == [], fail_at
        assert assert_complete_or_absent(cache_dir, identity, {body}) is None, fail_at
        assert resolver.resolve(uri).path.read_bytes() == body  # room again: it works


def test_enospc_at_each_step_of_a_replacement_leaves_old_new_or_nothing(tmp_path, monkeypatch):
    """Writing an entry anew (a changed HTTP file) over a complete one, failing at each step."""
    old, new = b"old content", b"the new content"

    def put(cache: Cache, body: bytes) -> object:
        return cache.put("https://h/x.bin", "x.bin", [body], source="https://h/x.bin", content_type="text/plain")

    probe = tmp_path / "probe"
    put(Cache(probe), old)
    steps = count_steps(monkeypatch, probe, lambda: put(Cache(probe), new))
    assert steps >= 5
    for fail_at in range(1, steps + 1):
        cache_dir = tmp_path / f"cache-{fail_at}"
        put(Cache(cache_dir), old)
        with monkeypatch.context() as patch:
            Faults(patch, cache_dir, fail_at)
            with pytest.raises(CacheError) as raised:
                put(Cache(cache_dir), new)
        assert_disk_full_error(raised.value, cache_dir)
        assert temp_files(cache_dir) == [], fail_at
        assert_complete_or_absent(cache_dir, "https://h/x.bin", {old, new})
        assert put(Cache(cache_dir), new).path.read_bytes() == new  # type: ignore[attr-defined]


def test_a_revalidation_that_meets_a_full_disk_keeps_the_entry(tmp_path, monkeypatch):
    cache = Cache(tmp_path / "cache")
    entry = cache.put("https://h/x.bin", "x.bin", [b"x"], source="https://h/x.bin", etag='"1"')
    steps = count_steps(monkeypatch, cache.root, lambda: cache.mark_validated(entry, etag='"1"'))
    for fail_at in range(1, steps + 1):
        with monkeypatch.context() as patch:
            Faults(patch, cache.root, fail_at)
            with pytest.raises(CacheError) as raised:
                cache.mark_validated(entry, etag='"1"')
        assert_disk_full_error(raised.value, cache.root)
        assert temp_files(cache.root) == []
        assert assert_complete_or_absent(cache.root, "https://h/x.bin", {b"x"}) == b"x"
