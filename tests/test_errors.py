"""Each error is also the built-in a caller of the reference get_local_path already catches."""

from __future__ import annotations

import base64
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from ml_data import errors
from ml_data.redaction import redact_url


@pytest.mark.parametrize(
    ("error", "builtins"),
    [
        (errors.NotFound("x"), (FileNotFoundError, OSError)),
        (errors.UnsafePath("x"), (ValueError, PermissionError)),
        (errors.UnsupportedURL("x"), (ValueError,)),
        (errors.ConfigurationError("x"), (ValueError,)),
        (errors.LabelStudioNotConfigured("x"), (FileNotFoundError,)),
        (errors.MissingTaskId("x"), (ValueError,)),
        (errors.MissingDependency("x"), (ImportError,)),
        (errors.UpstreamHTTPError("x", status_code=500), (requests.HTTPError, requests.RequestException)),
        (errors.AuthenticationFailed("x", status_code=401), (requests.HTTPError, PermissionError)),
        (errors.AccessDenied("x", status_code=403), (requests.HTTPError, PermissionError)),
        (errors.RemoteNotFound("x", status_code=404), (requests.HTTPError, FileNotFoundError, errors.NotFound)),
        (errors.UpstreamTimeout("x"), (requests.Timeout, TimeoutError)),
        (errors.UpstreamUnavailable("x"), (requests.ConnectionError, ConnectionError)),
        (errors.IncompleteDownload("x"), (requests.RequestException,)),
    ],
)
def test_errors_are_also_builtins(error, builtins):
    assert isinstance(error, errors.MlDataError)
    for builtin in builtins:
        assert isinstance(error, builtin)


def test_message_names_task_and_redacted_url():
    error = errors.NotFound("no such file", url="https://h/x.jpg?X-Amz-Signature=abc&token=t0k", task_id=17)
    text = str(error)
    assert "no such file" in text and "task 17" in text
    assert "abc" not in text and "t0k" not in text
    assert error.url == "https://h/x.jpg?X-Amz-Signature=***&token=***"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:pw@h/x", "https://user:***@h/x"),
        ("https://tok@h/x", "https://***@h/x"),
        ("https://h/x?access_token=a&v=1", "https://h/x?access_token=***&v=1"),
        ("https://h/x?sig=a&sv=2", "https://h/x?sig=***&sv=2"),
        ("https://h/x?X-Goog-Signature=a", "https://h/x?X-Goog-Signature=***"),
        ("https://h/x?v=1", "https://h/x?v=1"),
        ("data:image/png;base64," + "A" * 5000, "data:image/png;base64,<5000 characters>"),
        # urlsplit refuses these (bracketed hosts): still named, still masked
        ("file://[x", "file://[x"),
        ("http://u:pw@[x/a.jpg?token=t0k&v=1#top", "http://u:***@[x/a.jpg?token=***&v=1#top"),
        (None, ""),
    ],
)
def test_redact_url(url, expected):
    assert redact_url(url) == expected


@given(
    prefix=st.text(max_size=30)
    | st.sampled_from(["file://[x", "http://[", "a://]/", "http://\u2100x/", "http://u:p@[/"]),
    name=st.sampled_from(["token", "sig", "X-Amz-Signature", "password"]),
    secret=st.text(alphabet="0123456789abcdef", min_size=12, max_size=24),
)
def test_redaction_never_raises_and_never_shows_a_secret(prefix, name, secret):
    url = f"{prefix.partition('#')[0].partition('?')[0]}?{name}=S3CRET{secret}"
    redacted = redact_url(url)
    assert f"S3CRET{secret}" not in redacted and isinstance(redacted, str)


def _b64(uri: str) -> str:
    return base64.urlsafe_b64encode(uri.encode()).decode()


def test_redaction_masks_the_secrets_of_the_uri_inside_a_resolve_link():
    """Regression: a resolve link's base64 fileuri kept the URI's signature in every error and log."""
    secret = f"http://ls:8080/tasks/7/resolve/?fileuri={_b64('s3://b/x.jpg?X-Amz-Signature=S3CRET')}&v=1"
    query = dict(parse_qsl(urlsplit(redact_url(secret)).query))
    assert base64.urlsafe_b64decode(query["fileuri"]).decode() == "s3://b/x.jpg?X-Amz-Signature=***"
    assert query["v"] == "1"
    plain = redact_url("/tasks/7/resolve/?fileuri=b2://b/x.jpg?token=S3CRET")
    assert "S3CRET" not in plain and dict(parse_qsl(urlsplit(plain).query))["fileuri"] == "b2://b/x.jpg?token=***"
    harmless = f"http://ls:8080/tasks/7/resolve/?fileuri={_b64('b2://bucket/cats/1 a+b.jpg')}"
    assert redact_url(harmless) == harmless


