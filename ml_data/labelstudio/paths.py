"""Label Studio's URL grammar, written once: the paths it serves files under, and its token exchange.

Two readers share it. Parsing a task's URL (:mod:`ml_data.resolvers.refs`) accepts these paths
under any prefix, since a task may carry a relative ``/label-studio/data/upload/...`` from an
instance served under a path. Deciding where the token may go (:mod:`ml_data.labelstudio.auth`,
the service's guard) accepts them only under the configured URL's own prefix. Pure: no IO.

The paths, after the prefix (``/data/upload/`` is served whatever its query says; the others take
their file from it)::

    /data/upload/<project>/<file>                        an uploaded file
    /data/local-files/?d=<path>                          a Local Files storage file
    /storage-data/uploaded/?filepath=upload/<p>/<file>   an uploaded file through the storage proxy
    /tasks/<id>/resolve/?fileuri=<base64 URI>            a cloud object (also projects/, presign/)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

#: Where a personal access token is exchanged for an access token (after the URL's prefix).
TOKEN_REFRESH_PATH = "/api/token/refresh/"

ResourceKind = Literal["upload", "local-files", "storage-data", "resolve"]

# Any prefix before the resource path: the shortest non-empty one that lets the rest match, else
# none (so "/data/upload/data/upload/1/x" is project 1's "x" under the prefix "/data/upload").
_ANY_PREFIX = r"^(?P<prefix>(?:/[^?#]*?)?)"
_AT_ROOT = r"^(?P<prefix>)"
# In the order they are tried: a path that fits two (an upload named ".../tasks/2/resolve/") is
# the first.
_KINDS: tuple[tuple[ResourceKind, str], ...] = (
    ("upload", r"/data/upload/(?P<project>[^/?#]+)/(?P<file>[^?#]+)$"),
    ("local-files", r"/data/local-files/?$"),
    ("storage-data", r"/storage-data/uploaded/?$"),
    ("resolve", r"/(?P<scope>tasks|projects)/(?P<id>\d+)/(?P<verb>resolve|presign)/?$"),
)
_UNDER_ANY_PREFIX = tuple((kind, re.compile(_ANY_PREFIX + body)) for kind, body in _KINDS)
_UNDER_NO_PREFIX = tuple((kind, re.compile(_AT_ROOT + body)) for kind, body in _KINDS)
# The storage proxy's ``filepath``: a key in Label Studio's media folder.
_UPLOAD_KEY = re.compile(r"^upload/(?P<project>[^/]+)/(?P<file>.+)$")


@dataclass(frozen=True)
class ResourcePath:
    """One of the paths Label Studio serves files under, split into its parts (still
    percent-encoded as the path had them)."""

    kind: ResourceKind
    #: what came before the resource path ("" at the root, "/label-studio" behind a prefix)
    prefix: str
    #: an upload's project folder and file name
    project: str = ""
    file: str = ""
    #: a resolve/presign link's scope ("tasks" or "projects"), number and verb ("resolve" or "presign")
    scope: str = ""
    number: int = 0
    verb: str = ""


def resource_path(path: str, *, prefix: str | None = None) -> ResourcePath | None:
    """Which of Label Studio's resource paths ``path`` (no query) is, or None.

    With ``prefix=None`` the resource path may follow any prefix (a task's URL); with a prefix
    (the configured URL's path, "" at the root) it must follow exactly that one.

    >>> resource_path("/label-studio/data/upload/3/x.jpg").prefix
    '/label-studio'
    >>> resource_path("/label-studio/data/upload/3/x.jpg", prefix="") is None
    True
    """
    patterns = _UNDER_ANY_PREFIX
    if prefix is not None:
        if prefix and path.startswith(prefix + "/"):
            path = path[len(prefix) :]
        patterns = _UNDER_NO_PREFIX
    for kind, pattern in patterns:
        match = pattern.match(path)
        if match is None:
            continue
        parts = match.groupdict(default="")
        return ResourcePath(
            kind=kind,
            prefix=parts["prefix"],
            project=parts.get("project", ""),
            file=parts.get("file", ""),
            scope=parts.get("scope", ""),
            number=int(parts.get("id") or 0),
            verb=parts.get("verb", ""),
        )
    return None


def is_token_path(path: str, *, prefix: str = "") -> bool:
    """True for a Label Studio resource path that needs the token, under the configured ``prefix``
    (never ``/api/``, whose answers hold tokens and user data).

    >>> is_token_path("/data/upload/3/x.jpg"), is_token_path("/api/current-user/token")
    (True, False)
    """
    return resource_path(path, prefix=prefix) is not None


def is_token_refresh_path(path: str, *, prefix: str = "") -> bool:
    """True for the path of the personal access token's exchange, under the configured ``prefix``."""
    return path == prefix + TOKEN_REFRESH_PATH


def upload_key(key: str) -> tuple[str, str] | None:
    """(project, file) of a key in Label Studio's media folder (``upload/<project>/<file>``), or None."""
    match = _UPLOAD_KEY.match(key)
    return (match["project"], match["file"]) if match else None


__all__ = [
    "TOKEN_REFRESH_PATH",
    "ResourceKind",
    "ResourcePath",
    "is_token_path",
    "is_token_refresh_path",
    "resource_path",
    "upload_key",
]
