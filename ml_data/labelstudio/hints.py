"""Advice about reaching Label Studio that several places give: an API call that cannot reach it,
``ml-data doctor``, and ``get_local_path`` when it is configured."""

from __future__ import annotations

from urllib.parse import urlsplit

#: The names and addresses by which a process means the machine (or container) it runs on.
_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})

LOCALHOST_IN_CONTAINER = (
    "Inside a container, localhost is the container itself: use the Label Studio host's name or address "
    "(with Docker Desktop, http://host.docker.internal:8080)"
)


def localhost_hint(url: str | None) -> str:
    """The advice for a Label Studio URL on a loopback name or address, "" for any other URL.

    >>> localhost_hint("http://label-studio:8080")
    ''
    """
    try:
        host = urlsplit(url or "").hostname or ""
    except ValueError:  # an unclosed "[" in the host: not a URL this advice is about
        return ""
    return LOCALHOST_IN_CONTAINER if host in _LOOPBACK_NAMES else ""


__all__ = ["LOCALHOST_IN_CONTAINER", "localhost_hint"]
