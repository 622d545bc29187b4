"""The sidecar HTTP service: the library over HTTP, for ML backends that should not hold cloud
credentials or the Label Studio token, or that share one cache.

    from ml_data.service import create_app
    app = create_app()            # settings from the environment

Every endpoint but /healthz needs ``Authorization: Bearer <ML_DATA_SERVICE_TOKEN>`` (a link signed
by :func:`ml_data.presign` opens its one /v1/resources file without it, until it expires); the service
fetches only from Label Studio and the allowlisted origins and buckets. Every POST body must be
``Content-Type: application/json``: a type an HTML form or a cross-site ``fetch`` can send without
asking the service first (``text/plain``, form encodings) is refused, so no other web page can
start a job, whatever the authentication; and a request a browser makes for another site's page
(``Sec-Fetch-Site``, ``Origin``) is refused on every endpoint, so none can make it download.
"""

from __future__ import annotations

import hmac
import logging
import time
import uuid
from typing import TYPE_CHECKING

from flask import Flask, g, jsonify, request

from ml_data.config import Settings
from ml_data.errors import ConfigurationError
from ml_data.labelstudio import http_client
from ml_data.service import errors
from ml_data.service.api import api
from ml_data.service.browsers import check_not_cross_site
from ml_data.service.config import ServiceSettings
from ml_data.service.errors import ApiError, ServerPaths
from ml_data.service.guard import GuardedResolver, UrlGuard
from ml_data.service.hosts import HostPolicy
from ml_data.service.jobs import JobRegistry
from ml_data.service.projects import projects
from ml_data.service.signed import check_signed_link, is_signed

if TYPE_CHECKING:
    from ml_data.backend.trigger import TrainingTrigger

logger = logging.getLogger("ml_data.service")
_OPEN = frozenset({"/healthz"})
#: Methods whose body the endpoints read.
_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


def create_app(
    settings: Settings | None = None, service: ServiceSettings | None = None, *, trigger: TrainingTrigger | None = None
) -> Flask:
    """The Flask app (tests call it with their own settings; gunicorn/waitress with none).

    ``trigger``: Label Studio's webhook events posted to ``/v1/webhooks/label-studio?train=true``
    are handed to it (:class:`~ml_data.backend.TrainingTrigger`)."""
    settings = settings or Settings.from_env()
    service = service or ServiceSettings.from_env()
    if not service.token and not service.no_auth:
        raise ConfigurationError("set ML_DATA_SERVICE_TOKEN (or run on loopback with --no-auth)")
    app = Flask("ml_data.service")
    app.config["MAX_CONTENT_LENGTH"] = service.max_request_bytes
    guard = UrlGuard(settings, service.allow)
    # The service's own, lower, cap on what one request may pull into the cache.
    settings = settings.with_changes(max_file_size=min(settings.max_file_size, service.max_file_size))
    app.extensions["ml_data.resolver"] = GuardedResolver(
        settings, guard, http=http_client(settings, url_guard=guard.check_hop)
    )
    app.extensions["ml_data.jobs"] = JobRegistry()
    app.extensions["ml_data.trigger"] = trigger
    app.extensions["ml_data.accel_redirect"] = service.accel_redirect
    datasets_dir = service.datasets_dir or settings.cache_dir / "datasets"
    app.extensions["ml_data.datasets_dir"] = datasets_dir
    app.extensions["ml_data.server_paths"] = ServerPaths.of(settings, datasets_dir=datasets_dir)
    app.extensions["ml_data.public_url"] = service.public_url
    hosts = HostPolicy.create(no_auth=service.no_auth, allowed_hosts=service.allowed_hosts)
    app.register_blueprint(api)
    app.register_blueprint(projects)
    errors.register(app)

    # In this order: the Host before anything else (a refused name learns nothing, not even
    # whether a token is needed), then where a browser says the request comes from, then the
    # token, then the body's type.
    @app.before_request
    def _check_host() -> None:
        g.request_id = request.headers.get("X-Request-Id") or uuid.uuid4().hex[:16]
        g.host = hosts.check(request.headers.get("Host"), request.scheme)

    @app.before_request
    def _refuse_other_sites() -> None:
        try:
            check_not_cross_site(request.headers, public_url=service.public_url)
        except ApiError:
            if not _is_signed_link():
                raise
            # A valid signed link is a credential of its own, made to be handed out: a page may
            # show it. One that is not valid is refused here, with or without --no-auth.
            check_signed_link(request.args, service.signing_key, time.time())

    @app.before_request
    def _authenticate():  # type: ignore[no-untyped-def]
        if service.no_auth or request.path in _OPEN:
            return None
        if _is_signed_link():
            # A link made by ml_data.presign: valid for its one resource and until it expires.
            check_signed_link(request.args, service.signing_key, time.time())
            return None
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), (service.token or "").encode()):
            return jsonify(error="unauthorized", message="missing or wrong bearer token"), 401
        return None

    @app.before_request
    def _require_json() -> None:
        if request.method in _WITH_BODY and request.mimetype != "application/json":
            raise ApiError(
                415, "unsupported_media_type", "send the request body as JSON with Content-Type: application/json"
            )

    @app.after_request
    def _log(response):  # type: ignore[no-untyped-def]
        response.headers["X-Request-Id"] = g.get("request_id", "")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        logger.info("%s %s %s request_id=%s", request.method, request.path, response.status_code, g.get("request_id"))
        return response

    return app


def _is_signed_link() -> bool:
    """The request claims to be a link made by :func:`ml_data.presign` (then it must be valid)."""
    return request.path == "/v1/resources" and request.method in ("GET", "HEAD") and is_signed(request.args)


__all__ = ["ServiceSettings", "create_app"]
