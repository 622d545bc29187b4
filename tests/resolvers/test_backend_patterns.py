"""``get_local_path`` as label-studio-ml backends call it, against a Label Studio that issues real
(signed) JWT pairs and accepts only access tokens as ``Bearer``.

label-studio-ml's base class refreshes a personal access token itself and hands the short-lived
access token to ``get_local_path(url, project_dir=, hostname=, access_token=, task_id=, **kwargs)``;
examples call ``self.get_local_path(url, task_id=)``, ``(url=..., task_id=)`` and
``(url, cache_dir=, ls_host=, task_id=)``, others the function directly with ``hostname=`` and
``access_token=``.
"""

from __future__ import annotations

import os

import pytest
import requests

from ml_data import get_local_path
from ml_data.errors import AuthenticationFailed
from tests.support.fake_label_studio import LEGACY_TOKEN, FakeLabelStudio
from tests.support.jwt_tokens import make_jwt

BODY = b"uploaded image bytes"
URL = "/data/upload/1/photo.jpg"


@pytest.fixture
def ls(file_server):  # type: ignore[no-untyped-def]
    fake = FakeLabelStudio(file_server)
    fake.serve_file(URL, BODY)
    return fake


def access_token_for(ls: FakeLabelStudio) -> str:
    """What label-studio-ml's SDK client does: exchange the personal access token."""
    answer = requests.post(f"{ls.url}/api/token/refresh/", json={"refresh": ls.personal_access_token}, timeout=5)
    answer.raise_for_status()
    return str(answer.json()["access"])


class BackendBase:
    """The shape of ``LabelStudioMLBase.get_local_path`` (label_studio_ml/model.py), with ml-data's
    function where the base class imports the reference one."""

    def __init__(self, access_token: str) -> None:
        self.access_token = access_token

    def get_label_studio_access_token(self) -> str:
        return self.access_token

    def get_local_path(self, url, project_dir=None, ls_host=None, ls_access_token=None, task_id=None, *args, **kwargs):  # type: ignore[no-untyped-def]
        if ls_access_token is None:
            ls_access_token = self.get_label_studio_access_token()
        return get_local_path(
            url,
            project_dir=project_dir,
            hostname=ls_host,
            access_token=ls_access_token,
            task_id=task_id,
            *args,  # noqa: B026 - exactly as the base class calls it
            **kwargs,
        )


@pytest.fixture(params=["access", "refresh", "legacy"])
def token(request, ls):  # type: ignore[no-untyped-def]
    return {"access": access_token_for(ls), "refresh": ls.personal_access_token, "legacy": LEGACY_TOKEN}[request.param]


def test_the_base_class_patterns(ls, token, monkeypatch, tmp_path):
    monkeypatch.setenv("LABEL_STUDIO_URL", ls.url)
    monkeypatch.setenv("ML_DATA_CACHE_DIR", str(tmp_path / "cache"))
    backend = BackendBase(token)
    calls = [
        lambda: backend.get_local_path(URL, task_id=1),
        lambda: backend.get_local_path(url=URL, task_id=1),
        lambda: backend.get_local_path(URL, cache_dir=str(tmp_path / "file-cache"), ls_host=ls.url, task_id=1),
        lambda: backend.get_local_path(URL, task_id=1, download_resources=True),
    ]
    for call in calls:
        path = call()
        assert open(path, "rb").read() == BODY
    assert all(header.split()[0] in ("Bearer", "Token") for header in ls.server.seen_authorization())


def test_the_function_patterns(ls, token, monkeypatch, tmp_path):
    cache_dir = str(tmp_path / "cache")
    path = get_local_path(URL, cache_dir=cache_dir, hostname=ls.url, access_token=token, task_id=1)
    assert open(path, "rb").read() == BODY
    monkeypatch.setenv("LABEL_STUDIO_URL", ls.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", token)
    monkeypatch.setenv("ML_DATA_CACHE_DIR", str(tmp_path / "other-cache"))
    assert open(get_local_path(URL, task_id=1), "rb").read() == BODY
    assert open(get_local_path(url=URL, task_id=1), "rb").read() == BODY


def test_an_access_token_is_sent_as_it_is(ls, tmp_path):
    """Regression: an access token was posted to /api/token/refresh/ as if it were a refresh token."""
    access = access_token_for(ls)
    refreshes = ls.refreshes
    get_local_path(URL, cache_dir=str(tmp_path), hostname=ls.url, access_token=access, task_id=1)
    assert ls.refreshes == refreshes  # no exchange
    assert ls.server.seen_authorization() == [f"Bearer {access}"]


def test_an_expired_access_token_says_what_to_pass_instead(ls, tmp_path):
    expired = make_jwt("access", lifetime=-10)
    with pytest.raises(AuthenticationFailed) as info:
        get_local_path(URL, cache_dir=str(tmp_path), hostname=ls.url, access_token=expired, task_id=1)
    message = str(info.value)
    assert "access token" in message and "personal access token itself" in message
    assert expired not in message
    assert ls.refreshes == 0


def test_a_refresh_token_is_never_sent_as_bearer(ls, tmp_path):
    get_local_path(URL, cache_dir=str(tmp_path), hostname=ls.url, access_token=ls.personal_access_token, task_id=1)
    sent = ls.server.seen_authorization()
    assert sent and all(ls.personal_access_token not in header for header in sent)
    assert os.path.isdir(tmp_path)
