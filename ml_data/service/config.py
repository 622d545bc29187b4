"""The sidecar's own settings: its bearer token and what it may fetch from."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ml_data.config import parse_size
from ml_data.errors import ConfigurationError
from ml_data.service.hosts import AllowedHost, public_base_url


@dataclass(frozen=True)
class ServiceSettings:
    """``token``: clients send ``Authorization: Bearer <token>`` (every endpoint but /healthz).
    ``allow``: origins (``https://cdn.example.com``) and buckets (``s3://bucket``, ``gs://b``,
    ``azure-blob://container``) the service may fetch from, besides the Label Studio URL.
    ``no_auth``: serve without a token (only on a loopback address; the Host header must then be a
    loopback address, ``localhost`` or one of ``allowed_hosts``).
    """

    token: str | None = field(default=None, repr=False)
    allow: tuple[str, ...] = ()
    no_auth: bool = False
    #: largest request body accepted (a prefetch list)
    max_request_bytes: int = 1024 * 1024
    #: where dataset jobs write (default: ``datasets/`` in the cache folder, so that images are
    #: hard links into the cache, which needs the same file system)
    datasets_dir: Path | None = None
    #: largest file the service downloads for a client (ML_DATA_SERVICE_MAX_FILE_SIZE); the
    #: library's own limit applies when it is lower
    max_file_size: int = 2 * 1000**3
    #: ML_DATA_ACCEL_REDIRECT: the internal location of a proxy in front (nginx) that maps to the
    #: cache folder, e.g. ``/_ml_data_cache/``. Set, ``/v1/resources`` answers cached files with
    #: ``X-Accel-Redirect`` and the proxy sends the bytes (Range, ETag and 304 are then its own).
    accel_redirect: str | None = None
    #: ML_DATA_SERVICE_URL: the service's URL as its clients reach it (``https://data.example.com``,
    #: a path prefix kept), the base of ``rewrite=true`` links; unset, they are built from the
    #: request's checked Host
    public_url: str | None = None
    #: ML_DATA_SERVICE_ALLOWED_HOSTS: Host header values (``name`` or ``name:port``) answered besides
    #: loopback addresses and ``localhost``. Set, every other Host is refused; unset, any Host is
    #: answered with a token and only those with ``no_auth``.
    allowed_hosts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.public_url is not None:
            object.__setattr__(self, "public_url", public_base_url(self.public_url))
        for entry in self.allowed_hosts:
            AllowedHost.parse(entry)  # a ConfigurationError naming the entry
        if self.accel_redirect is not None:
            location = self.accel_redirect.strip()
            if (
                not location.startswith("/")
                or not location.isascii()
                or any(c.isspace() or c in "?#%\\" for c in location)
            ):
                raise ConfigurationError(
                    "ML_DATA_ACCEL_REDIRECT must be a location path such as /_ml_data_cache/, "
                    f"got {self.accel_redirect!r}"
                )
            object.__setattr__(self, "accel_redirect", location.rstrip("/") + "/")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServiceSettings:
        """``ML_DATA_SERVICE_TOKEN``, ``ML_DATA_SERVICE_ALLOW`` (comma-separated),
        ``ML_DATA_SERVICE_DATASETS_DIR``, ``ML_DATA_SERVICE_MAX_FILE_SIZE`` (default 2GB),
        ``ML_DATA_ACCEL_REDIRECT`` (a proxy's internal location for the cache folder),
        ``ML_DATA_SERVICE_URL`` (its public URL), ``ML_DATA_SERVICE_ALLOWED_HOSTS`` (comma-separated)."""
        env = os.environ if environ is None else environ
        allow = tuple(
            item.strip().rstrip("/") for item in env.get("ML_DATA_SERVICE_ALLOW", "").split(",") if item.strip()
        )
        hosts = tuple(item.strip() for item in env.get("ML_DATA_SERVICE_ALLOWED_HOSTS", "").split(",") if item.strip())
        datasets = env.get("ML_DATA_SERVICE_DATASETS_DIR")
        return cls(
            token=env.get("ML_DATA_SERVICE_TOKEN") or None,
            allow=allow,
            datasets_dir=Path(datasets).expanduser() if datasets else None,
            max_file_size=_size(env.get("ML_DATA_SERVICE_MAX_FILE_SIZE"), 2 * 1000**3),
            accel_redirect=env.get("ML_DATA_ACCEL_REDIRECT") or None,
            public_url=env.get("ML_DATA_SERVICE_URL") or None,
            allowed_hosts=hosts,
        )


def _size(text: str | None, default: int) -> int:
    """ML_DATA_SERVICE_MAX_FILE_SIZE, with the variable named when it is not a size."""
    if not text:
        return default
    try:
        return parse_size(text)
    except ConfigurationError as exc:
        raise ConfigurationError(f"ML_DATA_SERVICE_MAX_FILE_SIZE: {exc.message}") from None
