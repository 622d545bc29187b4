"""schemathesis against the service's own OpenAPI document: whatever it sends, no 5xx."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")
import hypothesis  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from ml_data import Settings  # noqa: E402
from ml_data.service import ServiceSettings, create_app  # noqa: E402

pytestmark = pytest.mark.label_studio

TOKEN = "fuzz-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def operations(tmp_path_factory, seeded):  # type: ignore[no-untyped-def]
    """The app with the session's Label Studio, so the project endpoints answer for real."""
    settings = Settings(
        label_studio_url=seeded.server.url,
        api_key=seeded.server.legacy_token,
        cache_dir=tmp_path_factory.mktemp("fuzz-cache"),
        retries=0,
        connect_timeout=0.5,
        read_timeout=5.0,
    )
    app = create_app(settings, ServiceSettings(token=TOKEN))
    schema = schemathesis.openapi.from_wsgi("/v1/openapi.json", app, headers=AUTH)
    found = [result.ok() for result in schema.get_all_operations()]
    assert len(found) >= 9
    return found


def test_no_server_errors(operations):  # type: ignore[no-untyped-def]
    @hypothesis.settings(
        max_examples=150, deadline=None, suppress_health_check=list(hypothesis.HealthCheck), database=None
    )
    @hypothesis.given(data=st.data())
    def check(data):  # type: ignore[no-untyped-def]
        operation = data.draw(st.sampled_from(operations))
        case = data.draw(operation.as_strategy())
        response = case.call(headers=AUTH)
        assert response.status_code < 500, (case.method, case.path, case.query, response.text[:300])

    check()
