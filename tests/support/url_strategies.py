"""Hypothesis strategies for hostile URL strings: any text, and text shaped like a URL from the
pieces that break parsers (schemes, brackets, ports, percent-escapes, unicode that changes under
NFKC, NUL, white space, lone surrogates, Label Studio's own paths).

``REPORTED`` are strings that once stopped a whole batch (``urlsplit`` raised a bare ValueError).
"""

from __future__ import annotations

from hypothesis import strategies as st

from ml_data.errors import MlDataError
from ml_data.resolvers.parse import parse_ref
from ml_data.resolvers.refs import CloudRef, HttpRef

REPORTED = ("file://[x", "foo://[", "a://]", "file://]:0", "a://[127.0.0.1x]", "foo://]\\\\é[")

_SCHEMES = ["http", "https", "HTTP", "file", "FILE", "s3", "gs", "azure-blob", "data", "foo", "a", "c", "ftp", ""]
_SEPARATORS = ["://", ":", ":/", ":///", "//", ""]
_AUTHORITY = [
    "[",
    "]",
    "[x",
    "x]",
    "[::1]",
    "[::1",
    "::1]",
    "[v1.x]",
    "[fe80::1%25eth0]",
    "[::ffff:127.0.0.1]",
    "127.0.0.1",
    "localhost",
    "h",
    "example.com",
    "user@",
    "u:p@",
    ":0",
    ":80",
    ":65536",
    ":99999",
    ":-1",
    ":",
    ":\uff18\uff10",  # fullwidth digits
    "\u2100",  # NFKC: "a/c"
    "\uff03",  # NFKC: "#"
    "%41",
    "é",
]
_PATH = [
    "/",
    "..",
    ".",
    "%2e",
    "%2F",
    "%00",
    "%",
    "%zz",
    "%ff",
    "%ed%a0%80",
    "a.jpg",
    "é",
    "\ud800",
    "\U0001f600",
    "\x00",
    " ",
    "\t",
    "\n",
    "\r",
    "\\",
    "?",
    "#",
    "&",
    "=",
    "d=",
    "token=secret",
    "data/upload/1/",
    "data/local-files/",
    "tasks/1/resolve/",
    "storage-data/uploaded/",
    "fileuri=",
    "czM6Ly9iL2s=",
    "base64,",
    "[",
    "]",
    "n" * 300,  # longer than a file name may be
]


def _joined(pieces: list[str]) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(pieces), max_size=6).map("".join)


#: Strings shaped like URLs, built from the pieces above.
url_shaped = st.builds(
    lambda scheme, separator, authority, path: scheme + separator + authority + path,
    st.sampled_from(_SCHEMES),
    st.sampled_from(_SEPARATORS),
    _joined(_AUTHORITY),
    _joined(_PATH),
)

#: Any string at all, or one shaped like a URL, or one of the reported ones.
any_url = st.one_of(st.sampled_from(REPORTED), url_shaped, st.text(max_size=80))


def reaches_network(url: str) -> bool:
    """True for a URL that the library, unguarded, would connect somewhere for (an http(s) URL,
    a presigned cloud URL): tests only talk to the servers they start themselves."""
    try:
        ref = parse_ref(url)
    except MlDataError:
        return False
    return isinstance(ref, HttpRef) or (isinstance(ref, CloudRef) and ref.via != "uri")
