from __future__ import annotations

from pathlib import Path

import pytest

from ml_data import ConfigurationError, Settings
from ml_data.config import parse_size


def test_defaults_without_environment(tmp_path):
    settings = Settings.from_env({"XDG_CACHE_HOME": str(tmp_path)})
    assert settings.label_studio_url is None
    assert settings.api_key is None
    assert settings.cache_dir == tmp_path / "ml-data"
    assert settings.connect_timeout == 5.0
    assert settings.read_timeout == 60.0


def test_every_variable_and_its_alias():
    env = {
        "LABEL_STUDIO_HOST": "https://ls.example/",
        "LABEL_STUDIO_ACCESS_TOKEN": "abc123",
        "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT": "/srv/data",
        "ML_DATA_UPLOAD_DIR": "/srv/media/upload",
        "ML_DATA_LOCAL_ROOTS": "/a:/b",
        "ML_DATA_CACHE_DIR": "/tmp/c",
        "ML_DATA_CACHE_MAX_SIZE": "20GB",
        "ML_DATA_TIMEOUT": "7.5",
        "ML_DATA_CONNECT_TIMEOUT": "1",
        "ML_DATA_RETRIES": "0",
        "ML_DATA_VERIFY_SSL": "false",
    }
    settings = Settings.from_env(env)
    assert settings.label_studio_url == "https://ls.example"
    assert settings.api_key == "abc123"
    assert settings.local_files_root == Path("/srv/data")
    assert settings.upload_dir == Path("/srv/media/upload")
    assert settings.extra_local_roots == (Path("/a"), Path("/b"))
    assert settings.cache_dir == Path("/tmp/c")
    assert settings.cache_max_size == 20 * 1000**3
    assert (settings.read_timeout, settings.connect_timeout, settings.retries) == (7.5, 1.0, 0)
    assert settings.verify_ssl is False


def test_primary_names_win_over_aliases():
    settings = Settings.from_env(
        {
            "LABEL_STUDIO_URL": "http://a:8080",
            "LABEL_STUDIO_HOST": "http://b:8080",
            "LABEL_STUDIO_API_KEY": "one",
            "LABEL_STUDIO_ACCESS_TOKEN": "two",
            "LOCAL_FILES_DOCUMENT_ROOT": "/x",
            "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT": "/y",
        }
    )
    assert (settings.label_studio_url, settings.api_key, settings.local_files_root) == (
        "http://a:8080",
        "one",
        Path("/x"),
    )


def test_token_never_in_repr():
    settings = Settings(label_studio_url="http://ls:8080", api_key="very-secret-token")
    assert "very-secret-token" not in repr(settings)


def test_settings_are_frozen_and_hashable():
    settings = Settings()
    with pytest.raises(AttributeError):
        settings.read_timeout = 1  # type: ignore[misc]
    assert hash(settings) == hash(Settings())
    changed = settings.with_changes(read_timeout=3.0)
    assert changed.read_timeout == 3.0 and settings.read_timeout == 60.0


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LABEL_STUDIO_URL": "ls.example:8080"}, "scheme"),
        ({"LABEL_STUDIO_URL": "ftp://ls"}, "scheme"),
        ({"LABEL_STUDIO_URL": "http://[ls:8080"}, "scheme"),  # urlsplit's bare ValueError, once
        ({"ML_DATA_TIMEOUT": "soon"}, "ML_DATA_TIMEOUT"),
        ({"ML_DATA_TIMEOUT": "-1"}, "positive"),
        ({"ML_DATA_RETRIES": "many"}, "ML_DATA_RETRIES"),
        ({"ML_DATA_CACHE_MAX_SIZE": "big"}, "size"),
        ({"ML_DATA_VERIFY_SSL": "maybe"}, "ML_DATA_VERIFY_SSL"),
    ],
)
def test_bad_values_are_configuration_errors(env, message):
    with pytest.raises(ConfigurationError, match=message) as info:
        Settings.from_env(env)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1024", 1024), ("20GB", 20_000_000_000), ("512MiB", 512 * 2**20), ("1.5 gb", 1_500_000_000), ("3k", 3000)],
)
def test_parse_size(text, expected):
    assert parse_size(text) == expected


def test_proxies_and_ca_bundle_are_read_once():
    settings = Settings.from_env(
        {
            "HTTPS_PROXY": "http://upper:3128",
            "https_proxy": "http://lower:3128",
            "http_proxy": "http://plain:3128",
            "no_proxy": "localhost,127.0.0.1",
            "REQUESTS_CA_BUNDLE": "/etc/ssl/corp.pem",
        }
    )
    assert dict(settings.proxies) == {"https": "http://lower:3128", "http": "http://plain:3128"}
    assert settings.no_proxy == "localhost,127.0.0.1"
    assert settings.ca_bundle == "/etc/ssl/corp.pem"


def test_from_env_sees_a_changed_variable_on_the_next_call(monkeypatch, tmp_path):
    """Settings from os.environ are remembered per value of every variable they depend on."""
    monkeypatch.setenv("ML_DATA_CACHE_DIR", str(tmp_path / "one"))
    first = Settings.from_env()
    assert Settings.from_env() is first  # remembered
    monkeypatch.setenv("ML_DATA_CACHE_DIR", str(tmp_path / "two"))
    assert Settings.from_env().cache_dir == tmp_path / "two"
    monkeypatch.setenv("https_proxy", "http://127.0.0.1:3128")
    assert dict(Settings.from_env().proxies) == {"https": "http://127.0.0.1:3128"}


def test_every_variable_settings_read_is_part_of_the_memo_key():
    import inspect
    import re

    from ml_data import config

    source = inspect.getsource(config.Settings.read)
    read = set(
        re.findall(r'"((?:ML_DATA|LABEL_STUDIO|LOCAL_FILES|AWS|REQUESTS|CURL)_[A-Z0-9_]+|[A-Z]+_[A-Z_]*)"', source)
    )
    read |= set(config.CLOUD_VARIABLES) | set(config.PROXY_VARIABLES) | {"XDG_CACHE_HOME", "HOME"}
    assert read <= set(config.ENV_NAMES), read - set(config.ENV_NAMES)
