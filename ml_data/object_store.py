"""Datasets in object storage (``s3://``, ``gs://``, ``az://``): where a dataset written there lives,
the file system that reaches it with ml-data's cloud settings, and reading one back.

Object stores rename nothing, so a dataset is never rewritten in place. Each write puts its files
under a prefix of its own, ``<prefix>/runs/<UTC time>-<random>/``, a complete dataset folder with
its ``manifest.json``; only then is that manifest copied to ``<prefix>/manifest.json`` (one
server-side copy: the object appears whole or not at all). That top manifest is the commit: it
names its run (``"root"``), and a reader goes through it. Without it the prefix holds no dataset
(a first write still running, or one that failed); a write that fails leaves the previous
manifest, and the run it names, as they were.

The file systems are pyarrow's (installed with the ``ray`` extra): S3 with the endpoint, keys and
region of the settings; GCS anonymous on ``STORAGE_EMULATOR_HOST``, else with the service account
of ``GOOGLE_APPLICATION_CREDENTIALS`` (when google-auth is installed) or the default credentials;
Azure with ``AZURE_STORAGE_CONNECTION_STRING``, or ``AZURE_STORAGE_ACCOUNT`` and
``AZURE_STORAGE_KEY``.

>>> manifest, root = read_dataset_manifest("s3://bucket/datasets/p3", Settings.from_env())  # doctest: +SKIP
>>> root  # doctest: +SKIP
's3://bucket/datasets/p3/runs/20261207T170000Z-1a2b3c4d'
"""

from __future__ import annotations

import datetime
import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ml_data.config import Settings
from ml_data.errors import ConfigurationError, MissingDependency, NotFound, OutputError
from ml_data.jsonio import loads
from ml_data.pipeline.report import MANIFEST
from ml_data.redaction import redact_url

#: URL scheme -> the cloud it names
SCHEMES = {"s3": "s3", "gs": "gcs", "gcs": "gcs", "az": "azure", "azure-blob": "azure"}
#: the folder of the runs under a dataset's prefix
RUNS = "runs"
_RUN = re.compile(r"^(\d{8}T\d{6}Z)-[0-9a-f]{8}$")
_PORT = re.compile(r"^[^:/?#]+:\d+$")


@dataclass(frozen=True)
class ObjectPrefix:
    """A dataset's place in object storage: ``<scheme>://<bucket>/<key>``."""

    scheme: str
    bucket: str
    key: str

    @property
    def cloud(self) -> str:
        return SCHEMES[self.scheme]

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.bucket}/{self.key}".rstrip("/")

    @property
    def path(self) -> str:
        """The prefix as pyarrow's file systems name it (``bucket/key``)."""
        return f"{self.bucket}/{self.key}".rstrip("/")

    def join(self, *names: str) -> str:
        """A pyarrow path under the prefix."""
        return "/".join([self.path, *names])

    def url_of(self, *names: str) -> str:
        return "/".join([self.url, *names])


def parse_prefix(url: str) -> ObjectPrefix | None:
    """``url`` as an object storage prefix; None when it is no URL of a known store (a local path).
    A bucket alone, or a key with ``.`` or ``..`` parts, is refused."""
    scheme, separator, rest = url.partition("://")
    if not separator or scheme.lower() not in SCHEMES:
        return None
    bucket, _, key = rest.partition("/")
    key = key.strip("/")
    if not bucket or not key:
        raise ConfigurationError(f"{redact_url(url)}: give a prefix inside the bucket for the dataset (bucket/name)")
    if any(part in ("", ".", "..") for part in key.split("/")) or "?" in url or "#" in url:
        raise ConfigurationError(f"{redact_url(url)}: not a plain object prefix")
    return ObjectPrefix(scheme.lower(), bucket, key)


def new_run(now: datetime.datetime | None = None) -> str:
    """A run's folder name: its UTC start time (runs sort by it) and a random part."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def run_started(name: str) -> datetime.datetime | None:
    """When the run ``name`` started (None: not a run's name)."""
    match = _RUN.match(name)
    if match is None:
        return None
    return datetime.datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)


