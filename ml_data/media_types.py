"""Media types as ml-data keeps them: a checked ``type/subtype``, or ``application/octet-stream``.

A content type reaches the cache from places nobody checked: a ``data:`` URI's header, an HTTP
server's ``Content-Type``, a cloud object's metadata, an entry's metadata file (written by an older
version, or edited by hand). The service repeats it in its own ``Content-Type`` header, where a
CR/LF breaks every answer for that entry and anything else is reflected as is. So only RFC 9110's
``type "/" subtype`` (two tokens, at most 127 characters each as RFC 6838 allows) passes, in lower
case; parameters are dropped (ml-data never kept them for ``data:`` URIs or HTTP); anything else
becomes ``application/octet-stream``, which clients treat as opaque bytes.
"""

from __future__ import annotations

import re

OCTET_STREAM = "application/octet-stream"
#: RFC 6838: type and subtype names are at most 127 characters each.
MAX_NAME_LENGTH = 127
# RFC 9110 section 5.6.2 tchar, spelled out in ASCII. Matched before lower-casing: str.lower() turns
# some non-ASCII letters into ASCII ones (the Kelvin sign into "k").
_TOKEN = rf"[!#$%&'*+.^_`|~0-9A-Za-z-]{{1,{MAX_NAME_LENGTH}}}"
_MEDIA_TYPE = re.compile(rf"{_TOKEN}/{_TOKEN}")


def media_type(value: object) -> str | None:
    """The checked media type of a ``Content-Type`` value: None when there is none, else its
    lower-cased ``type/subtype`` without parameters, or ``application/octet-stream`` when it is
    not one (control characters, spaces, no ``/``, too long, not a string).

    >>> media_type("Image/PNG; charset=binary")
    'image/png'
    >>> media_type("text/plain\\r\\nSet-Cookie: a=b")
    'application/octet-stream'
    """
    if value is None:
        return None
    if not isinstance(value, str):
        return OCTET_STREAM
    # Parameters go first, so a bad one cannot spoil a good type; only the optional white space
    # RFC 9110 allows around them is stripped (never CR, LF or other control characters).
    essence = value.split(";", 1)[0].strip(" \t")
    if not essence:
        return None
    return essence.lower() if _MEDIA_TYPE.fullmatch(essence) else OCTET_STREAM


__all__ = ["MAX_NAME_LENGTH", "OCTET_STREAM", "media_type"]
