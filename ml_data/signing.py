"""Signed, expiring links to one resource of the sidecar (pure: no clock, no network).

A link names the resource URL, the task it belongs to and the second it stops working; the
signature is HMAC-SHA256 of the three under ``ML_DATA_SIGNING_KEY``, shared by the code that makes
links (:func:`ml_data.presign`) and the sidecar that checks them. The signed text is a JSON array,
so no choice of URL can make two different (url, task, expiry) triples sign the same bytes.

>>> key = "k" * 32
>>> signature = sign_resource(key, "/data/upload/3/x.jpg", 12, 1_900_000_000)
>>> signature_matches(key, "/data/upload/3/x.jpg", 12, 1_900_000_000, signature)
True
>>> signature_matches(key, "/data/upload/3/y.jpg", 12, 1_900_000_000, signature)
False
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re

#: The query parameters of a signed link, beside ``url`` and the optional ``task_id``.
EXPIRES, SIGNATURE = "expires", "signature"
#: Longest life of a link: the clouds' own presigned URLs allow at most 7 days (S3 SigV4, GCS V4).
MAX_LIFETIME = 7 * 24 * 3600
_HEX_SIGNATURE = re.compile(r"[0-9a-f]{64}")
#: Names what is signed, so a signature made for something else under the same key never fits.
_PURPOSE = "ml-data resource link v1"


def _message(url: str, task_id: int | None, expires: int) -> bytes:
    # ensure_ascii: a lone surrogate or any other odd character is escaped, never an encoding error.
    return json.dumps([_PURPOSE, url, task_id, expires], ensure_ascii=True, separators=(",", ":")).encode("ascii")


def sign_resource(key: str, url: str, task_id: int | None, expires: int) -> str:
    """The hex signature of a link to ``url`` of task ``task_id`` valid until ``expires`` (Unix time)."""
    return hmac.new(key.encode("utf-8"), _message(url, task_id, expires), hashlib.sha256).hexdigest()


def signature_matches(key: str, url: str, task_id: int | None, expires: int, signature: str) -> bool:
    """Whether ``signature`` signs exactly this (url, task id, expiry), compared in constant time."""
    if not _HEX_SIGNATURE.fullmatch(signature):
        return False
    expected = sign_resource(key, url, task_id, expires)
    return hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii"))


__all__ = ["EXPIRES", "MAX_LIFETIME", "SIGNATURE", "sign_resource", "signature_matches"]
