"""Settings: read from the environment once, then passed in (never re-read deep inside the code)."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from ml_data.errors import ConfigurationError

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


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CACHE_HOME/ml-data`` (``~/.cache/ml-data``), the cache used when nothing is configured."""
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ml-data"


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


def _first(environ: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = environ.get(name)
        if value:
            return value
    return None


def _float(environ: Mapping[str, str], name: str, default: float) -> float:
    value = environ.get(name)
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number of seconds, got {value!r}") from None
    if number <= 0:
        raise ConfigurationError(f"{name} must be positive, got {value!r}")
    return number


def _bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
    value = environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigurationError(f"{name} must be true or false, got {value!r}")


#: The proxy variables that matter to http(s) requests (lower-case names win, as in urllib).
_PROXY_SCHEMES = ("http", "https", "all", "no")
PROXY_VARIABLES = tuple(name for scheme in _PROXY_SCHEMES for name in (f"{scheme.upper()}_PROXY", f"{scheme}_proxy"))


def _proxies(environ: Mapping[str, str]) -> dict[str, str]:
    """``http_proxy``, ``HTTPS_PROXY``, ``no_proxy``, ... by scheme."""
    found: dict[str, str] = {}
    for name in PROXY_VARIABLES:  # upper-case first, lower-case overrides
        value = environ.get(name)
        if value:
            found[name.lower()[: -len("_proxy")]] = value
    return found


#: The cloud SDKs' own variables, read once with the rest of the settings and handed to the SDKs
#: (rather than left for them to read from the environment at some later call).
CLOUD_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_CLOUD_PROJECT",
    "STORAGE_EMULATOR_HOST",
    "AZURE_STORAGE_CONNECTION_STRING",
    "AZURE_STORAGE_ACCOUNT",
    "AZURE_STORAGE_KEY",
)


def cloud_environment(environ: Mapping[str, str] | None = None) -> tuple[tuple[str, str], ...]:
    """The cloud SDK variables that are set, as a hashable value for :class:`Settings`."""
    env = os.environ if environ is None else environ
    return tuple((name, env[name]) for name in CLOUD_VARIABLES if env.get(name))


def _path(value: str | None) -> Path | None:
    return Path(value).expanduser() if value else None


DEFAULT_MAX_FILE_SIZE = 20 * 1000**3
#: Parallel downloads of resolve_many, fetch and prefetch. Remote stores answer after tens of
#: milliseconds: 32 requests in flight keep a client busy at 40 ms per answer, while each thread
#: waiting on a socket costs no CPU.
DEFAULT_WORKERS = 32


