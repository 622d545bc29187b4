from __future__ import annotations

import json
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "label-studio-sdk"


@pytest.fixture
def fixtures() -> Path:
    if not FIXTURES.exists():  # pragma: no cover - shared/ sits beside the checkout
        pytest.skip("shared fixtures not found")
    return FIXTURES


def write_json(path: Path, value) -> Path:  # type: ignore[no-untyped-def]
    path.write_text(json.dumps(value), encoding="utf-8")
    return path
