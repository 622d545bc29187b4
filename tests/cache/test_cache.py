"""The cache core: atomic, verified puts; nothing partial is ever a hit."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest

from ml_data import Cache, IncompleteDownload
from ml_data.cache import cache_key, maintenance
from ml_data.fsutil import safe_filename


def entries(cache: Cache) -> list:
    return (
        sorted(p for p in (cache.root / "objects").rglob("*") if p.is_file())
        if (cache.root / "objects").exists()
        else []
    )


def leftovers(cache: Cache) -> list:
    tmp = cache.root / "tmp"
    return list(tmp.iterdir()) if tmp.exists() else []


def test_put_then_get(tmp_path):
    cache = Cache(tmp_path)
    entry = cache.put("https://h/a.jpg", "a.jpg", [b"ab", b"cd"], source="https://h/a.jpg?token=SECRET", etag='"e1"')
    assert entry.path.read_bytes() == b"abcd"
    assert entry.path.name == "a.jpg"
    assert entry.size == 4
    assert entry.sha256 == "88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589"
    assert entry.etag == '"e1"'
    assert "SECRET" not in entry.source
    again = cache.get("https://h/a.jpg")
    assert dataclasses.replace(again, last_accessed=entry.last_accessed) == entry
    assert again.last_accessed >= entry.last_accessed  # a hit counts as a use
    assert entry.path.parent.name == cache_key("https://h/a.jpg")
    assert leftovers(cache) == []


def test_key_is_full_sha256_of_identity():
    assert len(cache_key("x")) == 64
    assert cache_key("x") != cache_key("y")


def test_short_body_is_refused_and_leaves_nothing(tmp_path):
    cache = Cache(tmp_path)
    with pytest.raises(IncompleteDownload, match="received 3 bytes where 10"):
        cache.put("id", "f.bin", [b"abc"], source="https://h/f.bin", expected_size=10)
    assert cache.get("id") is None
    assert entries(cache) == []
    assert leftovers(cache) == []


def test_failing_stream_leaves_nothing(tmp_path):
    cache = Cache(tmp_path)

    def broken():
        yield b"partial"
        raise ConnectionResetError("peer reset")

    with pytest.raises(ConnectionResetError):
        cache.put("id", "f.bin", broken(), source="s")
    assert cache.get("id") is None
    assert entries(cache) == [] and leftovers(cache) == []


def test_file_without_metadata_is_not_a_hit(tmp_path):
    cache = Cache(tmp_path)
    entry = cache.put("id", "f.bin", [b"data"], source="s")
    (entry.path.parent / ".meta.json").unlink()
    assert Cache(tmp_path).get("id") is None  # as any other process sees it


def test_file_whose_size_changed_is_not_a_hit(tmp_path):
    cache = Cache(tmp_path)
    entry = cache.put("id", "f.bin", [b"data"], source="s")
    entry.path.write_bytes(b"dat")  # e.g. truncated by a crash of the filesystem
    assert cache.get("id") is None
    assert Cache(tmp_path).get("id") is None


def test_damaged_metadata_is_not_a_hit(tmp_path):
    cache = Cache(tmp_path)
    entry = cache.put("id", "f.bin", [b"data"], source="s")
    (entry.path.parent / ".meta.json").write_text("{not json")
    assert Cache(tmp_path).get("id") is None


def test_a_process_notices_entries_rewritten_or_removed_by_others(tmp_path):
    mine, other = Cache(tmp_path), Cache(tmp_path)
    mine.put("id", "f.bin", [b"one"], source="s")
    assert mine.get("id").size == 3
    other.put("id", "f.bin", [b"three"], source="s")  # same size would still be a new file
    assert mine.get("id").path.read_bytes() == b"three"
    other.put("id", "f.bin", [b"333"], source="s")
    assert mine.get("id").sha256 == other.get("id").sha256
    other.clear()
    assert mine.get("id") is None


def test_rewrite_replaces_the_old_entry(tmp_path):
    cache = Cache(tmp_path)
    old = cache.put("id", "old.bin", [b"one"], source="s")
    new = cache.put("id", "new.bin", [b"two!"], source="s")
    assert not old.path.exists()
    assert new.path.read_bytes() == b"two!"
    assert sorted(p.name for p in new.path.parent.iterdir()) == [".meta.json", "new.bin"]


def test_metadata_records_what_the_design_says(tmp_path):
    cache = Cache(tmp_path)
    entry = cache.put(
        "https://h/x.jpg",
        "x.jpg",
        [b"x"],
        source="https://h/x.jpg?sig=abc",
        content_type="image/jpeg",
        etag='"1"',
        last_modified="Mon, 01 Jan 2024 00:00:00 GMT",
    )
    meta = json.loads((entry.path.parent / ".meta.json").read_text())
    assert meta["size"] == 1 and meta["sha256"] == entry.sha256
    assert meta["source"] == "https://h/x.jpg?sig=***"
    assert meta["etag"] == '"1"' and meta["last_modified"].startswith("Mon")
    assert meta["content_type"] == "image/jpeg" and meta["created_at"] > 0


def test_unwritable_cache_is_a_cache_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    from ml_data import CacheError

    with pytest.raises(CacheError, match="cannot create cache folder"):
        Cache(blocker / "cache").put("id", "f", [b"x"], source="s")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("x.jpg", "x.jpg"),
        ("../../etc/pass wd.JPG", "etc_pass wd.JPG"),
        (".hidden", "hidden"),
        ("..", "file"),
        ("", "file"),
        ("a\x00b\nc.png", "a_b_c.png"),
        ("con:tent?.txt", "con_tent_.txt"),
        ("猫.jpg", "猫.jpg"),
        ("a" * 300 + ".jpeg", "a" * 115 + ".jpeg"),
        ("é" * 100 + ".png", "é" * 58 + ".png"),
    ],
)
def test_safe_filename(name, expected):
    result = safe_filename(name)
    assert result == expected
    assert len(result.encode()) <= 120


def test_entry_locks_exclude_threads_and_processes_and_die_with_their_holder(tmp_path):
    """The per-entry lock (flock on a lock file): a second holder in this process times out, the
    lock is free once released, and a process killed while holding it does not keep it."""
    import filelock

    cache = Cache(tmp_path / "cache", lock_timeout=0.2)
    key = "ab" + "0" * 62
    with cache._lock(key, 0.2):
        with pytest.raises(filelock.Timeout):
            cache._lock(key, 0.1).acquire()
        assert maintenance.is_locked(cache, key)
    assert not maintenance.is_locked(cache, key)
    lock_path = tmp_path / "cache" / "locks" / "ab" / f"{key}.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR); fcntl.flock(fd, fcntl.LOCK_EX); "
            "print('held', flush=True); time.sleep(60)",
            str(lock_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        assert maintenance.is_locked(cache, key)
    finally:
        holder.kill()
        holder.wait()
    with cache._lock(key, 5.0):  # the kernel released it with the process
        pass
