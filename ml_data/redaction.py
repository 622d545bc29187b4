"""Make URLs safe to print: no passwords, tokens or signatures in messages, logs or metadata."""

from __future__ import annotations

import base64
import binascii
import functools
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "***"

# Query parameters whose values are credentials or signatures, compared in lower case.
# The S3, GCS and Azure names are those their presigned/SAS URLs carry.
_SECRET_PARAMS = frozenset(
    {
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "api_key",
        "apikey",
        "key",
        "password",
        "passwd",
        "secret",
        "client_secret",
        "auth",
        "authorization",
        "jwt",
        "code",
        "session",
        "sessionid",
        "signature",
        "sig",
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
        "awsaccesskeyid",
        "x-goog-signature",
        "x-goog-credential",
        "googleaccessid",
        "skoid",
        "sktid",
    }
)
_DATA_URI_PREVIEW = 40


def is_secret_param(name: str) -> bool:
    """True for a query parameter that carries a credential or a signature."""
    return name.lower() in _SECRET_PARAMS


def redact_url(url: str | None) -> str:
    """Return ``url`` with passwords, tokens and signatures replaced by ``***``.

    >>> redact_url("https://u:pw@h/x.jpg?X-Amz-Signature=abc&v=1")
    'https://u:***@h/x.jpg?X-Amz-Signature=***&v=1'
    """
    if url is None:
        return ""
    if len(url) <= 4096:
        return _redact_memo(url)
    return _redact(url)


@functools.lru_cache(maxsize=65536)
def _redact_memo(url: str) -> str:
    return _redact(url)


def _redact(url: str) -> str:
    if url[:5].lower() == "data:":
        # Payloads can be megabytes long and may hold private content.
        head, _, payload = url.partition(",")
        return f"{head[:_DATA_URI_PREVIEW]},<{len(payload)} characters>"
    try:
        parts = urlsplit(url)
    except ValueError:
        return _redact_unsplittable(url)
    netloc, query = _redact_netloc(parts.netloc), _redact_query(parts.query)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _redact_netloc(netloc: str) -> str:
    if "@" not in netloc:
        return netloc
    userinfo, _, hostport = netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return f"{user}:{REDACTED}@{hostport}" if ":" in userinfo else f"{REDACTED}@{hostport}"


def _redact_query(query: str) -> str:
    if not query:
        return query
    pairs = parse_qsl(query, keep_blank_values=True)
    kept = [
        (name, REDACTED if is_secret_param(name) else _redact_fileuri(value) if name == "fileuri" else value)
        for name, value in pairs
    ]
    return query if kept == pairs else urlencode(kept, safe="*/")


def _redact_fileuri(value: str) -> str:
    """A Label Studio resolve link's ``fileuri``: a storage URI in urlsafe base64 (or plain, in
    older links). The secrets of that URI are masked too; a base64 value stays base64."""
    if "://" in value:
        return _redact(value)
    try:
        decoded = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("utf-8")
    except (binascii.Error, ValueError):
        return value
    if "://" not in decoded:
        return value
    redacted = _redact(decoded)
    return value if redacted == decoded else base64.urlsafe_b64encode(redacted.encode("utf-8")).decode("ascii")


def _redact_unsplittable(url: str) -> str:
    """A string ``urlsplit`` refuses (``file://[x``, a host that changes under NFKC), split by
    hand so that errors still name it (and two such URLs stay apart), its secrets masked all
    the same."""
    rest, hash_sign, fragment = url.partition("#")
    rest, question_mark, query = rest.partition("?")
    scheme, separator, rest = rest.partition("://")
    if separator:
        netloc, slash, path = rest.partition("/")
        rest = _redact_netloc(netloc) + slash + path
    return f"{scheme}{separator}{rest}{question_mark}{_redact_query(query)}{hash_sign}{fragment}"


def redact_secret(text: str, secret: str | None) -> str:
    """Replace every occurrence of ``secret`` in ``text`` (for messages that echo a server's reply)."""
    if not secret or len(secret) < 4:
        return text
    return text.replace(secret, REDACTED)
