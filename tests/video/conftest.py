"""Fixtures the video tests share."""

from __future__ import annotations

import pytest

from ml_data.video import decode as decoding


@pytest.fixture
def decoder_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the decoder's passes over a video."""
    calls: list[int] = []
    real = decoding.decode

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(decoding, "decode", counted)
    return calls