@dataclass(frozen=True)
class Settings:
    """Everything ml-data needs to know about its environment.

    Build it once with :meth:`from_env` (or directly, in tests and in code that knows better) and
    pass it down. Frozen and hashable, so resolvers can be shared per settings value.

    >>> Settings.from_env({"LABEL_STUDIO_URL": "http://ls:8080/"}).label_studio_url
    'http://ls:8080'
    """

    label_studio_url: str | None = None
    #: Legacy API token or personal access token (a JWT refresh token); never printed.
    api_key: str | None = field(default=None, repr=False)
    #: LOCAL_FILES_DOCUMENT_ROOT: where ``/data/local-files/?d=`` paths are read from, in place.
    local_files_root: Path | None = None
    #: The folder holding Label Studio uploads as ``<project id>/<file name>`` (its ``media/upload``).
    upload_dir: Path | None = None
    #: Further folders whose files may be returned in place for plain paths and ``file://`` URLs.
    extra_local_roots: tuple[Path, ...] = ()
    cache_dir: Path = field(default_factory=default_cache_dir)
    cache_max_size: int | None = None
    #: Seconds before an http source is revalidated (If-None-Match / If-Modified-Since).
    cache_ttl: float = 24 * 3600.0
    #: How a cache hit is checked: "size" (cheap) or "hash" (re-hash the file on every hit).
    cache_verify: str = "size"
    #: Entries used within this many seconds are never evicted (their users may be opening them).
    cache_eviction_grace: float = 60.0
    connect_timeout: float = 5.0
    #: Seconds without a byte from the server before a request fails.
    read_timeout: float = 60.0
    #: Retries for connection errors, 429 and 5xx answers (with exponential backoff).
    retries: int = 3
    backoff_factor: float = 0.5
    max_redirects: int = 10
    verify_ssl: bool = True
    #: CA bundle for TLS (REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE), when not the default one.
    ca_bundle: str | None = None
    #: Proxies by scheme, from the usual *_proxy variables, and the no_proxy list.
    proxies: tuple[tuple[str, str], ...] = ()
    no_proxy: str = ""
    #: S3-compatible endpoint (MinIO, an emulator); None for AWS itself.
    s3_endpoint_url: str | None = None
    #: Seconds to wait for another process that downloads the same resource.
    lock_timeout: float = 600.0
    #: Largest file downloaded into the cache (bytes); larger ones fail with ResourceTooLarge.
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    #: Seconds one file's download may take in all, retries included (the read timeout alone
    #: lets a server that trickles a byte at a time hold a download forever).
    download_deadline: float = 1800.0
    #: A cache temp file silent this long is a dead writer's (on any host sharing the cache).
    cache_writer_timeout: float = 15 * 60.0
    #: Take per-entry locks so N processes download a file once (off where locks are not
    #: honoured, e.g. NFS without a lock manager: then duplicates are possible, corruption is not).
    cache_locking: bool = True
    #: The cloud SDKs' variables (credentials, emulator hosts) that were set: see CLOUD_VARIABLES.
    cloud_env: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    def cloud(self, name: str) -> str | None:
        """One of the cloud SDK variables read with these settings (None when it was not set)."""
        return dict(self.cloud_env).get(name)

    def __post_init__(self) -> None:
        if self.label_studio_url is not None:
            object.__setattr__(self, "label_studio_url", normalize_label_studio_url(self.label_studio_url))
        # Absolute from the start: a relative folder would mean another place after a chdir, and
        # another again to code that resolves paths against its own root (Flask's send_file).
        object.__setattr__(self, "cache_dir", Path(self.cache_dir).expanduser().absolute())
        if self.max_file_size <= 0 or self.download_deadline <= 0:
            raise ConfigurationError("the file size limit and the download deadline must be positive")
        if self.cache_verify not in ("size", "hash"):
            raise ConfigurationError(f"cache verify policy must be 'size' or 'hash', got {self.cache_verify!r}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the settings from ``environ`` (default: ``os.environ``); see :meth:`read`.

        From ``os.environ``, the result is remembered per value of every variable it depends on
        (and the working directory): an ML backend calling ``get_local_path`` per image pays for
        reading the environment once, and a changed variable is still seen on the next call.
        """
        if environ is not None or cls is not Settings:
            return cls.read(os.environ if environ is None else environ)
        return _from_environment(os.getcwd(), environment_key(ENV_NAMES))

    @classmethod
    def read(cls, environ: Mapping[str, str]) -> Settings:
        """Read the settings from ``environ``.

        Names: ``LABEL_STUDIO_URL`` (or ``LABEL_STUDIO_HOST``), ``LABEL_STUDIO_API_KEY`` (or
        ``LABEL_STUDIO_ACCESS_TOKEN``), ``LOCAL_FILES_DOCUMENT_ROOT`` (or with the ``LABEL_STUDIO_``
        prefix), ``ML_DATA_UPLOAD_DIR``, ``ML_DATA_LOCAL_ROOTS`` (``os.pathsep``-separated),
        ``ML_DATA_CACHE_DIR``, ``ML_DATA_CACHE_MAX_SIZE``, ``ML_DATA_CACHE_TTL`` (e.g. ``12h``),
        ``ML_DATA_CACHE_VERIFY`` (``size`` or ``hash``), ``ML_DATA_CACHE_GRACE`` (entries used this
        recently are never evicted, default 60s), ``ML_DATA_TIMEOUT`` (read timeout),
        ``ML_DATA_CONNECT_TIMEOUT``, ``ML_DATA_RETRIES``, ``ML_DATA_VERIFY_SSL``,
        ``ML_DATA_S3_ENDPOINT_URL`` (or ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``),
        ``ML_DATA_MAX_FILE_SIZE`` (default 20GB), ``ML_DATA_DOWNLOAD_DEADLINE`` (default 30m),
        ``ML_DATA_CACHE_WRITER_TIMEOUT`` (default 15m: a cache temp file silent this long belongs to
        a dead writer), ``ML_DATA_CACHE_LOCKS`` (default true; false where locks are not honoured). Cloud
        credentials are left to each SDK's own environment and files.
        """
        env = environ
        max_size = env.get("ML_DATA_CACHE_MAX_SIZE")
        retries = env.get("ML_DATA_RETRIES", "3")
        if not retries.isdigit():
            raise ConfigurationError(f"ML_DATA_RETRIES must be a whole number, got {retries!r}")
        roots = tuple(Path(p).expanduser() for p in env.get("ML_DATA_LOCAL_ROOTS", "").split(os.pathsep) if p)
        proxies = _proxies(env)
        return cls(
            label_studio_url=_first(env, "LABEL_STUDIO_URL", "LABEL_STUDIO_HOST"),
            api_key=_first(env, "LABEL_STUDIO_API_KEY", "LABEL_STUDIO_ACCESS_TOKEN"),
            local_files_root=_path(_first(env, "LOCAL_FILES_DOCUMENT_ROOT", "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT")),
            upload_dir=_path(env.get("ML_DATA_UPLOAD_DIR")),
            extra_local_roots=roots,
            cache_dir=_path(env.get("ML_DATA_CACHE_DIR")) or default_cache_dir(env),
            cache_max_size=parse_size(max_size) if max_size else None,
            cache_ttl=parse_duration(env["ML_DATA_CACHE_TTL"]) if env.get("ML_DATA_CACHE_TTL") else 24 * 3600.0,
            cache_verify=env.get("ML_DATA_CACHE_VERIFY") or "size",
            cache_eviction_grace=parse_duration(env["ML_DATA_CACHE_GRACE"]) if env.get("ML_DATA_CACHE_GRACE") else 60.0,
            connect_timeout=_float(env, "ML_DATA_CONNECT_TIMEOUT", 5.0),
            read_timeout=_float(env, "ML_DATA_TIMEOUT", 60.0),
            retries=int(retries),
            verify_ssl=_bool(env, "ML_DATA_VERIFY_SSL", True),
            ca_bundle=_first(env, "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"),
            s3_endpoint_url=_first(env, "ML_DATA_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"),
            proxies=tuple(sorted((scheme, url) for scheme, url in proxies.items() if scheme != "no")),
            no_proxy=proxies.get("no", ""),
            max_file_size=parse_size(env["ML_DATA_MAX_FILE_SIZE"])
            if env.get("ML_DATA_MAX_FILE_SIZE")
            else DEFAULT_MAX_FILE_SIZE,
            download_deadline=parse_duration(env["ML_DATA_DOWNLOAD_DEADLINE"])
            if env.get("ML_DATA_DOWNLOAD_DEADLINE")
            else 1800.0,
            cache_writer_timeout=parse_duration(env["ML_DATA_CACHE_WRITER_TIMEOUT"])
            if env.get("ML_DATA_CACHE_WRITER_TIMEOUT")
            else 15 * 60.0,
            cloud_env=cloud_environment(env),
            cache_locking=_bool(env, "ML_DATA_CACHE_LOCKS", True),
        )

    def with_changes(self, **changes: object) -> Settings:
        """A copy with some fields changed (settings themselves never change)."""
        return replace(self, **changes)  # type: ignore[arg-type]


#: Every environment variable :meth:`Settings.read` depends on (the key of the from_env memo).
ENV_NAMES = (
    "LABEL_STUDIO_URL",
    "LABEL_STUDIO_HOST",
    "LABEL_STUDIO_API_KEY",
    "LABEL_STUDIO_ACCESS_TOKEN",
    "LOCAL_FILES_DOCUMENT_ROOT",
    "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT",
    "ML_DATA_UPLOAD_DIR",
    "ML_DATA_LOCAL_ROOTS",
    "ML_DATA_CACHE_DIR",
    "XDG_CACHE_HOME",
    "HOME",
    "ML_DATA_CACHE_MAX_SIZE",
    "ML_DATA_CACHE_TTL",
    "ML_DATA_CACHE_VERIFY",
    "ML_DATA_CACHE_GRACE",
    "ML_DATA_CONNECT_TIMEOUT",
    "ML_DATA_TIMEOUT",
    "ML_DATA_RETRIES",
    "ML_DATA_VERIFY_SSL",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "ML_DATA_S3_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ENDPOINT_URL",
    "ML_DATA_MAX_FILE_SIZE",
    "ML_DATA_DOWNLOAD_DEADLINE",
    "ML_DATA_CACHE_WRITER_TIMEOUT",
    "ML_DATA_CACHE_LOCKS",
    *PROXY_VARIABLES,
    *CLOUD_VARIABLES,
)


def environment_key(names: tuple[str, ...]) -> tuple[object, ...]:
    """The values of ``names`` in ``os.environ``, as a key for memos that depend on them.

    Called on every ``get_local_path``: it reads the environment's own store with names encoded
    once, where ``os.environ.get`` would encode each name and decode each value on every call.
    """
    raw = getattr(os.environ, "_data", None)
    encode = getattr(os.environ, "encodekey", None)
    if not isinstance(raw, dict) or encode is None:  # another implementation: the public way
        return tuple(os.environ.get(name) for name in names)
    encoded = _ENCODED_NAMES.get(names)
    if encoded is None:
        encoded = _ENCODED_NAMES[names] = tuple(encode(name) for name in names)
    return tuple(map(raw.get, encoded))


def environment_values(key: tuple[object, ...]) -> tuple[str | None, ...]:
    """The text of each value in an :func:`environment_key` (None for a variable not set)."""
    decode = getattr(os.environ, "decodevalue", str)
    return tuple(_text(value, decode) for value in key)


def _text(value: object, decode: Callable[[object], str]) -> str | None:
    return value if value is None or isinstance(value, str) else decode(value)


_ENCODED_NAMES: dict[tuple[str, ...], tuple[object, ...]] = {}


@functools.lru_cache(maxsize=32)
def _from_environment(cwd: str, key: tuple[object, ...]) -> Settings:
    """Settings for one state of the environment (``key``: the values of ENV_NAMES, as stored)."""
    del cwd  # part of the memo key only: relative paths in the variables mean another folder
    values = environment_values(key)
    return Settings.read({name: value for name, value in zip(ENV_NAMES, values, strict=True) if value is not None})
