"""Resolving many URLs at once: a bounded thread pool over one shared connection pool.

URLs with the same identity (the same file, e.g. re-signed presigned URLs) are resolved once.
A failing URL is reported with its error in the result; it never stops the others, and is not
logged one by one (a single warning says how many failed).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

from tqdm import tqdm

from ml_data.config import DEFAULT_WORKERS, Settings
from ml_data.errors import ConfigurationError, MlDataError, UpstreamError
from ml_data.http import DEFAULT_POOL_SIZE, new_session
from ml_data.labelstudio import http_client
from ml_data.redaction import redact_url
from ml_data.resolvers.base import LocalFile
from ml_data.resolvers.resolver import Resolver

logger = logging.getLogger(__name__)

#: A URL, or a (URL, task id) pair when the task is known.
ResourceRequest = str | tuple[str, int | None]


@dataclass(frozen=True)
class BulkResult:
    """Per URL (as given): its local file, or the error that stopped it."""

    files: dict[str, LocalFile] = field(default_factory=dict)
    errors: dict[str, MlDataError] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def resolve_many(
    urls: Iterable[ResourceRequest],
    *,
    workers: int = DEFAULT_WORKERS,
    progress: bool = True,
    refresh: bool = False,
    settings: Settings | None = None,
    resolver: Resolver | None = None,
) -> BulkResult:
    """Resolve every URL in parallel with at most ``workers`` threads.

    ``progress`` shows a progress bar when standard error is a terminal.

    >>> result = resolve_many(["/data/upload/3/a.jpg", ("s3://b/k.jpg", 12)])  # doctest: +SKIP
    >>> result.files, result.errors  # doctest: +SKIP
    """
    if workers < 1:
        raise ConfigurationError(f"workers must be at least 1, got {workers}")
    if resolver is None:
        settings = settings or Settings.from_env()
        # One session for all workers: its pools (one per origin) hold a connection per worker.
        session = new_session(settings, pool_maxsize=max(workers, DEFAULT_POOL_SIZE))
        resolver = Resolver(settings, http=http_client(settings, session=session))
    if refresh:
        resolver = resolver.refreshing()

    result = BulkResult()
    groups: dict[str, list[str]] = {}
    first_request: dict[str, tuple[str, int | None]] = {}
    for item in urls:
        url, task_id = (item, None) if isinstance(item, str) else item
        try:
            identity = resolver.parse(url).identity
        except MlDataError as exc:
            exc.task_id = exc.task_id if exc.task_id is not None else task_id
            result.errors[url] = exc
            continue
        if identity not in groups:
            groups[identity] = []
            first_request[identity] = (url, task_id)
        groups[identity].append(url)

    def work(identity: str) -> tuple[str, LocalFile | MlDataError]:
        url, task_id = first_request[identity]
        try:
            return identity, resolver.resolve(url, task_id=task_id)
        except MlDataError as exc:
            return identity, exc
        except (OSError, ValueError, UnicodeError) as exc:
            # Never one URL's unforeseen failure for the whole batch: recorded like any other. The
            # caller gets it in the result; the traceback is only for debugging (logged louder, a
            # backend that reports the result would print the failure twice).
            logger.debug("unexpected error resolving %s", redact_url(url), exc_info=True)
            return identity, UpstreamError(f"unexpected error: {type(exc).__name__}", url=url, task_id=task_id)

    bar = tqdm(total=len(groups), unit="file", disable=not progress or not sys.stderr.isatty(), file=sys.stderr)
    with bar, ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ml-data") as pool:
        futures = [pool.submit(work, identity) for identity in groups]
        for future in as_completed(futures):
            identity, outcome = future.result()
            for url in groups[identity]:
                if isinstance(outcome, MlDataError):
                    result.errors[url] = outcome
                else:
                    result.files[url] = outcome
            bar.update(1)
    if result.errors:
        # One line for the batch: each failure is the caller's to report, from ``result.errors``.
        logger.warning("%d of %d URLs failed", len(result.errors), len(result.errors) + len(result.files))
    return result
