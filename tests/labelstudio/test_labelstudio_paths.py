"""Label Studio's URL grammar, written once: the same paths are Label Studio's to the task URL
parser (under any prefix) and to the token rule (under the configured prefix only)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml_data.errors import UnsupportedURL
from ml_data.labelstudio.paths import (
    is_token_path,
    is_token_refresh_path,
    resource_path,
    upload_key,
)
from ml_data.urls import parse_http_url

# The grammar as the parser and the token rule each wrote it before it had one home: the new
# module must answer exactly as they did.
_PARSER_RULES = (
    ("upload", re.compile(r"^(?P<prefix>(?:/[^?#]*?)?)/data/upload/(?P<project>[^/?#]+)/(?P<file>[^?#]+)$")),
    ("local-files", re.compile(r"^(?P<prefix>(?:/[^?#]*?)?)/data/local-files/?$")),
    ("storage-data", re.compile(r"^(?P<prefix>(?:/[^?#]*?)?)/storage-data/uploaded/?$")),
    (
        "resolve",
        re.compile(r"^(?P<prefix>(?:/[^?#]*?)?)/(?P<scope>tasks|projects)/(?P<id>\d+)/(?P<verb>resolve|presign)/?$"),
    ),
)
_TOKEN_RULE = re.compile(
    r"^/(?:data/upload/[^/]+/.|data/local-files/?$|storage-data/uploaded/?$|(?:tasks|projects)/\d+/(?:resolve|presign)/?$)"
)


def parser_rule(path: str) -> tuple[str, dict[str, str]] | None:
    for kind, pattern in _PARSER_RULES:
        match = pattern.match(path)
        if match:
            return kind, match.groupdict()
    return None


def token_rule(path: str, prefix: str) -> bool:
    if prefix and path.startswith(prefix + "/"):
        path = path[len(prefix) :]
    return bool(_TOKEN_RULE.match(path))


PIECES = [
    "/", "data", "upload", "local-files", "storage-data", "uploaded", "tasks", "projects", "resolve",
    "presign", "api", "token", "refresh", "label-studio", "1", "42", "x.jpg", "%2F", "%20", "a b", "é",
    "?", "#", "\n", ".", "٣",
]  # fmt: skip
pieces = st.lists(st.sampled_from(PIECES), max_size=6).map("".join)
leads = st.one_of(st.sampled_from(["", "/label-studio", "/data/upload"]), pieces.map("/{}".format))
parts = st.one_of(st.sampled_from(["", "/", "1", "42", "x.jpg", "a/b.jpg", "a b", "%2F", "٣"]), pieces)
SHAPES = [
    "{0}/data/upload/{1}/{2}",
    "{0}/data/local-files{1}",
    "{0}/storage-data/uploaded{1}",
    "{0}/tasks/{1}/resolve{2}",
    "{0}/projects/{1}/presign{2}",
    "{0}/api/token/refresh{1}",
]
# Random text, and the shapes of Label Studio's paths with random text in and around them.
paths = st.one_of(
    st.lists(st.sampled_from(PIECES), max_size=12).map("".join),
    st.tuples(st.sampled_from(SHAPES), leads, parts, parts).map(lambda t: t[0].format(*t[1:])),
)
prefixes = st.sampled_from(["", "/label-studio", "/a/b", "/data"])


@settings(max_examples=1000)
@given(path=paths)
def test_the_parser_reads_the_paths_it_read_before(path):
    found = resource_path(path)
    expected = parser_rule(path)
    if expected is None:
        assert found is None
        return
    kind, groups = expected
    assert found is not None and found.kind == kind and found.prefix == groups["prefix"]
    assert (found.project, found.file) == (groups.get("project") or "", groups.get("file") or "")
    assert (found.scope, found.verb) == (groups.get("scope") or "", groups.get("verb") or "")
    assert found.number == (int(groups["id"]) if groups.get("id") else 0)


@settings(max_examples=1000)
@given(path=paths, prefix=prefixes)
def test_the_token_goes_to_the_paths_it_went_to_before(path, prefix):
    """For every path a request can have (the strict URL reader's), under any configured prefix."""
    try:
        target = parse_http_url(f"http://ls:8080{path}")
    except UnsupportedURL:
        return
    assert is_token_path(target.path, prefix=prefix) == token_rule(target.path, prefix)


@pytest.mark.parametrize(
    ("path", "kind", "prefix"),
    [
        ("/data/upload/3/x.jpg", "upload", ""),
        ("/label-studio/data/upload/3/x.jpg", "upload", "/label-studio"),
        # An upload whose name ends like a resolve link is an upload (the first rule wins).
        ("/data/upload/1/tasks/2/resolve/", "upload", ""),
        # The shortest prefix that lets the rest match.
        ("/data/upload/data/upload/1/x", "upload", "/data/upload"),
        ("/data/local-files", "local-files", ""),
        ("/storage-data/uploaded/", "storage-data", ""),
        ("/x/projects/3/presign", "resolve", "/x"),
    ],
)
def test_resource_paths_under_any_prefix(path, kind, prefix):
    found = resource_path(path)
    assert found is not None and (found.kind, found.prefix) == (kind, prefix)


def test_the_configured_prefix_is_the_only_one_for_the_token():
    assert is_token_path("/label-studio/data/upload/1/x.jpg", prefix="/label-studio")
    assert is_token_path("/data/upload/1/x.jpg", prefix="/label-studio")
    assert not is_token_path("/other/data/upload/1/x.jpg", prefix="/label-studio")
    assert not is_token_path("/label-studio/api/projects/", prefix="/label-studio")


def test_the_token_refresh_path_is_exactly_under_the_prefix():
    assert is_token_refresh_path("/api/token/refresh/")
    assert is_token_refresh_path("/ls/api/token/refresh/", prefix="/ls")
    assert not is_token_refresh_path("/api/token/refresh/", prefix="/ls")
    assert not is_token_refresh_path("/api/token/refresh")
    assert not is_token_refresh_path("/x/api/token/refresh/")


def test_upload_keys():
    assert upload_key("upload/3/a/b.jpg") == ("3", "a/b.jpg")
    assert upload_key("upload/3/") is None
    assert upload_key("uploads/3/x.jpg") is None
