"""Pinned connections over TLS: the socket goes to the checked address while the TLS server name
and the certificate check stay the URL's host name."""

from __future__ import annotations

import datetime
import http.server
import ssl
import threading
from pathlib import Path

import pytest

from ml_data import Resolver, Settings
from ml_data.errors import UpstreamError


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for "localhost" only (made here: the tests fetch nothing)."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture
def tls_server(tmp_path):  # type: ignore[no-untyped-def]
    cert, key = _self_signed(tmp_path)
    served = tmp_path / "served"
    served.mkdir()
    (served / "x.txt").write_bytes(b"over tls")

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            super().__init__(*args, directory=str(served), **kwargs)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], cert
    finally:
        server.shutdown()
        server.server_close()


def _only_loopback_v4(host: str, port: int) -> tuple[str, ...]:
    assert host == "localhost"
    return ("127.0.0.1",)


def test_a_pinned_https_connection_keeps_the_host_name_for_tls(tls_server, tmp_path):
    from ml_data.http import HttpClient

    port, cert = tls_server
    settings = Settings(cache_dir=tmp_path / "cache", ca_bundle=str(cert), retries=0)
    resolver = Resolver(settings, http=HttpClient(settings, resolve_host=_only_loopback_v4))
    assert resolver.resolve(f"https://localhost:{port}/x.txt").path.read_bytes() == b"over tls"


def test_the_certificate_is_still_checked_against_the_url_host(tls_server, tmp_path):
    port, cert = tls_server
    resolver = Resolver(Settings(cache_dir=tmp_path / "cache", ca_bundle=str(cert), retries=0))
    with pytest.raises(UpstreamError, match="TLS failed"):
        resolver.resolve(f"https://127.0.0.1:{port}/x.txt")  # the certificate names localhost only