def test_errors_cross_process_boundaries_whole():
    """Ray and process pools pickle errors: the type, the message and the keywords survive."""
    import pickle

    from ml_data.errors import NotFound, ResourcesFailed, UpstreamHTTPError

    cause = NotFound("no such file", url="https://h/x.jpg?token=secret", task_id=7)
    failed = ResourcesFailed("1 of 2 resources failed", failures={"https://h/x.jpg": cause})
    back = pickle.loads(pickle.dumps(failed))
    assert type(back) is ResourcesFailed and str(back) == str(failed)
    assert str(back.failures["https://h/x.jpg"]) == str(cause) and "secret" not in str(cause)
    http = pickle.loads(pickle.dumps(UpstreamHTTPError("server said 503", status_code=503, url="https://h/a")))
    assert type(http) is UpstreamHTTPError and http.status_code == 503 and http.url == "https://h/a"


def _error_classes() -> list[type[errors.MlDataError]]:
    """Every ml-data error class: the tree in ``ml_data.errors`` and any subclass defined elsewhere."""
    import ml_data.settings_table  # noqa: F401 - defines InvalidValue

    found: list[type[errors.MlDataError]] = []
    pending: list[type[errors.MlDataError]] = [errors.MlDataError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return sorted(set(found), key=lambda cls: cls.__qualname__)


def _make(cls: type[errors.MlDataError], message: str, url: str | None, task_id: int | str | None):
    if issubclass(cls, errors.UpstreamHTTPError):
        return cls(message, status_code=503, url=url, task_id=task_id)
    if issubclass(cls, errors.ResourcesFailed):
        return cls(message, failures={"u": errors.NotFound("gone", url=url)}, url=url, task_id=task_id)
    return cls(message, url=url, task_id=task_id)


#: The attributes the built-in bases keep outside ``__dict__``.
_BUILTIN_FIELDS = {OSError: ("errno", "strerror", "filename", "filename2"), ImportError: ("msg", "name", "path")}


def test_every_error_class_is_listed_in_the_tree():
    """The pickling test below reaches every class: none is missed because it lives elsewhere."""
    names = {cls.__name__ for cls in _error_classes()}
    assert {"CacheError", "OutputError", "MissingDependency", "UpstreamHTTPError", "ResourcesFailed"} <= names
    assert all(name in (errors.__doc__ or "") for name in names if getattr(errors, name, None) is not None)


@pytest.mark.parametrize("cls", _error_classes(), ids=lambda cls: cls.__name__)
@hypothesis_settings(max_examples=30, deadline=None)
@given(
    message=st.text(max_size=40),
    url=st.none() | st.sampled_from(["https://h/x.jpg?token=secret", "s3://b/k", "/data/local-files/?d=a"]),
    task_id=st.none() | st.integers(-(2**40), 2**40) | st.text(max_size=8),
    number=st.integers(0, 200),
    text=st.text(max_size=20),
)
def test_every_error_crosses_a_pickle_whole(cls, message, url, task_id, number, text):
    """Regression: a ``CacheError`` for a full disk lost its ``errno`` (and its ``args``) on its way
    out of a Ray worker: every attribute survives, the built-in ones included."""
    import pickle

    error = _make(cls, message, url, task_id)
    builtin_fields = [name for base, names in _BUILTIN_FIELDS.items() if isinstance(error, base) for name in names]
    for name in builtin_fields:
        setattr(error, name, number if name == "errno" else f"{name}-{text}")
    error.add_note(f"note {text}")
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is cls
    assert back.args == error.args and str(back) == str(error)
    assert {k: v for k, v in back.__dict__.items() if k != "failures"} == {
        k: v for k, v in error.__dict__.items() if k != "failures"
    }
    for name in builtin_fields:
        assert getattr(back, name) == getattr(error, name), name
    if isinstance(error, errors.ResourcesFailed):
        assert {k: str(v) for k, v in back.failures.items()} == {k: str(v) for k, v in error.failures.items()}


def test_a_full_disk_is_still_enospc_after_a_pickle(tmp_path):
    """Regression: the cache's full-disk error arrived from a worker with ``errno`` None."""
    import errno
    import pickle

    from ml_data.cache.disk import write_error

    error = write_error(tmp_path, OSError(errno.ENOSPC, "No space left on device"), url="https://h/x.jpg")
    back = pickle.loads(pickle.dumps(error))
    assert isinstance(back, errors.CacheError) and back.errno == errno.ENOSPC
    assert back.strerror == "no space left on the device" and str(back) == str(error)
