"""JWTs shaped and signed like Label Studio's personal access (refresh) and access tokens, with a
test key (HS256, as Label Studio's simplejwt signs them), and their verification for the fake
Label Studio. Tests only."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

TEST_KEY = b"ml-data-tests-signing-key"


def _segment(value: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def _signature(signing_input: str, key: bytes) -> str:
    digest = hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def make_jwt(kind: str, *, lifetime: float = 300.0, serial: int = 0, key: bytes = TEST_KEY) -> str:
    header = {"alg": "HS256", "typ": "JWT"}
    now = int(time.time())
    payload = {"token_type": kind, "exp": int(now + lifetime), "iat": now, "jti": f"{kind}-{serial}", "user_id": 1}
    signing_input = f"{_segment(header)}.{_segment(payload)}"
    return f"{signing_input}.{_signature(signing_input, key)}"


def verify_jwt(token: str, *, key: bytes = TEST_KEY) -> dict | None:
    """The payload of a token signed with ``key`` and not expired, else None."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    if not hmac.compare_digest(_signature(f"{parts[0]}.{parts[1]}", key), parts[2]):
        return None
    payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    return payload if payload.get("exp", 0) > time.time() else None
