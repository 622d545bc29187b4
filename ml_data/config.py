"""Settings: read from the environment once, then passed in (never re-read deep inside the code)."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from ml_data.errors import ConfigurationError
from ml_data.parsing import (
    MIN_SIGNING_KEY,
    normalize_label_studio_url,
    normalize_service_url,
    parse_bool,
    parse_duration,
    parse_path,
    parse_paths,
    parse_seconds,
    parse_signing_key,
    parse_size,
    parse_whole_number,
)
from ml_data.settings_table import read_fields, setting, variable_names


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CACHE_HOME/ml-data`` (``~/.cache/ml-data``), the cache used when nothing is configured."""
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ml-data"


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


#: Parallel downloads of resolve_many, fetch and prefetch. Remote stores answer after tens of
#: milliseconds: 32 requests in flight keep a client busy at 40 ms per answer, while each thread
#: waiting on a socket costs no CPU.
DEFAULT_WORKERS = 32


@dataclass(frozen=True)
class Settings:
    """Everything ml-data needs to know about its environment.

    Build it once with :meth:`from_env` (or directly, in tests and in code that knows better) and
    pass it down. Frozen and hashable, so resolvers can be shared per settings value.

    The class body is the table of settings: each ``setting(...)`` field names its environment
    variables (the first one set wins), its parser, its default and what it means. From it,
    ``ml_data.settings_table.table(Settings)`` lists the rows and :data:`ENV_NAMES` is derived.
    Fields without variables are set in code only (the proxies and cloud variables by :meth:`read`).

    >>> Settings.from_env({"LABEL_STUDIO_URL": "http://ls:8080/"}).label_studio_url
    'http://ls:8080'
    """

    label_studio_url: str | None = setting(
        "LABEL_STUDIO_URL",
        "LABEL_STUDIO_HOST",
        parse=str,
        default=None,
        doc="Label Studio's URL with its scheme, e.g. http://label-studio:8080",
    )
    api_key: str | None = setting(
        "LABEL_STUDIO_API_KEY",
        "LABEL_STUDIO_ACCESS_TOKEN",
        parse=str,
        default=None,
        secret=True,
        doc="a legacy API token or a personal access token (a JWT refresh token); never printed",
    )
    local_files_root: Path | None = setting(
        "LOCAL_FILES_DOCUMENT_ROOT",
        "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT",
        parse=parse_path,
        default=None,
        doc="where /data/local-files/?d= paths are read from, in place",
    )
    upload_dir: Path | None = setting(
        "ML_DATA_UPLOAD_DIR",
        parse=parse_path,
        default=None,
        doc="the folder holding Label Studio uploads as <project id>/<file name> (its media/upload)",
    )
    extra_local_roots: tuple[Path, ...] = setting(
        "ML_DATA_LOCAL_ROOTS",
        parse=parse_paths,
        default=(),
        doc="further folders (separated by os.pathsep) whose files plain paths and file:// URLs may name",
    )
    cache_dir: Path = setting(
        "ML_DATA_CACHE_DIR",
        parse=parse_path,
        factory=default_cache_dir,
        doc="the cache folder (default $XDG_CACHE_HOME/ml-data, i.e. ~/.cache/ml-data)",
    )
    cache_max_size: int | None = setting(
        "ML_DATA_CACHE_MAX_SIZE",
        parse=parse_size,
        default=None,
        doc="bytes the cache may hold: least recently used entries are evicted beyond it",
    )
    cache_ttl: float = setting(
        "ML_DATA_CACHE_TTL",
        parse=parse_duration,
        default=24 * 3600.0,
        doc="seconds before an http source is revalidated (If-None-Match / If-Modified-Since)",
    )
    cache_verify: str = setting(
        "ML_DATA_CACHE_VERIFY",
        parse=str,
        default="size",
        doc='how a cache hit is checked: "size" (cheap) or "hash" (re-hash the file on every hit)',
    )
    cache_eviction_grace: float = setting(
        "ML_DATA_CACHE_GRACE",
        parse=parse_duration,
        default=60.0,
        doc="entries used within this many seconds are never evicted (their users may be opening them)",
    )
    connect_timeout: float = setting(
        "ML_DATA_CONNECT_TIMEOUT",
        parse=parse_seconds,
        default=5.0,
        doc="seconds to wait for a connection",
    )
    read_timeout: float = setting(
        "ML_DATA_TIMEOUT",
        parse=parse_seconds,
        default=60.0,
        doc="seconds without a byte from the server before a request fails",
    )
    retries: int = setting(
        "ML_DATA_RETRIES",
        parse=parse_whole_number,
        default=3,
        doc="retries for connection errors, 429 and 5xx answers (with exponential backoff)",
    )
    backoff_factor: float = 0.5
    max_redirects: int = 10
    verify_ssl: bool = setting(
        "ML_DATA_VERIFY_SSL",
        parse=parse_bool,
        default=True,
        doc="false to skip TLS verification (prefer a CA bundle)",
    )
    ca_bundle: str | None = setting(
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        parse=str,
        default=None,
        doc="a CA bundle for TLS, when not the default one",
    )
    #: Proxies by scheme, from the usual *_proxy variables, and the no_proxy list (see read).
    proxies: tuple[tuple[str, str], ...] = ()
    no_proxy: str = ""
    s3_endpoint_url: str | None = setting(
        "ML_DATA_S3_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_ENDPOINT_URL",
        parse=str,
        default=None,
        doc="an S3-compatible endpoint (MinIO, an emulator); None for AWS itself",
    )
    #: Seconds to wait for another process that downloads the same resource.
    lock_timeout: float = 600.0
    max_file_size: int = setting(
        "ML_DATA_MAX_FILE_SIZE",
        parse=parse_size,
        default=20 * 1000**3,
        doc="largest file downloaded into the cache (bytes); larger ones fail with ResourceTooLarge",
    )
    # The read timeout alone lets a server that trickles a byte at a time hold a download forever.
    download_deadline: float = setting(
        "ML_DATA_DOWNLOAD_DEADLINE",
        parse=parse_duration,
        default=1800.0,
        doc="seconds one file's download may take in all, retries included",
    )
    cache_writer_timeout: float = setting(
        "ML_DATA_CACHE_WRITER_TIMEOUT",
        parse=parse_duration,
        default=15 * 60.0,
        doc="a cache temp file silent this long is a dead writer's (on any host sharing the cache)",
    )
    # Off where locks are not honoured, e.g. NFS without a lock manager: then duplicate downloads
    # are possible, corruption is not.
    cache_locking: bool = setting(
        "ML_DATA_CACHE_LOCKS",
        parse=parse_bool,
        default=True,
        doc="take per-entry locks so N processes download a file once",
    )
    service_url: str | None = setting(
        "ML_DATA_SERVICE_URL",
        parse=str,
        default=None,
        doc="the sidecar's URL as remote services reach it: the base of presign()'s signed links",
    )
    # Shared by the code that signs links (presign) and the sidecar that checks them.
    signing_key: str | None = setting(
        "ML_DATA_SIGNING_KEY",
        parse=parse_signing_key,
        default=None,
        secret=True,
        doc="the secret that signs and checks the sidecar's expiring /v1/resources links (32+ characters)",
    )
    #: The cloud SDKs' variables (credentials, emulator hosts) that were set: see CLOUD_VARIABLES.
    cloud_env: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    def cloud(self, name: str) -> str | None:
        """One of the cloud SDK variables read with these settings (None when it was not set)."""
        return dict(self.cloud_env).get(name)

    def __post_init__(self) -> None:
        if self.label_studio_url is not None:
            object.__setattr__(self, "label_studio_url", normalize_label_studio_url(self.label_studio_url))
        if self.service_url is not None:
            object.__setattr__(self, "service_url", normalize_service_url(self.service_url))
        if self.signing_key is not None and len(self.signing_key) < MIN_SIGNING_KEY:
            raise ConfigurationError(f"the signing key must be at least {MIN_SIGNING_KEY} characters")
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
        """Read the settings from ``environ``: each row of the table (see the class body), then the
        settings that several variables make up. Cloud credentials are left to each SDK's own
        environment and files; the SDK variables that are set are handed to it (``cloud_env``).
        """
        values = read_fields(cls, environ)
        # The default cache folder follows XDG_CACHE_HOME in the environment being read, not the
        # process's own (the dataclass default, for Settings built in code).
        values.setdefault("cache_dir", default_cache_dir(environ))
        # One proxy per scheme from the *_proxy variables (lower-case names win), no_proxy apart.
        proxies = _proxies(environ)
        values["proxies"] = tuple(sorted((scheme, url) for scheme, url in proxies.items() if scheme != "no"))
        values["no_proxy"] = proxies.get("no", "")
        values["cloud_env"] = cloud_environment(environ)
        return cls(**values)

    def with_changes(self, **changes: object) -> Settings:
        """A copy with some fields changed (settings themselves never change)."""
        return replace(self, **changes)  # type: ignore[arg-type]


#: Every environment variable :meth:`Settings.read` depends on (the key of the from_env memo): the
#: table's, the default cache folder's (HOME also expands ``~`` in every path), the proxies', the
#: cloud SDKs'.
ENV_NAMES = tuple(
    dict.fromkeys((*variable_names(Settings), "XDG_CACHE_HOME", "HOME", *PROXY_VARIABLES, *CLOUD_VARIABLES))
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
