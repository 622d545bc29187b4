"""Origins and the credentials bound to one.

:class:`~ml_data.http.HttpClient` knows nothing of whose credentials it carries: a
:class:`Credentials` value decides where it applies (one :class:`Origin`), what it sends, whether
a 401 can be cured by renewing it, and what a 401 should tell the user.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ml_data import errors
from ml_data.urls import HttpURL, parse_http_url

if TYPE_CHECKING:
    from ml_data.http import HttpClient


@dataclass(frozen=True)
class Origin:
    """Scheme, host and port: the unit that credentials are bound to."""

    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: str | HttpURL) -> Origin | None:
        """The origin of an absolute http(s) URL (read strictly), or None for anything else."""
        if not isinstance(url, HttpURL):
            try:
                url = parse_http_url(url)
            except errors.UnsupportedURL:
                return None
        return cls(*url.origin)

    def __str__(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"


class Credentials(Protocol):
    """What :class:`~ml_data.http.HttpClient` asks of the credentials it carries.

    They are bound to one origin: sent only where :meth:`applies_to` says, and never again in a
    request once a redirect has left that origin.
    """

    @property
    def origin(self) -> Origin | None:
        """The one origin they may go to (None: nowhere)."""
        ...

    @property
    def can_renew(self) -> bool:
        """Whether a 401 may be cured by :meth:`invalidate` and one more try."""
        ...

    def applies_to(self, url: HttpURL, *, api: bool = False) -> bool:
        """Whether they go with a request to ``url``; ``api`` for the calls of their server's API
        client (which may reach more paths than a resource read)."""
        ...

    def headers(self, client: HttpClient) -> dict[str, str]:
        """The headers to send; ``client`` is the one sending, for a renewal's own request."""
        ...

    def invalidate(self) -> None:
        """Forget what a 401 showed to be stale, so that :meth:`headers` renews it."""
        ...

    def rejected_hint(self, *, sent: bool) -> str:
        """What a 401 should tell the user; ``sent`` says whether these credentials went with it."""
        ...