def filesystem(prefix: ObjectPrefix, settings: Settings) -> Any:
    """A pyarrow file system for ``prefix``'s cloud, from ml-data's cloud settings."""
    try:
        import pyarrow.fs as pafs
    except ImportError:
        raise MissingDependency("datasets in object storage need pyarrow: pip install 'ml-data[ray]'") from None
    timeouts = {"connect_timeout": float(settings.connect_timeout), "request_timeout": float(settings.read_timeout)}
    if prefix.cloud == "s3":
        endpoint, scheme = _endpoint(settings.s3_endpoint_url)
        return pafs.S3FileSystem(
            access_key=settings.cloud("AWS_ACCESS_KEY_ID"),
            secret_key=settings.cloud("AWS_SECRET_ACCESS_KEY"),
            session_token=settings.cloud("AWS_SESSION_TOKEN"),
            region=settings.cloud("AWS_REGION") or settings.cloud("AWS_DEFAULT_REGION") or "us-east-1",
            endpoint_override=endpoint,
            scheme=scheme or "https",
            **timeouts,
        )
    if prefix.cloud == "gcs":
        emulator = settings.cloud("STORAGE_EMULATOR_HOST")
        project = settings.cloud("GOOGLE_CLOUD_PROJECT")
        if emulator:
            endpoint, scheme = _endpoint(emulator if "://" in emulator else f"http://{emulator}")
            return pafs.GcsFileSystem(anonymous=True, endpoint_override=endpoint, scheme=scheme, project_id=project)
        from ml_data.resolvers.clouds.gcs import access_token

        token = access_token(settings)
        if token is not None:
            return pafs.GcsFileSystem(access_token=token[0], credential_token_expiration=token[1], project_id=project)
        return pafs.GcsFileSystem(project_id=project)
    return _azure(pafs, settings)


def _endpoint(url: str | None) -> tuple[str | None, str | None]:
    """``host:port`` and scheme of an endpoint URL, as pyarrow takes them."""
    if not url:
        return None, None
    parts = urlsplit(url if "://" in url else f"https://{url}")
    return parts.netloc, parts.scheme


def _azure(pafs: Any, settings: Settings) -> Any:
    connection = settings.cloud("AZURE_STORAGE_CONNECTION_STRING") or ""
    fields = dict(part.split("=", 1) for part in connection.split(";") if "=" in part)
    account = fields.get("AccountName") or settings.cloud("AZURE_STORAGE_ACCOUNT")
    key = fields.get("AccountKey") or settings.cloud("AZURE_STORAGE_KEY")
    if not account:
        raise ConfigurationError(
            "writing to az:// needs AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY"
        )
    endpoint, scheme = _endpoint(fields.get("BlobEndpoint"))
    return pafs.AzureFileSystem(
        account_name=account,
        account_key=key,
        sas_token=fields.get("SharedAccessSignature"),
        blob_storage_authority=endpoint,
        blob_storage_scheme=scheme,
        dfs_storage_authority=endpoint,
        dfs_storage_scheme=scheme,
    )


def read_top_manifest(fs: Any, prefix: ObjectPrefix) -> dict[str, Any] | None:
    """The committed manifest at ``<prefix>/manifest.json``; None when there is none. A file of
    that name that is not ml-data's is an :class:`OutputError` (the prefix holds something else)."""
    import pyarrow.fs as pafs

    path = prefix.join(MANIFEST)
    if fs.get_file_info(path).type != pafs.FileType.File:
        return None
    with fs.open_input_stream(path) as stream:
        data = stream.read()
    try:
        manifest = loads(data)
    except ValueError:
        manifest = None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("root"), str):
        raise OutputError(f"{prefix.url_of(MANIFEST)} is not the manifest of a dataset ml-data wrote there")
    return manifest


def read_dataset_manifest(url: str, settings: Settings) -> tuple[dict[str, Any], str]:
    """The manifest of the dataset committed at ``url`` and the URL of the folder its files are in.
    No ``manifest.json`` there is a :class:`~ml_data.errors.NotFound`: the prefix holds no complete
    dataset (one being written, or a write that failed), whatever files it has."""
    prefix = parse_prefix(url)
    if prefix is None:
        raise ConfigurationError(f"{redact_url(url)} is not an object storage URL (s3://, gs://, az://)")
    manifest = read_top_manifest(filesystem(prefix, settings), prefix)
    if manifest is None:
        raise NotFound(
            f"{prefix.url_of(MANIFEST)} does not exist: no complete dataset there "
            "(a write still running, or one that failed, leaves none)"
        )
    return manifest, prefix.url_of(manifest["root"])


__all__ = [
    "RUNS",
    "SCHEMES",
    "ObjectPrefix",
    "filesystem",
    "new_run",
    "parse_prefix",
    "read_dataset_manifest",
    "read_top_manifest",
    "run_started",
]
