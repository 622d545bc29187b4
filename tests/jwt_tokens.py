"""Unsigned JWTs shaped like Label Studio's personal access and access tokens (tests only)."""

from __future__ import annotations

import base64
import json
import time


def _segment(value: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def make_jwt(kind: str, *, lifetime: float = 300.0, serial: int = 0) -> str:
    header = {"alg": "HS256", "typ": "JWT"}
    payload = {"token_type": kind, "exp": int(time.time() + lifetime), "jti": f"{kind}-{serial}"}
    return f"{_segment(header)}.{_segment(payload)}.c2lnbmF0dXJl"
