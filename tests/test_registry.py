"""The table of URL kinds: one row per kind, fetchers imported on first use, a clear error for an
unknown kind and an install hint for a missing extra."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ml_data import MissingDependency, MissingTaskId, Resolver, Settings, UnsupportedURL
from ml_data.resolvers import refs
from ml_data.resolvers.clouds import PROVIDERS
from ml_data.resolvers.clouds import s3 as s3_provider
from ml_data.resolvers.registry import (
    KIND_BY_SCHEME,
    KNOWN_KINDS,
    STORAGE_KIND,
    UrlKind,
    get_fetcher,
    load_fetcher,
)


def test_an_unknown_kind_is_an_error_listing_the_known_ones():
    with pytest.raises(UnsupportedURL) as info:
        get_fetcher("ftp")
    assert "'ftp'" in str(info.value)
    for name in KNOWN_KINDS:
        assert name in str(info.value)


def test_every_row_names_an_importable_fetcher():
    for name in KNOWN_KINDS:
        assert callable(get_fetcher(name))


def test_the_table_is_read_only():
    with pytest.raises(TypeError):
        KNOWN_KINDS["ftp"] = KNOWN_KINDS["http"]  # type: ignore[index]


def test_every_ref_type_and_every_cloud_is_a_row():
    kinds = {cls.kind for cls in (refs.UploadRef, refs.LocalFilesRef, refs.LocalPathRef, refs.HttpRef, refs.DataRef)}
    kinds |= {refs.CloudRef(raw="", scheme=scheme, bucket="b", key="k").kind for scheme in (*PROVIDERS, "b2")}
    assert kinds == set(KNOWN_KINDS)
    for scheme in PROVIDERS:
        row = KNOWN_KINDS[KIND_BY_SCHEME[scheme]]
        assert row.fetcher == "ml_data.resolvers.cloud" and row.extra


def test_a_storage_without_a_client_is_one_row_read_like_the_clouds():
    """Any other storage (b2://) has no SDK extra, the cloud fetcher (through Label Studio), and the
    cloud objects' freshness rule: it may be overwritten under its name."""
    row = KNOWN_KINDS[refs.CloudRef(raw="", scheme="b2", bucket="b", key="k").kind]
    assert row.name == STORAGE_KIND and row.extra is None and not row.schemes
    assert row.fetcher == KNOWN_KINDS["s3"].fetcher and row.immutable is KNOWN_KINDS["s3"].immutable is False


def _fetcher_needing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str, imports: str) -> None:
    (tmp_path / f"{module}.py").write_text(f"import {imports}\n\ndef fetch(ref, resolver, task_id):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))


def test_a_fetcher_whose_sdk_is_missing_says_which_extra_to_install(tmp_path, monkeypatch):
    _fetcher_needing(tmp_path, monkeypatch, "fetcher_with_an_sdk", "an_sdk_that_is_not_installed")
    row = UrlKind("ftp", ("ftp",), "ftp", immutable=False, fetcher="fetcher_with_an_sdk")
    with pytest.raises(MissingDependency) as info:
        load_fetcher(row)
    assert isinstance(info.value, ImportError)
    assert "an_sdk_that_is_not_installed" in str(info.value) and "pip install 'ml-data[ftp]'" in str(info.value)


def test_a_missing_ml_data_module_is_a_bug_not_an_extra(tmp_path, monkeypatch):
    _fetcher_needing(tmp_path, monkeypatch, "fetcher_with_a_typo", "ml_data.no_such_module")
    row = UrlKind("ftp", ("ftp",), "ftp", immutable=False, fetcher="fetcher_with_a_typo")
    with pytest.raises(ModuleNotFoundError) as info:
        load_fetcher(row)
    assert not isinstance(info.value, MissingDependency)


def test_without_boto3_the_s3_client_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "boto3", None)  # as if not installed
    settings = Settings(cache_dir=tmp_path)
    with pytest.raises(MissingDependency, match=r"s3:// objects need boto3: pip install 'ml-data\[s3\]'"):
        s3_provider.client(settings)
    assert not s3_provider.available(settings)
    with pytest.raises(MissingTaskId, match=r"install ml-data\[s3\]"):
        Resolver(settings).resolve("s3://bucket/x.jpg")
