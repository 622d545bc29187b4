"""Limits, eviction, scan, verify, prune, clear and crash leftovers."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from ml_data import Cache, Settings
from ml_data.cache import cache_key, maintenance
from ml_data.cli import main
from ml_data.errors import CacheError


def fill(cache: Cache, count: int, size: int = 1000, start: int = 0) -> list[str]:
    identities = []
    for index in range(start, start + count):
        identity = f"https://h/{index}.bin"
        cache.put(identity, f"{index}.bin", [bytes([index % 256]) * size], source=identity)
        identities.append(identity)
    return identities


def age(cache: Cache, identity: str, seconds: float) -> None:
    """Pretend the entry was last used ``seconds`` ago."""
    meta = cache.entry_dir(cache_key(identity)) / ".meta.json"
    stamp = time.time() - seconds
    os.utime(meta, (stamp, stamp))


def test_put_over_the_limit_evicts_least_recently_used(tmp_path):
    cache = Cache(tmp_path, max_size=5000, grace_seconds=0)
    identities = fill(cache, 5)
    for offset, identity in enumerate(identities):
        age(cache, identity, 100 - offset)  # 0 is the oldest
    cache.get(identities[0])  # ... but it was just used
    fill(cache, 1, start=5)
    remaining = {entry.identity for entry in cache.scan().entries}
    assert identities[1] not in remaining  # the least recently used one went
    assert identities[0] in remaining
    assert cache.scan().size <= 5000


def test_entries_used_within_the_grace_period_are_not_evicted(tmp_path):
    cache = Cache(tmp_path, max_size=2000, grace_seconds=60)
    fill(cache, 5)
    report = cache.evict()
    assert report.removed == () and report.kept_busy == 5
    assert len(cache.scan().entries) == 5  # over the limit, but everything is in use


def test_an_entry_being_written_is_not_evicted(tmp_path):
    cache = Cache(tmp_path, grace_seconds=0)
    (busy,) = fill(cache, 1)
    age(cache, busy, 1000)
    with cache.locked(busy):
        report = cache.prune(max_size=0)
    assert report.removed == () and report.kept_busy == 1
    assert cache.get(busy) is not None


def test_prune_by_age_and_size(tmp_path):
    cache = Cache(tmp_path, grace_seconds=0)
    old, recent, newest = fill(cache, 3)
    age(cache, old, 40 * 86400)
    age(cache, recent, 10)
    report = cache.prune(older_than=30 * 86400)
    assert [entry.identity for entry in report.removed] == [old]
    report = cache.prune(max_size=1000)
    assert [entry.identity for entry in report.removed] == [recent]
    assert [entry.identity for entry in cache.scan().entries] == [newest]
    assert report.freed == 1000


def test_scan_returns_frozen_entries(tmp_path):
    cache = Cache(tmp_path)
    fill(cache, 3, size=10)
    info = cache.scan()
    assert len(info.entries) == 3 and info.size == 30 and info.root == tmp_path
    with pytest.raises(AttributeError):
        info.entries[0].size = 1  # type: ignore[misc]


def test_verify_finds_and_fixes_a_flipped_byte(tmp_path):
    cache = Cache(tmp_path)
    good, bad = fill(cache, 2)
    path = cache.get(bad).path
    data = bytearray(path.read_bytes())
    data[10] ^= 1
    path.write_bytes(bytes(data))
    report = cache.verify()
    assert report.checked == 2 and [c.key for c in report.corrupt] == [cache_key(bad)] and report.removed == 0
    fixed = cache.verify(fix=True)
    assert fixed.removed == 1
    assert cache.get(bad) is None and cache.get(good) is not None


def test_clear_removes_everything_not_in_use(tmp_path):
    cache = Cache(tmp_path)
    first, second = fill(cache, 2)
    with cache.locked(second):
        report = cache.clear()
    assert len(report.removed) == 1 and report.kept_busy == 1
    assert cache.get(first) is None and cache.get(second) is not None


def test_leftovers_are_judged_by_their_heartbeat_not_by_their_pid(tmp_path):
    """Regression: a temp file whose pid is not alive here (another container on the same cache
    volume) was deleted while its writer was still downloading."""
    cache = Cache(tmp_path, writer_timeout=60.0)
    fill(cache, 1)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    tmp = tmp_path / "tmp"
    silent_part = tmp / f"{'a' * 16}.other-host.{os.getpid()}.0123.part"
    live_part = tmp / f"{'b' * 16}.other-host.{dead_pid}.4567.part"
    silent_part.write_bytes(b"partial")
    live_part.write_bytes(b"in progress")
    long_ago = time.time() - 3600
    os.utime(silent_part, (long_ago, long_ago))
    orphan = cache.entry_dir("c" * 64)
    orphan.mkdir(parents=True)
    (orphan / "x.bin").write_bytes(b"file without metadata")
    being_committed = cache.entry_dir("d" * 64)
    being_committed.mkdir(parents=True)
    (being_committed / "y.bin").write_bytes(b"renamed in, metadata not yet written")
    for path in (orphan / "x.bin", orphan):
        os.utime(path, (long_ago, long_ago))
    info = cache.scan()
    assert set(info.leftovers) == {silent_part, orphan}
    report = cache.prune()
    assert report.leftovers_removed == 2
    assert not silent_part.exists() and not orphan.exists()
    assert live_part.exists() and (being_committed / "y.bin").exists()
    assert len(cache.scan().entries) == 1


def test_a_writer_whose_temp_file_was_removed_fails_with_a_typed_error(tmp_path):
    cache = Cache(tmp_path)
    with cache.pending("https://h/x.bin") as pending:
        pending.write(b"abc")
        pending.path.unlink()
        with pytest.raises(CacheError, match="removed from the cache"):
            pending.commit("x.bin", source="https://h/x.bin", expected_size=3)
    assert cache.get("https://h/x.bin") is None


def test_a_slow_writer_keeps_its_heartbeat(tmp_path, monkeypatch):
    from ml_data.cache import pending

    monkeypatch.setattr(pending, "HEARTBEAT_SECONDS", 0.0)
    cache = Cache(tmp_path, writer_timeout=60.0)
    with cache.pending("https://h/slow.bin") as pending:
        pending.write(b"a")
        long_ago = time.time() - 3600
        os.utime(pending.path, (long_ago, long_ago))
        pending.write(b"b")  # a write refreshes the heartbeat
        assert time.time() - pending.path.stat().st_mtime < 60
        assert pending.path not in cache.scan().leftovers


# -- the command line ---------------------------------------------------------------------------


@pytest.fixture
def cli_cache(tmp_path, monkeypatch) -> Cache:
    monkeypatch.setenv("ML_DATA_CACHE_DIR", str(tmp_path / "cache"))
    cache = Cache(tmp_path / "cache", grace_seconds=0)
    fill(cache, 3)
    return cache


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_cache_info(cli_cache):
    result = run("cache", "info", "--json")
    assert result.exit_code == 0
    assert '"entries": 3' in result.output and '"bytes": 3000' in result.output


def test_cache_ls_json(cli_cache):
    result = run("cache", "ls", "--json")
    assert result.exit_code == 0 and len(result.output.splitlines()) == 3
    assert "https://h/0.bin" in result.output


def test_cache_verify_exit_status(cli_cache):
    assert run("cache", "verify").exit_code == 0
    path = cli_cache.scan().entries[0].path
    path.write_bytes(b"\xff" * 1000)
    result = run("cache", "verify")
    assert result.exit_code == 1 and "corrupt:" in result.output
    result = run("cache", "verify", "--fix")
    assert result.exit_code == 0 and "1 removed" in result.output
    assert len(cli_cache.scan().entries) == 2


def test_cache_prune_and_clear(cli_cache, monkeypatch):
    monkeypatch.setenv("ML_DATA_CACHE_GRACE", "0")
    for entry in cli_cache.scan().entries:
        age(cli_cache, entry.identity, 100)
    result = run("cache", "prune", "--max-size", "2KB")
    assert result.exit_code == 0 and "removed 1 entries" in result.output
    assert run("cache", "prune", "--older-than", "soon").exit_code == 2
    result = run("cache", "clear", "--yes")
    assert result.exit_code == 0 and "removed 2 entries" in result.output
    assert cli_cache.scan().entries == ()


def test_limit_from_settings_reaches_the_resolver(tmp_path):
    from ml_data import Resolver

    resolver = Resolver(Settings.from_env({"ML_DATA_CACHE_DIR": str(tmp_path), "ML_DATA_CACHE_MAX_SIZE": "1MB"}))
    assert resolver.cache.max_size == 1_000_000


def test_an_evicted_file_outlives_its_entry_by_one_grace_period(tmp_path):
    cache = Cache(tmp_path, grace_seconds=0.3)
    (identity,) = fill(cache, 1)
    path = cache.get(identity).path
    age(cache, identity, 100)
    assert len(cache.prune(max_size=0).removed) == 1
    assert cache.get(identity) is None and Cache(tmp_path).get(identity) is None  # a miss everywhere
    assert path.exists()  # a reader handed the path just before can still open it
    assert cache.prune().leftovers_removed == 0
    time.sleep(0.35)
    assert cache.prune().leftovers_removed == 1
    assert not path.exists()


def test_a_leftover_downloaded_again_meanwhile_is_kept(tmp_path):
    cache = Cache(tmp_path, grace_seconds=0.05)
    (identity,) = fill(cache, 1)
    age(cache, identity, 100)
    cache.prune(max_size=0)
    time.sleep(0.06)
    leftovers = cache.scan().leftovers
    assert len(leftovers) == 1
    fill(cache, 1)  # another process downloads it again before the cleanup runs
    assert maintenance.clean_leftovers(cache, leftovers) == 0
    assert cache.get(identity) is not None
