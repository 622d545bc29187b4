"""The "localhost inside a container" advice: one text, given by the API client, ``ml-data doctor``
and ``get_local_path`` alike, and only for a Label Studio URL on a loopback name or address."""

from __future__ import annotations

import logging
import socket

import pytest

import ml_data
from ml_data import doctor
from ml_data.config import Settings
from ml_data.errors import UpstreamUnavailable
from ml_data.labelstudio import LabelStudioClient
from ml_data.labelstudio.hints import LOCALHOST_IN_CONTAINER, localhost_hint


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    "url",
    ["http://localhost:8080", "http://LOCALHOST:8080/ls", "https://127.0.0.1", "http://[::1]:8080", "http://0.0.0.0"],
)
def test_loopback_urls_get_the_advice(url):
    assert localhost_hint(url) == LOCALHOST_IN_CONTAINER


@pytest.mark.parametrize(
    "url", [None, "", "http://label-studio:8080", "http://notlocalhost.example", "http://127.0.0.2", "http://[x"]
)
def test_other_urls_get_none(url):
    assert localhost_hint(url) == ""


def test_the_api_client_gives_it_when_label_studio_cannot_be_reached(tmp_path, closed_port):
    settings = Settings(
        label_studio_url=f"http://localhost:{closed_port}", api_key="t" * 40, cache_dir=tmp_path, retries=0
    )
    with pytest.raises(UpstreamUnavailable) as info:
        LabelStudioClient(settings).project(1)
    assert info.value.message.endswith(f" {LOCALHOST_IN_CONTAINER}")


def test_the_doctor_gives_it_inside_a_container(tmp_path, closed_port, monkeypatch):
    monkeypatch.setattr(doctor, "_in_container", lambda: True)
    settings = Settings(label_studio_url=f"http://127.0.0.1:{closed_port}", api_key="t" * 40, cache_dir=tmp_path)
    checks = {check.name: check for check in doctor.run_checks(settings)}
    assert checks["label-studio"].status == "fail"
    # doctor's lines are sentences: the hint ends them, with its full stop
    assert checks["label-studio"].message.endswith(f" {LOCALHOST_IN_CONTAINER}.")


def test_the_doctor_keeps_it_to_itself_outside_a_container(tmp_path, closed_port, monkeypatch):
    monkeypatch.setattr(doctor, "_in_container", lambda: False)
    settings = Settings(label_studio_url=f"http://127.0.0.1:{closed_port}", api_key="t" * 40, cache_dir=tmp_path)
    checks = {check.name: check for check in doctor.run_checks(settings)}
    assert LOCALHOST_IN_CONTAINER not in checks["label-studio"].message


def test_get_local_path_warns_with_it(tmp_path, caplog):
    data = "data:text/plain;base64,aGVsbG8="
    with caplog.at_level(logging.WARNING, logger="ml_data.resolvers.compat"):
        ml_data.get_local_path(data, cache_dir=str(tmp_path / "a"), hostname="http://localhost:8080", access_token="t")
        ml_data.get_local_path(
            data, cache_dir=str(tmp_path / "b"), hostname="http://label-studio:8080", access_token="t"
        )
    warnings = [record.getMessage() for record in caplog.records]
    assert warnings == [f"LABEL_STUDIO_URL uses localhost (http://localhost:8080). {LOCALHOST_IN_CONTAINER}"]
