"""Amazon S3 and S3-compatible stores: its hosts, its signature parameters, and its client (boto3,
the ``[s3]`` extra).

Credentials and the endpoint come from boto3's standard environment; ``ML_DATA_S3_ENDPOINT_URL``
/ ``AWS_ENDPOINT_URL_S3`` serve MinIO and emulators (whose URLs are then S3 objects too). The
version is the ETag; single-part objects, whose ETag is their MD5, are checksummed.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ml_data.config import Settings
from ml_data.errors import IncompleteDownload, UpstreamError, UpstreamTimeout, UpstreamUnavailable
from ml_data.resolvers.base import Announced
from ml_data.resolvers.clouds.base import http_date, status_error, translating
from ml_data.resolvers.registry import KIND_BY_SCHEME, missing_extra

if TYPE_CHECKING:
    from ml_data.resolvers.refs import CloudRef
    from ml_data.urls import HttpURL

SCHEME = "s3"

_VIRTUAL_HOST = re.compile(r"^(?P<bucket>.+)\.s3(?:[.-](?:dualstack\.)?[a-z0-9-]+)?\.amazonaws\.com$")
_PATH_HOST = re.compile(r"^s3(?:[.-](?:dualstack\.)?[a-z0-9-]+)?\.amazonaws\.com$")
# Query parameters that sign a URL rather than name a resource: SigV2 and SigV4 (all of SigV4's
# are ``X-Amz-*``), and CloudFront's signed URLs (which may front any origin).
_SIGNATURE_PARAMS = frozenset(
    {"signature", "expires", "awsaccesskeyid", "x-amz-security-token", "key-pair-id", "policy"}
)
_SIGNATURE_PREFIX = "x-amz-"
_MD5_ETAG = re.compile(r'^"?([0-9a-f]{32})"?$')


def object_at(target: HttpURL, path: str, endpoint: HttpURL | None) -> tuple[str, str] | None:
    """(bucket, key) of an https URL on AWS's S3 hosts (virtual-hosted or path style), or of a URL
    on the configured S3-compatible ``endpoint`` (path style)."""
    virtual = _VIRTUAL_HOST.match(target.host)
    if target.scheme == "https" and virtual:
        return virtual["bucket"], path[1:]
    if (target.scheme == "https" and _PATH_HOST.match(target.host)) or (
        endpoint is not None and target.origin == endpoint.origin
    ):
        bucket, _, key = path[1:].partition("/")
        return bucket, key
    return None


def signs(name: str, present: frozenset[str]) -> bool:
    return name in _SIGNATURE_PARAMS or name.startswith(_SIGNATURE_PREFIX)


@functools.lru_cache(maxsize=8)
def client(settings: Settings) -> Any:
    """One boto3 client per settings value (boto3 clients are thread-safe and pooled)."""
    try:
        import boto3  # noqa: F401 - a clear error here when the extra is missing
        from botocore.config import Config
    except ImportError:
        raise missing_extra(KIND_BY_SCHEME[SCHEME], "boto3") from None
    config = Config(
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        retries={"max_attempts": settings.retries + 1, "mode": "standard"},
        max_pool_connections=32,
    )
    return _session(settings).client("s3", endpoint_url=settings.s3_endpoint_url, config=config)


@functools.lru_cache(maxsize=8)
def signing_client(settings: Settings) -> Any:
    """A client for presigned URLs: Signature Version 4 (the one every region takes, and the one
    that bounds a URL's life), with the same credentials and endpoint as :func:`client`."""
    from botocore.config import Config

    client(settings)  # the extra's error when boto3 is missing
    config = Config(signature_version="s3v4", s3={"addressing_style": "auto"})
    return _session(settings).client("s3", endpoint_url=settings.s3_endpoint_url, config=config)


def _session(settings: Settings) -> Any:
    """A boto3 session with the credentials the settings were read with; without any, boto3's own
    chain (shared files, instance roles)."""
    import boto3

    return boto3.session.Session(
        aws_access_key_id=settings.cloud("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=settings.cloud("AWS_SECRET_ACCESS_KEY"),
        aws_session_token=settings.cloud("AWS_SESSION_TOKEN"),
        region_name=settings.cloud("AWS_REGION") or settings.cloud("AWS_DEFAULT_REGION"),
        profile_name=settings.cloud("AWS_PROFILE"),
    )


@functools.lru_cache(maxsize=8)
def available(settings: Settings) -> bool:
    """True when boto3 is installed and finds credentials (else Label Studio is asked instead)."""
    try:
        import boto3  # noqa: F401
    except ImportError:
        return False
    return _session(settings).get_credentials() is not None


def store(settings: Settings) -> S3Store:
    return S3Store(settings)


class S3Store:
    def __init__(self, settings: Settings) -> None:
        self._client = client(settings)

    def head(self, ref: CloudRef) -> Announced:
        head = _call(ref, self._client.head_object, Bucket=ref.bucket, Key=ref.key)
        etag = head.get("ETag")
        md5 = _MD5_ETAG.match(etag or "")
        return Announced(
            etag=etag,
            size=head.get("ContentLength"),
            md5=md5.group(1) if md5 else None,
            content_type=head.get("ContentType"),
            last_modified=http_date(head.get("LastModified")),
        )

    def chunks(self, ref: CloudRef, announced: Announced) -> Iterator[bytes]:
        from ml_data.http import CHUNK_SIZE

        kwargs = {"IfMatch": announced.etag} if announced.etag else {}
        body = _call(ref, self._client.get_object, Bucket=ref.bucket, Key=ref.key, **kwargs)["Body"]
        try:
            yield from body.iter_chunks(CHUNK_SIZE)
        except Exception as exc:  # noqa: BLE001 - botocore raises several unrelated types here
            raise _translate(ref, exc) from None
        finally:
            body.close()


def _translate(ref: CloudRef, exc: Exception) -> UpstreamError:
    from botocore import exceptions as boto

    if isinstance(exc, boto.ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        return status_error(ref, code, status, service="S3", hint="the AWS credentials and the bucket policy")
    if isinstance(exc, boto.ReadTimeoutError | boto.ConnectTimeoutError):
        return UpstreamTimeout(f"S3 timed out ({type(exc).__name__})", url=ref.uri)
    if isinstance(exc, boto.EndpointConnectionError | boto.ConnectionClosedError):
        return UpstreamUnavailable(f"cannot reach S3 ({type(exc).__name__})", url=ref.uri)
    return IncompleteDownload(f"the S3 transfer broke ({type(exc).__name__})", url=ref.uri)


_call = translating(_translate)
