"""nginx in front of an ``ml-data serve`` process, with the shipped server block
(docker/nginx/ml-data.conf.template) rendered as the official nginx image renders it."""

from __future__ import annotations

import getpass
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.servers.processes import running

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = ROOT / "docker" / "nginx" / "ml-data.conf.template"
#: The internal location of the shipped template (the service's ML_DATA_ACCEL_REDIRECT).
ACCEL_LOCATION = "/_ml_data_cache/"


def nginx_binary() -> str | None:
    return shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)


def render(template: str, values: dict[str, str]) -> str:
    """What the image's envsubst step does with the template's ${ML_DATA_...} variables."""
    rendered = re.sub(r"\$\{(ML_DATA_[A-Z_]+)\}", lambda match: values[match[1]], template)
    if "${" in rendered:
        raise ValueError("a variable of the template was not given")
    return rendered


def main_config(server_block: str, prefix: Path) -> str:
    """The main file around the server block, as a distribution's nginx.conf includes it, with its
    temp files, pid and logs in ``prefix``."""
    temp = "\n".join(
        f"    {kind}_temp_path {prefix / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    # Started as root, nginx's workers switch to an unprivileged user that cannot enter a private
    # temp folder; in a deployment that user needs read access to the cache volume.
    user = f"user {getpass.getuser()};\n" if os.geteuid() == 0 else ""
    return (
        f"daemon off;\n{user}worker_processes 1;\npid {prefix / 'nginx.pid'};\nerror_log {prefix / 'error.log'};\n"
        "events { worker_connections 1024; }\n"
        f"http {{\n    include /etc/nginx/mime.types;\n    access_log off;\n{temp}\n{server_block}\n}}\n"
    )


@contextmanager
def nginx_in_front(work: Path, *, listen_port: int, service_port: int, cache_dir: Path) -> Iterator[str]:
    """Run nginx with the shipped config on 127.0.0.1:``listen_port``; yields its base URL."""
    binary = nginx_binary()
    if binary is None:
        raise RuntimeError("nginx is not installed")
    values = {
        "ML_DATA_LISTEN": f"127.0.0.1:{listen_port}",
        "ML_DATA_UPSTREAM": f"127.0.0.1:{service_port}",
        "ML_DATA_CACHE_DIR": str(cache_dir),
    }
    config = work / "nginx.conf"
    config.write_text(main_config(render(TEMPLATE.read_text(), values), work))
    with running([binary, "-c", str(config), "-p", str(work)], listen_port, "nginx"):
        yield f"http://127.0.0.1:{listen_port}"
