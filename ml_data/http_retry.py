"""How the session retries: connection errors, 429 and 5xx with backoff, within the current deadline.

urllib3's :class:`~urllib3.util.retry.Retry` would sleep as long as a server's ``Retry-After``
asks and try again after the call's deadline has passed; :class:`BoundedRetry` does neither. Its
retries are logged at debug level on the client's logger, redacted, instead of urllib3's warning
(which shows the request path, query and token included).
"""

from __future__ import annotations

import logging

from urllib3.util.retry import Retry

from ml_data import deadline as _deadline
from ml_data.http_errors import failure_reason

# The client's log: the retry lines belong with the requests they retry.
logger = logging.getLogger("ml_data.http")


class BoundedRetry(Retry):
    """urllib3's Retry, but a server's ``Retry-After`` cannot make us sleep for an hour, and no
    sleep or new attempt goes past the current call's deadline."""

    MAX_RETRY_AFTER = 30.0

    def get_retry_after(self, response):  # type: ignore[no-untyped-def]
        seconds = super().get_retry_after(response)
        return None if seconds is None else _time_left(min(seconds, self.MAX_RETRY_AFTER))

    def get_backoff_time(self) -> float:
        return _time_left(super().get_backoff_time())

    def is_exhausted(self) -> bool:
        deadline = _deadline.current()
        return super().is_exhausted() or (deadline is not None and deadline.expired())


def _time_left(seconds: float) -> float:
    """``seconds``, cut to what is left of the current deadline (if any)."""
    deadline = _deadline.current()
    return seconds if deadline is None else max(0.0, min(seconds, deadline.remaining()))


class _RetryLogFilter(logging.Filter):
    """urllib3 warns before each retry of a connection with the pool's internals and the request
    path (query included): noise before the real error, and a token in the log. For our own pools
    the line is dropped, and the retry logged at debug level, redacted, by this module."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        if not (args and isinstance(args[0], BoundedRetry)):
            return True
        error = args[1] if len(args) > 1 and isinstance(args[1], BaseException) else None
        logger.debug("retrying (%s) after %s", _retries_left(args[0]), failure_reason(error) if error else "an error")
        return False


def _retries_left(retry: Retry) -> str:
    return f"{retry.total} left" if isinstance(retry.total, int) else "retries left"


logging.getLogger("urllib3.connectionpool").addFilter(_RetryLogFilter())
