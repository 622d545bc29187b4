"""Each error is also the built-in a caller of the reference get_local_path already catches."""

from __future__ import annotations

import base64
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from hypothesis import given
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
