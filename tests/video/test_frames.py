"""Frames decoded once into the shared cache, by the video's content and frame number."""

from __future__ import annotations

import base64

import numpy as np
import pytest
from PIL import Image

from ml_data import Settings
from ml_data.errors import InvalidExport
from ml_data.video import decode as decoding
from ml_data.video import frames

pytest.importorskip("av")

from tests.support.videos import VIDEO_1, encode_video, find_square  # noqa: E402


@pytest.fixture
def video_url() -> str:
    return "data:video/mp4;base64," + base64.b64encode(encode_video(*VIDEO_1)).decode()


def test_frame_n_is_the_nth_decoded_frame_and_is_decoded_once(
    video_url: str, settings: Settings, decoder_calls: list[int]
) -> None:
    wanted = [24, 1, 12, 16, 17]
    paths = list(frames(video_url, task_id=7, frames=wanted, settings=settings))
    assert len(decoder_calls) == 1
    _count, squares = VIDEO_1
    for number, path in zip(wanted, paths, strict=True):
        pixels = np.asarray(Image.open(path).convert("RGB"))
        for square in squares:
            expected = square.at(number)
            found = find_square(pixels, square.label)
            if expected is None:
                assert found is None
            else:
                assert found is not None and abs(found[0] - expected[0]) <= 2 and abs(found[1] - expected[1]) <= 2
    again = list(frames(video_url, task_id=7, frames=wanted, settings=settings))
    assert again == paths and len(decoder_calls) == 1  # a rerun decodes nothing
    more = list(frames(video_url, task_id=7, frames=[2], settings=settings))
    assert len(decoder_calls) == 2 and more[0] not in paths  # a frame not cached yet: one more pass


def test_a_frame_beyond_the_end_names_the_task(video_url: str, settings: Settings) -> None:
    with pytest.raises(InvalidExport, match="frame 25 is beyond the 24 frames") as caught:
        frames(video_url, task_id=7, frames=[3, 25], settings=settings)
    assert caught.value.task_id == 7


def test_a_file_that_is_no_video_is_a_clear_error(settings: Settings) -> None:
    url = "data:video/mp4;base64," + base64.b64encode(b"not a video at all" * 50).decode()
    with pytest.raises(InvalidExport, match="cannot be decoded as a video") as caught:
        frames(url, task_id=8, frames=[1], settings=settings)
    assert caught.value.task_id == 8


def test_without_pyav_the_error_says_which_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from ml_data.errors import MissingDependency

    monkeypatch.setitem(__import__("sys").modules, "av", None)  # as if PyAV were not installed
    with pytest.raises(MissingDependency, match=r"pip install 'ml-data\[video\]'"):
        decoding.load_av()
