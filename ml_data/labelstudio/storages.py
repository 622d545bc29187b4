"""Which URIs name an object in a storage: ``<scheme>://<bucket>/<key>``. Pure: no IO.

Label Studio writes an object of any storage it knows as such a URI (``s3://``, ``gs://``,
``azure-blob://``, and ``b2://`` or others in newer and Enterprise versions) and serves it through
``/tasks/<id>/resolve/?fileuri=<base64 of the URI>``. ml-data has its own clients for S3, GCS and
Azure only; an object of any other storage is read through that endpoint, so the token goes to
Label Studio and nowhere else whatever the scheme. Treating a scheme as a storage can therefore
cost at most a question Label Studio answers with a 404; the schemes below are still refused, with
a clear error, because they name something else (a web page, a host to log in to, a script).

>>> storage_scheme("b2://bucket/cats/1.jpg"), storage_scheme("ftp://host/x.jpg")
('b2', None)
"""

from __future__ import annotations

import re

# RFC 3986: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ). One letter is a Windows drive ("c://x"),
# never a storage.
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+")

#: Schemes that are no storage: the web's and the ones ml-data reads itself, network protocols
#: that name a host (with a login, a port), browsers' own, and the prefixes of ml-data's own
#: cache identities. Compared in lower case.
NOT_STORAGE = frozenset(
    {
        "http",
        "https",
        "file",
        "data",
        "ws",
        "wss",
        "ftp",
        "ftps",
        "sftp",
        "tftp",
        "scp",
        "ssh",
        "telnet",
        "rsync",
        "smb",
        "cifs",
        "nfs",
        "afp",
        "dav",
        "davs",
        "webdav",
        "gopher",
        "dict",
        "ldap",
        "ldaps",
        "mailto",
        "news",
        "nntp",
        "imap",
        "imaps",
        "pop",
        "pop3",
        "smtp",
        "irc",
        "ircs",
        "xmpp",
        "sip",
        "sips",
        "tel",
        "rtsp",
        "rtsps",
        "rtmp",
        "rtmps",
        "mms",
        "git",
        "git+ssh",
        "svn",
        "svn+ssh",
        "hg",
        "redis",
        "rediss",
        "postgres",
        "postgresql",
        "mysql",
        "mongodb",
        "amqp",
        "amqps",
        "javascript",
        "vbscript",
        "about",
        "blob",
        "chrome",
        "chrome-extension",
        "moz-extension",
        "resource",
        "view-source",
        "jar",
        "filesystem",
        "label-studio-upload",
        "label-studio-local-files",
    }
)

# A bucket is a name: no login ("user:pw@"), port, query, fragment, escape or space. Label Studio
# compares it with its storage's bucket as written, so nothing else could match one anyway.
_BUCKET = re.compile(r"[^\s/?#@:\\%]+")


def storage_scheme(value: str) -> str | None:
    """The scheme (lower case) when ``value`` starts like a storage URI, ``<scheme>://`` with a
    scheme that is a storage's; None otherwise. The bucket and key are not looked at here."""
    scheme, sep, _ = value.partition("://")
    if not sep or not _SCHEME.fullmatch(scheme):
        return None
    lowered = scheme.lower()
    return None if lowered in NOT_STORAGE else lowered


def is_bucket_name(bucket: str) -> bool:
    """True for a bucket (container) name as a storage URI may hold it.

    >>> is_bucket_name("my-bucket"), is_bucket_name("user:secret@host")
    (True, False)
    """
    return bool(_BUCKET.fullmatch(bucket))


__all__ = ["NOT_STORAGE", "is_bucket_name", "storage_scheme"]
