"""Label Studio's failures told as what to do: which URL was tried, which kind of token was
refused and how to get the other, which project is missing (the API client raises these)."""

from __future__ import annotations

from collections.abc import Mapping

import requests

from ml_data import errors
from ml_data.labelstudio.auth import ACCESS_TOKEN_EXPIRED, LabelStudioAuth
from ml_data.labelstudio.hints import localhost_hint
from ml_data.redaction import redact_url


def explain(
    exc: errors.UpstreamError,
    auth: LabelStudioAuth,
    base_url: str,
    *,
    url: str,
    what: str,
    project_id: int | None,
) -> errors.UpstreamError:
    """The same error type, with a message that says what to do."""
    detail = _server_detail(getattr(exc, "response", None))
    status = getattr(exc, "status_code", None)
    if isinstance(exc, errors.AuthenticationFailed):
        sent = "Authorization: Bearer <access token>" if auth.is_personal_access_token else "Authorization: Token"
        if auth.token_kind == "access":
            advice = ACCESS_TOKEN_EXPIRED
        elif auth.is_personal_access_token:
            advice = (
                "the personal access token may be revoked, expired or from another server; create a new "
                "one under Account & Settings > Personal Access Token, or use the legacy token"
            )
        else:
            advice = (
                "the token may be wrong, or legacy tokens may be disabled for the organization "
                "(Organization > API Tokens Settings); a personal access token from Account & Settings "
                "> Personal Access Token works too"
            )
        message = f"Label Studio at {base_url} rejected the {auth.kind} (sent as '{sent}') {what}: {advice}"
        return errors.AuthenticationFailed(
            _with_detail(message, detail), status_code=status or 401, url=url, task_id=exc.task_id
        )
    if isinstance(exc, errors.AccessDenied):
        message = (
            f"Label Studio at {base_url} refused {what} (HTTP 403): the token's user lacks access "
            "to it (project membership or role)"
        )
        return errors.AccessDenied(_with_detail(message, detail), status_code=403, url=url)
    if isinstance(exc, errors.RemoteNotFound):
        if project_id is not None:
            message = (
                f"project {project_id} not found at {base_url} (or not visible to this token's user); "
                "the id is the number in the project's address, /projects/<id>/"
            )
        else:
            message = f"{what}: not found at {base_url}"
        return errors.RemoteNotFound(_with_detail(message, detail), status_code=status or 404, url=url)
    if isinstance(exc, errors.UpstreamUnavailable | errors.UpstreamTimeout) and not isinstance(
        exc, errors.IncompleteDownload
    ):
        kind = "did not answer in time" if isinstance(exc, errors.UpstreamTimeout) else "cannot be reached"
        message = (
            f"Label Studio at {base_url} {kind} ({what}; tried {redact_url(url)}): is it running, and is the URL right?"
        )
        hint = localhost_hint(base_url)
        if hint:
            message += f" {hint}"
        return type(exc)(message, url=url)
    if isinstance(exc, errors.UpstreamHTTPError):
        return type(exc)(_with_detail(f"{what} failed: {exc.message}", detail), status_code=exc.status_code, url=url)
    return exc


def _server_detail(response: requests.Response | None) -> str:
    """Label Studio's own explanation (``detail`` of a JSON error), short."""
    if response is None:
        return ""
    try:
        body = response.json()
    except Exception:  # an unread streamed body, HTML, nothing at all: no detail to give
        return ""
    detail = body.get("detail") if isinstance(body, Mapping) else None
    return str(detail)[:200] if detail else ""


def _with_detail(message: str, detail: str) -> str:
    return f"{message} (Label Studio says: {detail})" if detail else message
