"""``data:`` URIs (RFC 2397): their parts, their bytes, and the name of a file holding them.

Pure, shared by the resolver (which decodes them into the cache) and the formats (which name
the media file a dataset refers to), so both read the same bytes from the same URI.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from types import MappingProxyType
from urllib.parse import unquote

from ml_data.media_types import media_type as checked_media_type

#: The file extension for each media type a task's inline media commonly has; any other is ``.bin``.
EXTENSIONS = MappingProxyType(
    {
        "image/png": ".png",
        "image/jpeg": ".jpg",
        "image/jpg": ".jpg",
        "image/gif": ".gif",
        "image/webp": ".webp",
        "image/bmp": ".bmp",
        "image/tiff": ".tif",
        "image/svg+xml": ".svg",
        "audio/wav": ".wav",
        "audio/x-wav": ".wav",
        "audio/wave": ".wav",
        "audio/mpeg": ".mp3",
        "audio/flac": ".flac",
        "audio/ogg": ".ogg",
    }
)
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class DataURI:
    """A ``data:`` URI read into its parts: the checked media type (RFC 2397's default
    ``text/plain`` when it names none), whether the payload is base64, and the payload as written."""

    media_type: str
    is_base64: bool
    payload: str

    def decode(self) -> bytes:
        """The payload's bytes; :class:`ValueError` (``binascii.Error``) for base64 that is not.

        White space in base64 is skipped and missing padding added, as browsers do."""
        if self.is_base64:
            compact = _SPACE.sub("", unquote(self.payload))
            return base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
        return unquote(self.payload).encode("utf-8", "surrogatepass")


def split_data_uri(uri: str) -> DataURI | None:
    """The parts of ``uri`` (which starts with ``data:``); None when it has no ``,`` before a payload.

    >>> split_data_uri("data:image/png;base64,iVBORw0KGgo=")
    DataURI(media_type='image/png', is_base64=True, payload='iVBORw0KGgo=')
    """
    head, comma, payload = uri[5:].partition(",")
    if not comma:
        return None
    params = head.split(";")
    is_base64 = params[-1].strip().lower() == "base64"
    return DataURI(checked_media_type(params[0]) or "text/plain", is_base64, payload)


def data_uri_name(uri: str) -> str:
    """A file name for the content of a ``data:`` URI: ``data-`` and the first 16 hex digits of
    its bytes' sha256 (the digest ml-data records for the file), with the extension of its media
    type (:data:`EXTENSIONS`, else ``.bin``). The same content always gets the same name, and
    different content a different one; a URI whose payload does not decode is named by the
    hash of its text.

    >>> data_uri_name("data:image/png;base64,iVBORw0KGgo=")
    'data-4c4b6a3be1314ab8.png'
    """
    parts = split_data_uri(uri)
    try:
        content = parts.decode() if parts is not None else None
    except ValueError:
        content = None
    if content is None:
        content = uri.encode("utf-8", "surrogatepass")
    extension = EXTENSIONS.get(parts.media_type, ".bin") if parts is not None else ".bin"
    return f"data-{hashlib.sha256(content).hexdigest()[:16]}{extension}"


__all__ = ["EXTENSIONS", "DataURI", "data_uri_name", "split_data_uri"]
