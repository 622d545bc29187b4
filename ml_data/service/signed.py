"""Links made by :func:`ml_data.presign`: ``GET /v1/resources`` answered without the bearer token
when the query is a valid signature of the resource URL, its task and its expiry.

What a link opens is exactly what was signed: one resource (its ``url`` and ``task_id``), as bytes
(no ``as=path``, no other parameter), until ``expires``. Every parameter must appear once; any
other parameter, a changed byte anywhere, a past expiry or one further off than a link may live is
refused with 403 before anything is resolved.
"""

from __future__ import annotations

from werkzeug.datastructures import MultiDict

from ml_data.service.errors import ApiError
from ml_data.signing import EXPIRES, MAX_LIFETIME, SIGNATURE, signature_matches

#: The only parameters a signed link carries.
_PARAMETERS = frozenset({"url", "task_id", EXPIRES, SIGNATURE})
#: Clocks of the signer and the service may differ this much (seconds).
_CLOCK_SKEW = 300


def is_signed(args: MultiDict[str, str]) -> bool:
    """The request claims to be a signed link (then it must be a valid one)."""
    return SIGNATURE in args


def check_signed_link(args: MultiDict[str, str], key: str | None, now: float) -> None:
    """Raise a 403 :class:`ApiError` unless ``args`` are a valid, unexpired signed link."""
    if not key:
        raise ApiError(403, "forbidden", "signed links are not enabled on this service (ML_DATA_SIGNING_KEY)")
    for name, values in args.lists():
        if name not in _PARAMETERS:
            raise ApiError(403, "forbidden", f"a signed link takes no {name[:40]!r} parameter")
        if len(values) != 1:
            raise ApiError(403, "forbidden", f"a signed link gives {name!r} once")
    url, expires_text = args.get("url", ""), args.get(EXPIRES, "")
    task_text = args.get("task_id")
    if not url or not _digits(expires_text, 12) or (task_text is not None and not _digits(task_text, 18)):
        raise ApiError(403, "forbidden", "a signed link needs url, expires and signature (task_id: digits)")
    expires = int(expires_text)
    task_id = int(task_text) if task_text is not None else None
    if not signature_matches(key, url, task_id, expires, args.get(SIGNATURE, "")):
        raise ApiError(403, "forbidden", "the link's signature does not match")
    # Checked after the signature: a forger learns nothing about the clock from the answer.
    if expires <= now:
        raise ApiError(403, "forbidden", "the link has expired")
    if expires > now + MAX_LIFETIME + _CLOCK_SKEW:
        raise ApiError(403, "forbidden", "the link's expiry is further off than a link may live")


def _digits(text: str, most: int) -> bool:
    # str.isdigit() takes other scripts' digits too ("٣"): only ASCII is a number here.
    return 0 < len(text) <= most and text.isascii() and text.isdigit()
