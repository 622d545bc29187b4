"""Waiting for a service job to finish (bounded)."""

from __future__ import annotations

import time
from typing import Any


def wait_for_job(client: Any, job_id: str, headers: dict[str, str], *, timeout: float = 60.0) -> dict[str, Any]:
    """The job's final state, polled through ``GET /v1/jobs/<id>``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/v1/jobs/{job_id}", headers=headers).get_json()
        if job["state"] not in ("queued", "running"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish in {timeout:.0f} s")
