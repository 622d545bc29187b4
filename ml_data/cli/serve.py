"""``ml-data serve``: the sidecar HTTP service (the ``service`` extra), served by waitress."""

from __future__ import annotations

import dataclasses
import errno

import click

from ml_data.cli.common import settings
from ml_data.errors import MlDataError

#: The top-level modules of the ``service`` extra.
_SERVICE_MODULES = frozenset({"flask", "werkzeug", "waitress", "jsonschema"})


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8765, show_default=True, type=int, help="Port to listen on.")
@click.option("--threads", default=8, show_default=True, type=int, help="Requests served at once.")
@click.option("--no-auth", is_flag=True, help="Serve without a bearer token (loopback addresses only).")
def serve(host: str, port: int, threads: int, no_auth: bool) -> None:
    """Run the sidecar HTTP service.

    It is served by waitress; ML_DATA_SERVICE_TOKEN is required unless --no-auth.
    """
    import ipaddress

    try:
        import waitress

        from ml_data.service import ServiceSettings, create_app
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] not in _SERVICE_MODULES:
            raise
        raise click.ClickException(
            f"the service needs its extra ({exc.name} is not installed): pip install 'ml-data[service]'"
        ) from None
    if no_auth:
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            raise click.ClickException("--no-auth is only allowed on a loopback address (e.g. 127.0.0.1)")
    try:
        service = ServiceSettings.from_env()
        if no_auth:
            service = dataclasses.replace(service, no_auth=True)
        app = create_app(settings(), service)
    except MlDataError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        # Binds the port now, so that a port in use is said before anything claims to be serving.
        server = waitress.create_server(app, host=host, port=port, threads=threads, ident="ml-data")
    except OSError as exc:
        reason = "the port is already in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
        raise click.ClickException(f"cannot listen on {host}:{port}: {reason}") from None
    click.echo(f"ml-data service on http://{host}:{getattr(server, 'effective_port', port)}")
    server.run()
