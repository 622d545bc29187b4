"""Shared fixtures: a clean environment for every test, loopback file servers, settings."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from ml_data import Resolver, Settings
from ml_data.config import cloud_environment
from tests.support.label_studio_project import Seeded
from tests.support.servers.http_files import FileServer
from tests.support.servers.label_studio import LabelStudioServer

# Property tests assert behaviour, never time: hypothesis's per-example deadline would turn a busy
# two-core CI machine into failures, so it is off (timing goals live in benchmarks/).
hypothesis_settings.register_profile(
    "ml-data", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
hypothesis_settings.load_profile("ml-data")

_ENV_PREFIXES = ("LABEL_STUDIO_", "ML_DATA_", "AWS_", "GOOGLE_", "AZURE_", "STORAGE_EMULATOR")
_ENV_NAMES = ("LOCAL_FILES_DOCUMENT_ROOT", "XDG_CACHE_HOME", "XDG_DATA_HOME", "VERIFY_SSL", "CLOUDSDK_CONFIG")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test sees the developer's Label Studio, tokens, cloud credentials or caches."""
    for name in list(os.environ):
        if name.startswith(_ENV_PREFIXES) or name in _ENV_NAMES:
            monkeypatch.delenv(name)
    # boto3 would otherwise ask the EC2 metadata address for credentials: not a loopback address.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("NO_GCE_CHECK", "true")  # the same for google-auth and the GCE metadata address
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    pytest.importorskip("boto3")
    from tests.support.servers.moto_s3 import moto_server

    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def s3_settings(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Settings:
    """Settings and credentials for the moto server; the endpoint is asserted to be loopback."""
    assert s3_endpoint.startswith("http://127.0.0.1:")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_endpoint)
    return settings.with_changes(s3_endpoint_url=s3_endpoint, cloud_env=cloud_environment())


@pytest.fixture(scope="session")
def gcs_endpoint() -> Iterator[str]:
    pytest.importorskip("google.cloud.storage")
    from tests.support.servers.cloud_emulators import fake_gcs_server

    with fake_gcs_server() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def azurite_connection_string() -> Iterator[str]:
    pytest.importorskip("azure.storage.blob")
    from tests.support.servers.cloud_emulators import azurite

    with azurite() as connection_string:
        yield connection_string


@pytest.fixture(scope="session")
def label_studio_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabelStudioServer]:
    """A real Label Studio on 127.0.0.1, one per session, from a migrated template data folder."""
    from tests.support.servers.label_studio import label_studio

    with label_studio(tmp_path_factory.mktemp("label-studio")) as server:
        yield server


@pytest.fixture(scope="session")
def seeded(label_studio_server: LabelStudioServer) -> Iterator[Seeded]:
    """Project 3 seeded on the session's Label Studio (tests that change it put it back)."""
    from tests.support.label_studio_project import seed_project

    yield from seed_project(label_studio_server)


@pytest.fixture
def file_server() -> Iterator[FileServer]:
    with FileServer() as server:
        yield server


@pytest.fixture
def other_server() -> Iterator[FileServer]:
    """A second origin on another port."""
    with FileServer() as server:
        yield server


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def settings(cache_dir: Path) -> Settings:
    """Fast-failing settings: short timeouts and backoff, so fault tests stay quick."""
    return Settings(cache_dir=cache_dir, connect_timeout=2.0, read_timeout=2.0, retries=2, backoff_factor=0.01)


@pytest.fixture
def resolver(settings: Settings) -> Resolver:
    return Resolver(settings)
