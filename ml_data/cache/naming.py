"""Names inside the cache: entry keys from identities (file names are made safe by
:func:`ml_data.fsutil.safe_filename`)."""

from __future__ import annotations

import hashlib


def cache_key(identity: str) -> str:
    """The full sha256 of an identity: the entry's folder name (collisions are not a concern)."""
    return hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()
