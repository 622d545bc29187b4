"""What a fetch's filters ask Label Studio before the export: that a Data Manager tab belongs to
the project, how many tasks a tab shows, and which user an email names.

Checked up front because Label Studio's snapshot export ignores a ``view`` it cannot find (with
a warning in its log) and exports every task: a typo would silently make the whole project the
dataset.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ml_data import errors
from ml_data.jsonio import dumps
from ml_data.labelstudio.client import LabelStudioClient


def check_view(client: LabelStudioClient, project_id: int, view_id: int) -> Mapping[str, Any]:
    """The Data Manager tab ``view_id`` (``GET /api/dm/views/<id>/``); a tab that does not exist, or
    belongs to another project, is a :class:`~ml_data.errors.ConfigurationError` naming it."""
    try:
        view = client.json("GET", f"api/dm/views/{int(view_id)}/", what=f"reading Data Manager tab {view_id}")
    except errors.RemoteNotFound:
        raise errors.ConfigurationError(
            f"view: Label Studio at {client.base_url} has no Data Manager tab {view_id} (its id is in the tab's "
            "URL: /projects/<project>/data?tab=<id>)"
        ) from None
    owner = view.get("project") if isinstance(view, Mapping) else None
    if owner != project_id:
        raise errors.ConfigurationError(
            f"view: Data Manager tab {view_id} belongs to project {owner}, not to project {project_id}"
        )
    return view


def count_tasks(
    client: LabelStudioClient,
    project_id: int,
    *,
    view: int | None = None,
    ids: Sequence[tuple[int, int]] | None = None,
) -> int | None:
    """How many tasks the project (or its tab ``view``) shows in the Data Manager, of those with
    ids in the (first, last) ranges ``ids`` if given; None if the answer does not say."""
    params: dict[str, Any] = {"project": int(project_id), "fields": "task_only", "page": 1, "page_size": 1}
    if view is not None:
        params["view"] = int(view)
    if ids is not None:
        items = [
            {"filter": "filter:tasks:id", "operator": "in", "type": "Number", "value": {"min": low, "max": high}}
            for low, high in ids
        ]
        params["query"] = dumps({"filters": {"conjunction": "or", "items": items}}).decode()
    body = client.json("GET", "api/tasks", params=params, what=f"counting tasks of project {project_id}")
    total = body.get("total") if isinstance(body, Mapping) else None
    return total if isinstance(total, int) and not isinstance(total, bool) else None


def user_ids(client: LabelStudioClient, emails: list[str]) -> dict[str, int]:
    """email (in lower case) -> user id, for each of ``emails``, from the organization's users
    (``GET /api/users/``); an email no user has is a :class:`~ml_data.errors.ConfigurationError`."""
    try:
        users = client.json("GET", "api/users/", what="listing the users of the organization")
    except errors.AccessDenied:
        raise errors.ConfigurationError(
            f"annotator: Label Studio at {client.base_url} does not list its users to this token: give the "
            "annotator's user id instead of the email"
        ) from None
    if isinstance(users, Mapping):  # a paginated answer
        users = users.get("results")
    known: dict[str, int] = {}
    for user in users if isinstance(users, list) else ():
        if isinstance(user, Mapping) and isinstance(user.get("email"), str) and isinstance(user.get("id"), int):
            known[user["email"].strip().lower()] = user["id"]
    missing = [email for email in emails if email not in known]
    if missing:
        raise errors.ConfigurationError(f"annotator: no user {', '.join(missing)} in Label Studio at {client.base_url}")
    return {email: known[email] for email in emails}


__all__ = ["check_view", "count_tasks", "user_ids"]
