"""ML_DATA_CACHE_VERIFY=hash holds for every kind of URL with cache entries: a damaged entry is
discarded and made again (or, when it cannot be, an error), never handed out. The clouds are in
the contract suite (test_cloud_contract.py)."""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

import pytest

from ml_data import NotFound, Resolver
from ml_data.service import ServiceSettings, create_app

BODY = b"0123456789" * 100
DATA = "data:application/octet-stream;base64,MDEyMzQ1Njc4OQ=="  # b"0123456789"
RESOLVERS = Path(__file__).resolve().parents[2] / "ml_data" / "resolvers"


def damage(path: Path) -> None:
    """Flip one byte: the size stays, so only a hash can tell."""
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 0xFF
    path.write_bytes(bytes(content))


def test_a_damaged_data_uri_entry_is_decoded_again(settings):
    verifying = Resolver(settings.with_changes(cache_verify="hash"))
    first = verifying.resolve(DATA)
    damage(first.path)
    again = Resolver(settings.with_changes(cache_verify="hash")).resolve(DATA)
    assert again.path.read_bytes() == b"0123456789"
    assert again.sha256 == hashlib.sha256(b"0123456789").hexdigest()
    # the same resolver, whose process remembers the entry, checks it too
    damage(again.path)
    assert verifying.resolve(DATA).path.read_bytes() == b"0123456789"


def test_the_service_never_serves_a_damaged_data_uri_entry_under_its_old_etag(settings):
    app = create_app(settings.with_changes(cache_verify="hash"), ServiceSettings(token="t"))
    client = app.test_client()
    auth = {"Authorization": "Bearer t"}
    first = client.get(f"/v1/resources?url={DATA}", headers=auth)
    path = Path(client.get(f"/v1/resources?url={DATA}&as=path", headers=auth).get_json()["path"])
    damage(path)
    second = client.get(f"/v1/resources?url={DATA}", headers=auth)
    assert second.status_code == 200 and second.data == b"0123456789"
    assert second.headers["ETag"] == first.headers["ETag"] == f'"{hashlib.sha256(second.data).hexdigest()}"'


def test_a_damaged_http_entry_is_downloaded_again(file_server, settings):
    file_server.add("/w.bin", body=BODY)
    verifying = Resolver(settings.with_changes(cache_verify="hash"))
    damage(verifying.resolve(file_server.url("/w.bin")).path)
    assert verifying.resolve(file_server.url("/w.bin")).path.read_bytes() == BODY
    assert file_server.gets("/w.bin") == 2


def test_a_damaged_entry_that_cannot_be_downloaded_again_is_an_error(file_server, settings):
    file_server.add("/w.bin", body=BODY)
    verifying = Resolver(settings.with_changes(cache_verify="hash"))
    damage(verifying.resolve(file_server.url("/w.bin")).path)
    with pytest.raises(NotFound):
        verifying.without_downloads().resolve(file_server.url("/w.bin"))


def test_fetchers_read_the_cache_only_through_the_resolver():
    """``Resolver.cached`` applies the verify setting; a fetcher calling ``cache.get`` itself
    would skip it (as the data: fetcher once did)."""
    for path in RESOLVERS.glob("*.py"):
        if path.name == "resolver.py":
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
                owner = ast.unparse(node.func.value)
                assert not owner.endswith("cache"), f"{path.name}:{node.lineno} reads the cache directly"
