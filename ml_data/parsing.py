"""How a setting's text becomes its value: sizes, durations, paths, numbers, flags, URLs and keys.

Each parser takes the text of one environment variable or option and returns a typed value, or
raises: :class:`~ml_data.errors.ConfigurationError` when it stands alone (a size on the command
line), :class:`~ml_data.settings_table.InvalidValue` when the settings table adds the variable's
name to the message. :mod:`ml_data.config` and :mod:`ml_data.service.config` build their settings
from them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

from ml_data.errors import ConfigurationError
from ml_data.settings_table import InvalidValue

_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "m": 1000**2,
    "mb": 1000**2,
    "g": 1000**3,
    "gb": 1000**3,
    "t": 1000**4,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}


def parse_size(text: str) -> int:
    """Parse a size such as ``20GB``, ``512MiB`` or ``1048576`` into bytes.

    >>> parse_size("1.5 GB")
    1500000000
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    if not match or match.group(2).lower() not in _SIZE_UNITS:
        raise ConfigurationError(f"not a size: {text!r} (use e.g. 20GB, 512MiB or a number of bytes)")
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()])


_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> float:
    """Parse a duration such as ``30d``, ``12h``, ``15m``, ``45s`` or ``90`` (seconds).

    >>> parse_duration("30d")
    2592000.0
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]?)\s*", text)
    if not match or match.group(2).lower() not in _DURATION_UNITS:
        raise ConfigurationError(f"not a duration: {text!r} (use e.g. 30d, 12h, 15m, 45s)")
    return float(match.group(1)) * _DURATION_UNITS[match.group(2).lower()]


def normalize_label_studio_url(url: str) -> str:
    """Check that a Label Studio URL has a scheme and host, and drop the trailing slash."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # urlsplit's own refusal of a malformed bracketed host ("http://[x")
        valid = False
    if not valid:
        raise ConfigurationError(
            f"invalid Label Studio URL {url!r}: give the full URL with its scheme, e.g. http://label-studio:8080"
        )
    return url.rstrip("/")


def normalize_service_url(url: str) -> str:
    """``ML_DATA_SERVICE_URL``: an http(s) URL with a host, a path prefix allowed, no query or
    fragment; without the trailing slash."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname) and not parts.query and not parts.fragment
    except ValueError:
        valid = False
    if not valid or "#" in url or "?" in url:
        raise ConfigurationError(
            f"ML_DATA_SERVICE_URL must be an http(s) URL without query, e.g. https://data.example.com, got {url!r}"
        )
    return url.rstrip("/")


#: Shortest signing key accepted: HMAC-SHA256 keys shorter than the hash add no strength.
MIN_SIGNING_KEY = 32


def parse_signing_key(text: str) -> str:
    """A secret of at least :data:`MIN_SIGNING_KEY` characters (``openssl rand -hex 32`` makes one)."""
    key = text.strip()
    if len(key) < MIN_SIGNING_KEY:
        raise InvalidValue(f"must be at least {MIN_SIGNING_KEY} characters (openssl rand -hex 32 makes one)")
    return key


def parse_path(text: str) -> Path:
    """A folder or file named in a variable (``~`` expanded)."""
    return Path(text).expanduser()


def parse_paths(text: str) -> tuple[Path, ...]:
    """Folders separated by ``os.pathsep`` (``:``), empty items skipped."""
    return tuple(Path(part).expanduser() for part in text.split(os.pathsep) if part)


def parse_seconds(text: str) -> float:
    """A positive number of seconds (a timeout)."""
    try:
        number = float(text)
    except ValueError:
        raise InvalidValue("must be a number of seconds") from None
    if number <= 0:
        raise InvalidValue("must be positive")
    return number


def parse_whole_number(text: str) -> int:
    """A count such as a number of retries: digits only (no sign, no spaces)."""
    if not text.isdigit():
        raise InvalidValue("must be a whole number")
    return int(text)


def parse_bool(text: str) -> bool:
    """``1/true/yes/on`` or ``0/false/no/off``, in any case."""
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise InvalidValue("must be true or false")
