"""A first look at a cache entry by its seal: two stats, the metadata read only where it decides
something, and every way a file can stop being the one its metadata describes caught."""

from __future__ import annotations

import hashlib
import json
import os
import time

from hypothesis import given
from hypothesis import strategies as st

from ml_data import Cache, Resolver
from ml_data.cache import cache_key
from ml_data.cache.seal import seal_time
from ml_data.fsutil import _cleaned, safe_filename

BODY = b"sealed content " * 300


def _meta_opens(monkeypatch) -> list[str]:  # type: ignore[no-untyped-def]
    """The metadata files opened from now on."""
    opened: list[str] = []
    real_open = os.open

    def recording(path, flags, *args, **kwargs):  # type: ignore[no-untyped-def]
        if os.fspath(path).endswith(".meta.json"):
            opened.append(os.fspath(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", recording)
    return opened


def test_a_new_process_finds_a_cached_file_without_reading_its_metadata(file_server, settings, monkeypatch):
    file_server.add("/a.jpg", body=BODY, headers={"Content-Type": "image/jpeg"})
    url = file_server.url("/a.jpg")
    first = Resolver(settings).resolve(url)
    opened = _meta_opens(monkeypatch)
    found = Resolver(settings).resolve(url)  # a new cache object: nothing remembered
    assert found.path == first.path and found.path.read_bytes() == BODY
    assert opened == []
    # What the metadata holds is read when asked for, and is what the download recorded.
    assert found.content_type == "image/jpeg" and found.sha256 == hashlib.sha256(BODY).hexdigest()
    assert len(opened) == 1
    assert file_server.gets("/a.jpg") == 1


def test_a_data_uri_is_found_by_its_seal(settings, monkeypatch):
    uri = "data:text/plain;base64,aGVsbG8="
    Resolver(settings).resolve(uri)
    opened = _meta_opens(monkeypatch)
    found = Resolver(settings).resolve(uri)
    assert found.path.read_bytes() == b"hello" and opened == []
    assert found.content_type == "text/plain"


def test_a_file_whose_size_changed_loses_its_seal_and_is_downloaded_again(file_server, settings):
    file_server.add("/t.bin", body=BODY)
    url = file_server.url("/t.bin")
    path = Resolver(settings).resolve(url).path
    path.write_bytes(BODY[:100])  # truncated, as by a crash of the file system
    assert seal_time(os.stat(path)) is None
    assert Resolver(settings).resolve(url).path.read_bytes() == BODY
    assert file_server.gets("/t.bin") == 2


def test_a_seal_copied_onto_a_shorter_file_does_not_match_its_size(file_server, settings):
    """Even with the sealed mtime put back by hand, a file of another size is not sealed."""
    file_server.add("/t.bin", body=BODY)
    url = file_server.url("/t.bin")
    path = Resolver(settings).resolve(url).path
    stamp = os.stat(path).st_mtime_ns
    path.write_bytes(BODY[:-1])
    os.utime(path, ns=(stamp, stamp))
    assert Resolver(settings).resolve(url).path.read_bytes() == BODY
    assert file_server.gets("/t.bin") == 2


def test_a_file_without_metadata_is_no_sealed_hit(file_server, settings):
    """Renamed into place, then the process died (or the disk filled) before its metadata."""
    file_server.add("/m.bin", body=BODY)
    url = file_server.url("/m.bin")
    path = Resolver(settings).resolve(url).path
    (path.parent / ".meta.json").unlink()
    assert seal_time(os.stat(path)) is not None
    assert Resolver(settings).resolve(url).path.read_bytes() == BODY
    assert file_server.gets("/m.bin") == 2


def test_an_evicted_entry_is_no_sealed_hit_while_its_file_waits_out_the_grace_period(file_server, settings):
    file_server.add("/e.bin", body=BODY)
    url = file_server.url("/e.bin")
    resolver = Resolver(settings.with_changes(cache_eviction_grace=60.0))
    path = resolver.resolve(url).path
    meta = path.parent / ".meta.json"
    long_ago = time.time() - 3600
    os.utime(meta, (long_ago, long_ago))
    assert len(resolver.cache.prune(max_size=0).removed) == 1
    assert path.exists()  # kept for readers that were handed it
    assert Resolver(settings).cache.sealed(resolver.parse(url).identity, "e.bin") is None
    Resolver(settings).resolve(url)
    assert file_server.gets("/e.bin") == 2


def test_a_stale_mutable_entry_is_revalidated_whatever_its_seal_says(file_server, settings):
    file_server.add("/s.bin", body=BODY, etag='"1"')
    url = file_server.url("/s.bin")
    Resolver(settings).resolve(url)
    Resolver(settings.with_changes(cache_ttl=0.0)).resolve(url)
    assert [r.method for r in file_server.requests if r.path == "/s.bin"] == ["GET", "GET"]
    assert file_server.requests[-1].headers.get("If-None-Match") == '"1"'


def test_a_revalidation_renews_the_seal(tmp_path):
    cache = Cache(tmp_path)
    entry = cache.put("https://h/x.bin", "x.bin", [b"x"], source="https://h/x.bin", etag='"1"')
    old = time.time() - 7200
    os.utime(entry.path, ns=(int(old) * 10**9 + 3, int(old) * 10**9 + 3))  # sealed two hours ago
    updated = cache.mark_validated(entry, etag='"1"')
    sealed = seal_time(os.stat(entry.path))
    assert sealed is not None and sealed == int(updated.validated_at) and sealed > old


def test_a_file_system_with_coarse_times_falls_back_to_the_metadata(file_server, settings, monkeypatch):
    file_server.add("/c.bin", body=BODY)
    url = file_server.url("/c.bin")
    path = Resolver(settings).resolve(url).path
    whole = int(time.time()) * 10**9
    os.utime(path, ns=(whole, whole))  # what a file system keeping whole seconds would store
    opened = _meta_opens(monkeypatch)
    assert Resolver(settings).resolve(url).path.read_bytes() == BODY
    assert len(opened) == 1 and file_server.gets("/c.bin") == 1


def test_metadata_describing_another_file_is_not_believed(tmp_path, settings):
    """A sealed hit whose metadata, read later, no longer matches the file (a rewrite under way,
    a hand edit): no content type, and the sha256 of the file itself."""
    resolver = Resolver(settings.with_changes(cache_dir=tmp_path))
    uri = "data:image/png;base64,aGVsbG8="
    resolver.resolve(uri)
    found = Resolver(settings.with_changes(cache_dir=tmp_path)).resolve(uri)
    meta_path = found.path.parent / ".meta.json"
    meta = json.loads(meta_path.read_text("utf-8"))
    meta["size"], meta["sha256"] = 999, "0" * 64
    meta_path.write_text(json.dumps(meta), "utf-8")
    assert found.content_type is None
    assert found.sha256 == hashlib.sha256(b"hello").hexdigest()


def test_a_commit_renames_the_file_then_a_whole_metadata_file(tmp_path, monkeypatch):
    """The file's rename is the commit; its metadata is written aside and renamed beside it, so
    writers of one entry without locks never interleave into unreadable metadata."""
    cache = Cache(tmp_path)
    cache.put("https://h/warm.bin", "warm.bin", [b"w"], source="s")  # folders made once
    renames: list[str] = []
    created: list[str] = []
    real_replace, real_open = os.replace, os.open

    def replace(src, dst, **kwargs):  # type: ignore[no-untyped-def]
        renames.append(os.fspath(dst))
        return real_replace(src, dst, **kwargs)

    def os_open(path, flags, *args, **kwargs):  # type: ignore[no-untyped-def]
        if flags & os.O_CREAT:
            created.append(os.fspath(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "open", os_open)
    entry = cache.put("https://h/x.bin", "x.bin", [b"content"], source="s")
    assert renames == [str(entry.path), str(entry.path.parent / ".meta.json")]
    assert [path for path in created if path.endswith(".meta")] and not list((tmp_path / "tmp").glob("*.meta"))
    assert sorted(p.name for p in entry.path.parent.iterdir()) == [".meta.json", "x.bin"]
    assert Cache(tmp_path).get("https://h/x.bin").sha256 == entry.sha256
    assert cache_key("https://h/x.bin") == entry.key


@given(st.text(max_size=200))
def test_plain_names_are_left_as_every_rule_would_leave_them(name):
    assert safe_filename(name) == _cleaned(name, "file")
