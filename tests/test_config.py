from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from ml_data import ConfigurationError, Settings, config
from ml_data.parsing import parse_size
from ml_data.service.config import ServiceSettings
from ml_data.settings_table import table, variable_names


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


class _Recording(dict):
    """An environment that notes every variable looked up in it."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.looked_up: set[str] = set()

    def get(self, key, default=None):
        self.looked_up.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.looked_up.add(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        self.looked_up.add(key)
        return super().__contains__(key)


def test_every_variable_settings_read_is_part_of_the_memo_key():
    """ENV_NAMES is the key of the from_env memo: a variable read but missing from it would be
    seen once and then ignored, whatever its later values."""
    environ = _Recording({"HTTPS_PROXY": "http://127.0.0.1:3128", "AWS_PROFILE": "p"})
    Settings.read(environ)
    assert environ.looked_up, "the recording saw nothing"
    assert environ.looked_up <= set(config.ENV_NAMES), environ.looked_up - set(config.ENV_NAMES)
    assert set(variable_names(Settings)) <= set(config.ENV_NAMES)
    assert len(set(config.ENV_NAMES)) == len(config.ENV_NAMES)


@pytest.mark.parametrize(
    ("cls", "row"),
    [(cls, row) for cls in (Settings, ServiceSettings) for row in table(cls)],
    ids=lambda item: getattr(item, "name", getattr(item, "__name__", "")),
)
def test_an_empty_variable_counts_as_unset(cls, row, tmp_path):
    """``FOO=`` (as a compose file passes an optional variable) means the default, for every row."""
    read = Settings.read if cls is Settings else ServiceSettings.from_env
    base = {"XDG_CACHE_HOME": str(tmp_path)}
    empty = read({**base, **dict.fromkeys(row.variables, "")})
    assert getattr(empty, row.name) == getattr(read(base), row.name)


#: For each row with aliases, a valid text per variable (its index makes each one different).
_SAMPLES = {
    "label_studio_url": ("http://ls{}:8080", lambda value: value),
    "api_key": ("token-{}", lambda value: value),
    "local_files_root": ("/srv/data{}", Path),
    "ca_bundle": ("/etc/ssl/ca{}.pem", lambda value: value),
    "s3_endpoint_url": ("http://s3-{}.test", lambda value: value),
}


def test_every_row_with_aliases_has_a_sample():
    assert {row.name for row in table(Settings) if len(row.variables) > 1} == set(_SAMPLES)


@given(data=st.data())
@hypothesis_settings(max_examples=60, deadline=None)
def test_the_first_variable_set_wins(data):
    """Aliases follow the main name: whichever are set, empty or not, the first non-empty one is read."""
    for row in table(Settings):
        if row.name not in _SAMPLES:
            continue
        pattern, expected = _SAMPLES[row.name]
        states = data.draw(
            st.lists(
                st.sampled_from(["unset", "empty", "set"]), min_size=len(row.variables), max_size=len(row.variables)
            ),
            label=row.name,
        )
        environ = {"XDG_CACHE_HOME": "/tmp/unused"}
        for index, (name, state) in enumerate(zip(row.variables, states, strict=True)):
            if state != "unset":
                environ[name] = pattern.format(index) if state == "set" else ""
        first = next((index for index, state in enumerate(states) if state == "set"), None)
        value = getattr(Settings.read(environ), row.name)
        assert value == (None if first is None else expected(pattern.format(first)))


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ML_DATA_CONNECT_TIMEOUT": "0"}, "ML_DATA_CONNECT_TIMEOUT must be positive, got '0'"),
        ({"ML_DATA_TIMEOUT": "soon"}, "ML_DATA_TIMEOUT must be a number of seconds, got 'soon'"),
        ({"ML_DATA_RETRIES": "-1"}, "ML_DATA_RETRIES must be a whole number, got '-1'"),
        ({"ML_DATA_CACHE_LOCKS": "nope"}, "ML_DATA_CACHE_LOCKS must be true or false, got 'nope'"),
        ({"ML_DATA_CACHE_TTL": "1y"}, "ML_DATA_CACHE_TTL: not a duration: '1y' (use e.g. 30d, 12h, 15m, 45s)"),
        ({"ML_DATA_MAX_FILE_SIZE": "0"}, "the file size limit and the download deadline must be positive"),
        ({"ML_DATA_CACHE_VERIFY": "md5"}, "cache verify policy must be 'size' or 'hash', got 'md5'"),
    ],
)
def test_bad_values_name_their_variable(env, message):
    with pytest.raises(ConfigurationError) as info:
        Settings.from_env(env)
    assert str(info.value) == message


def test_service_settings_are_read_from_their_table(tmp_path):
    service = ServiceSettings.from_env(
        {
            "ML_DATA_SERVICE_TOKEN": "secret-token",
            "ML_DATA_SERVICE_ALLOW": " https://cdn.example.com/ , s3://bucket,, ",
            "ML_DATA_SERVICE_DATASETS_DIR": str(tmp_path),
            "ML_DATA_SERVICE_MAX_FILE_SIZE": "1MB",
            "ML_DATA_ACCEL_REDIRECT": "/_ml_data_cache",
        }
    )
    assert service.allow == ("https://cdn.example.com", "s3://bucket")
    assert (service.token, service.datasets_dir, service.max_file_size) == ("secret-token", tmp_path, 1_000_000)
    assert service.accel_redirect == "/_ml_data_cache/"
    assert "secret-token" not in repr(service)
    with pytest.raises(ConfigurationError, match="not a size"):
        ServiceSettings.from_env({"ML_DATA_SERVICE_MAX_FILE_SIZE": "huge"})


def _readme_settings_section() -> str:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text("utf-8")
    match = re.search(r"^## Settings\n(.*?)(?=^## )", readme + "\n## end", re.S | re.M)
    assert match, "README.md has no '## Settings' section"
    return match.group(1)


def test_the_readme_settings_section_lists_every_variable():
    """The settings tables and README.md's Settings section name the same variables (upper-case
    names: the proxies are documented once, "either case"; HOME is nobody's setting)."""
    variable = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")
    documented = set(variable.findall(_readme_settings_section()))
    read = {*config.ENV_NAMES, *variable_names(ServiceSettings)}
    named = {name for name in read if variable.fullmatch(name)}
    assert named - documented == set(), "read but not in README.md's Settings section"
    assert documented - named == set(), "in README.md's Settings section but never read"
