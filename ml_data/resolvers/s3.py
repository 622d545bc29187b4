"""``s3://`` objects through boto3 (the ``[s3]`` extra), with the cache's guarantees.

The fetcher owns the temp file (boto3's own download helpers write the target in place), checks
the length and, for single-part objects whose ETag is the MD5, the checksum. The entry remembers
the ETag: after ``ML_DATA_CACHE_TTL`` a HEAD tells whether the object changed, so a changed object
is downloaded again and an unchanged one never is. Credentials and the endpoint come from boto3's
standard environment; ``ML_DATA_S3_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_S3`` serve MinIO and
emulators.
"""

from __future__ import annotations

import functools
import hashlib
import re
import time
from typing import TYPE_CHECKING, Any

from ml_data.config import Settings
from ml_data.errors import (
    AccessDenied,
    IncompleteDownload,
    MissingDependency,
    NotFound,
    RemoteNotFound,
    UpstreamError,
    UpstreamHTTPError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from ml_data.http import CHUNK_SIZE
from ml_data.resolvers.base import LocalFile
from ml_data.resolvers.refs import CloudRef

if TYPE_CHECKING:
    from ml_data.cache import CacheEntry
    from ml_data.resolvers import Resolver

_MD5_ETAG = re.compile(r'^"?([0-9a-f]{32})"?$')


@functools.lru_cache(maxsize=8)
def client(settings: Settings) -> Any:
    """One boto3 client per settings value (boto3 clients are thread-safe and pooled)."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise MissingDependency("s3:// objects need boto3: pip install 'ml-data[s3]'") from None
    config = Config(
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        retries={"max_attempts": settings.retries + 1, "mode": "standard"},
        max_pool_connections=32,
    )
    return boto3.session.Session().client("s3", endpoint_url=settings.s3_endpoint_url, config=config)


@functools.lru_cache(maxsize=8)
def available(settings: Settings) -> bool:
    """True when boto3 is installed and finds credentials (else Label Studio is asked instead)."""
    try:
        import boto3
    except ImportError:
        return False
    return boto3.session.Session().get_credentials() is not None


def fetch(ref: CloudRef, resolver: Resolver, task_id: int | None) -> LocalFile:
    """The object from the cache, revalidated with a HEAD after the TTL, downloaded when new."""
    settings, cache = resolver.settings, resolver.cache
    started = time.time()
    entry = cache.get(ref.identity, verify=settings.cache_verify)
    if entry is not None and not resolver.refresh and started - entry.validated_at < settings.cache_ttl:
        return LocalFile.from_entry(entry, ref)
    if not resolver.allow_downloads:
        if entry is not None:
            return LocalFile.from_entry(entry, ref)
        raise NotFound("not in the cache, and downloads are off", url=ref.raw)
    s3 = client(settings)
    with cache.locked(ref.identity):
        entry = cache.get(ref.identity, verify=settings.cache_verify)
        if entry is not None and entry.validated_at >= started:
            return LocalFile.from_entry(entry, ref)
        head = _call(ref, s3.head_object, Bucket=ref.bucket, Key=ref.key)
        etag = head.get("ETag")
        if entry is not None and etag and entry.etag == etag:
            return LocalFile.from_entry(cache.mark_validated(entry), ref)
        return LocalFile.from_entry(_download(ref, resolver, s3, head), ref)


def _download(ref: CloudRef, resolver: Resolver, s3: Any, head: dict) -> CacheEntry:
    settings = resolver.settings
    etag = head.get("ETag")
    size = head.get("ContentLength")
    md5_match = _MD5_ETAG.match(etag or "")
    attempt = 0
    with resolver.cache.pending(ref.identity) as pending:
        while True:
            kwargs = {"IfMatch": etag} if etag else {}
            body = _call(ref, s3.get_object, Bucket=ref.bucket, Key=ref.key, **kwargs)["Body"]
            md5 = hashlib.md5(usedforsecurity=False)
            try:
                for chunk in body.iter_chunks(CHUNK_SIZE):
                    pending.write(chunk)
                    md5.update(chunk)
                if size is not None and pending.size != size:
                    raise IncompleteDownload(f"received {pending.size} bytes where {size} were announced", url=ref.raw)
                if md5_match and md5.hexdigest() != md5_match.group(1):
                    raise IncompleteDownload("the content does not match the object's MD5 (ETag)", url=ref.raw)
                return pending.commit(
                    ref.filename,
                    source=ref.uri,
                    expected_size=size,
                    kind=ref.kind,
                    content_type=head.get("ContentType"),
                    etag=etag,
                    last_modified=str(head.get("LastModified") or "") or None,
                )
            except Exception as exc:  # botocore raises several unrelated types for a broken stream
                error = exc if isinstance(exc, UpstreamError) else _translate(ref, exc)
                if attempt >= settings.retries:
                    raise error from None
                attempt += 1
                time.sleep(settings.backoff_factor * (2 ** (attempt - 1)))
                pending.restart()
            finally:
                body.close()


def _call(ref: CloudRef, method: Any, **kwargs: Any) -> Any:
    try:
        return method(**kwargs)
    except Exception as exc:  # noqa: BLE001 - translated into the typed errors below
        raise _translate(ref, exc) from None


def _translate(ref: CloudRef, exc: Exception) -> UpstreamError:
    from botocore import exceptions as boto

    if isinstance(exc, boto.ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in ("404", "NoSuchKey", "NoSuchBucket", "NotFound") or status == 404:
            return RemoteNotFound(f"no such S3 object ({code})", status_code=404, url=ref.uri)
        if (
            code in ("403", "AccessDenied", "AllAccessDisabled", "InvalidAccessKeyId", "SignatureDoesNotMatch")
            or status == 403
        ):
            return AccessDenied(
                f"S3 refused access ({code}): check the AWS credentials and the bucket policy, or pass "
                "the task id so the object is fetched through Label Studio",
                status_code=403,
                url=ref.uri,
            )
        if code == "PreconditionFailed" or status == 412:
            return IncompleteDownload("the object changed during the download", url=ref.uri)
        return UpstreamHTTPError(f"S3 error {code}", status_code=status or 500, url=ref.uri)
    if isinstance(exc, boto.ReadTimeoutError | boto.ConnectTimeoutError):
        return UpstreamTimeout(f"S3 timed out ({type(exc).__name__})", url=ref.uri)
    if isinstance(exc, boto.EndpointConnectionError | boto.ConnectionClosedError):
        return UpstreamUnavailable(f"cannot reach S3 ({type(exc).__name__})", url=ref.uri)
    return IncompleteDownload(f"the S3 transfer broke ({type(exc).__name__})", url=ref.uri)
