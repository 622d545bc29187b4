"""resolve_many: parallel, deduplicated, one connection pool, per-item errors."""

from __future__ import annotations

import json
import logging

from click.testing import CliRunner

from ml_data import Resolver, UnsupportedURL, resolve_many
from ml_data.cli import main


def test_resolves_everything_in_parallel(file_server, settings):
    for index in range(40):
        file_server.add(f"/f{index}.bin", body=bytes([index]) * 1000)
    urls = [file_server.url(f"/f{index}.bin") for index in range(40)]
    result = resolve_many(urls, workers=8, progress=False, settings=settings)
    assert result.ok and len(result.files) == 40
    assert all(result.files[url].path.read_bytes() == bytes([i]) * 1000 for i, url in enumerate(urls))
    assert len(file_server.requests) == 40


def test_identical_identities_are_fetched_once(file_server, settings):
    file_server.add("/bucket/k.jpg", body=b"k")
    credential = "X-Amz-Credential=AK%2F20260101%2Fus-east-1%2Fs3%2Faws4_request"
    signed = [file_server.url(f"/bucket/k.jpg?{credential}&X-Amz-Signature={s}") for s in "abcdef"]
    result = resolve_many(signed + [signed[0]], workers=4, progress=False, settings=settings)
    assert len(result.files) == 6 and len({f.path for f in result.files.values()}) == 1
    assert file_server.gets("/bucket/k.jpg") == 1


def test_errors_are_reported_per_item_without_stopping_the_rest(file_server, settings):
    file_server.add("/ok.bin", body=b"ok")
    result = resolve_many(
        [file_server.url("/ok.bin"), file_server.url("/missing.bin"), "ftp://nope/x", ("s3://b/k", 7)],
        progress=False,
        settings=settings,
    )
    assert list(result.files) == [file_server.url("/ok.bin")]
    assert set(result.errors) == {file_server.url("/missing.bin"), "ftp://nope/x", "s3://b/k"}
    assert isinstance(result.errors["ftp://nope/x"], UnsupportedURL)
    assert result.errors["s3://b/k"].task_id == 7
    assert not result.ok


def test_connections_are_pooled(file_server, settings):
    for index in range(60):
        file_server.add(f"/p{index}", body=b"x")
    resolve_many([file_server.url(f"/p{index}") for index in range(60)], workers=4, progress=False, settings=settings)
    # 60 requests over keep-alive connections: at most one connection per worker.
    assert len(file_server.connections) <= 4


def test_uses_a_given_resolver(file_server, settings):
    file_server.add("/r.bin", body=b"r")
    resolver = Resolver(settings)
    result = resolve_many([file_server.url("/r.bin")], resolver=resolver, progress=False)
    assert result.files[file_server.url("/r.bin")].path.parent.parent.parent.parent == resolver.cache.root


def test_prefetch_command_with_a_url_list_and_an_export(file_server, tmp_path, monkeypatch):
    monkeypatch.setenv("ML_DATA_CACHE_DIR", str(tmp_path / "cache"))
    file_server.add("/a.bin", body=b"a")
    file_server.add("/b.bin", body=b"b")
    listing = tmp_path / "urls.txt"
    listing.write_text(f"# resources\n{file_server.url('/a.bin')}\n\n{file_server.url('/missing')}\n")
    result = CliRunner().invoke(main, ["prefetch", str(listing), "--json"])
    report = json.loads(result.output)
    assert result.exit_code == 1 and report["resolved"] == 1 and report["failed"] == 1
    assert report["errors"][0]["error"] == "RemoteNotFound"
    export = tmp_path / "export.json"
    export.write_text(json.dumps([{"id": 1, "data": {"image": file_server.url("/b.bin"), "text": "hello"}}]))
    result = CliRunner().invoke(main, ["prefetch", str(export), "--workers", "2"])
    assert result.exit_code == 0 and "1 resolved, 0 failed" in result.output


def test_failures_are_returned_and_logged_as_one_summary_line(file_server, settings, caplog):
    """Regression: an unexpected failure was logged with its traceback at ERROR and returned too,
    so a backend that reports the returned errors printed it twice."""
    file_server.add("/ok.bin", body=b"ok")

    class FullDisk(Resolver):
        def resolve(self, url, **kwargs):  # type: ignore[no-untyped-def]
            if url.endswith("/disk.bin"):
                raise OSError(28, "No space left on device")
            return super().resolve(url, **kwargs)

    urls = [file_server.url("/ok.bin"), file_server.url("/missing.bin"), "ftp://nope/x", file_server.url("/disk.bin")]
    caplog.set_level(logging.DEBUG, logger="ml_data")
    result = resolve_many(urls, resolver=FullDisk(settings), progress=False)
    assert set(result.errors) == set(urls[1:]) and list(result.files) == urls[:1]
    ours = [record for record in caplog.records if record.name.startswith("ml_data")]
    assert [record.getMessage() for record in ours if record.levelno >= logging.WARNING] == ["3 of 4 URLs failed"]
    (unexpected,) = [record for record in ours if record.getMessage().startswith("unexpected error")]
    assert unexpected.levelno == logging.DEBUG and unexpected.exc_info is not None
