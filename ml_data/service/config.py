"""The sidecar's own settings: its bearer token and what it may fetch from."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ml_data.errors import ConfigurationError
from ml_data.parsing import parse_path, parse_signing_key, parse_size
from ml_data.service.hosts import AllowedHost, public_base_url
from ml_data.settings_table import read_fields, setting


def _allow_list(text: str) -> tuple[str, ...]:
    """Comma-separated origins and buckets, without spaces or trailing slashes."""
    return tuple(item.strip().rstrip("/") for item in text.split(",") if item.strip())


def _host_list(text: str) -> tuple[str, ...]:
    """Comma-separated Host values, without spaces."""
    return tuple(item.strip() for item in text.split(",") if item.strip())


@dataclass(frozen=True)
class ServiceSettings:
    """The service's settings, beside the library's :class:`~ml_data.config.Settings`: a table in
    the same form (each ``setting(...)`` field names its variables, parser, default and meaning).
    ``no_auth``: serve without a token (only on a loopback address; the Host header must then be a
    loopback address, ``localhost`` or one of ``allowed_hosts``).
    """

    token: str | None = setting(
        "ML_DATA_SERVICE_TOKEN",
        parse=str,
        default=None,
        secret=True,
        doc="clients send Authorization: Bearer <token> (every endpoint but /healthz)",
    )
    allow: tuple[str, ...] = setting(
        "ML_DATA_SERVICE_ALLOW",
        parse=_allow_list,
        default=(),
        doc="comma-separated origins (https://cdn.example.com) and buckets (s3://bucket, gs://b, "
        "azure-blob://container) the service may fetch from, besides the Label Studio URL",
    )
    no_auth: bool = False
    #: largest request body accepted (a prefetch list)
    max_request_bytes: int = 1024 * 1024
    # The default shares the cache's file system, so that dataset images are hard links into it.
    datasets_dir: Path | None = setting(
        "ML_DATA_SERVICE_DATASETS_DIR",
        parse=parse_path,
        default=None,
        doc="where dataset jobs write (default: datasets/ in the cache folder)",
    )
    max_file_size: int = setting(
        "ML_DATA_SERVICE_MAX_FILE_SIZE",
        parse=parse_size,
        default=2 * 1000**3,
        doc="largest file the service downloads for a client; the library's own limit applies when lower",
    )
    # Set, /v1/resources answers cached files with X-Accel-Redirect and the proxy sends the bytes
    # (Range, ETag and 304 are then its own).
    accel_redirect: str | None = setting(
        "ML_DATA_ACCEL_REDIRECT",
        parse=str,
        default=None,
        doc="the internal location of a proxy in front (nginx) that maps to the cache folder, e.g. /_ml_data_cache/",
    )

    public_url: str | None = setting(
        "ML_DATA_SERVICE_URL",
        parse=str,
        default=None,
        doc="the service's URL as its clients reach it (https://data.example.com, a path prefix kept): "
        "the base of rewrite=true links; unset, they are built from the request's checked Host",
    )
    allowed_hosts: tuple[str, ...] = setting(
        "ML_DATA_SERVICE_ALLOWED_HOSTS",
        parse=_host_list,
        default=(),
        doc="Host header values (name or name:port) answered besides loopback addresses and localhost; "
        "set, every other Host is refused; unset, any Host is answered with a token and only those with no_auth",
    )
    signing_key: str | None = setting(
        "ML_DATA_SIGNING_KEY",
        parse=parse_signing_key,
        default=None,
        secret=True,
        doc="set, GET /v1/resources also answers links signed with it (ml_data.presign) without the "
        "bearer token: one resource each, until the link expires",
    )

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
        """Read the service's settings from ``environ`` (default: ``os.environ``): each row of the table."""
        return cls(**read_fields(cls, os.environ if environ is None else environ))
