"""Audio files read for the ASR manifest: how long they are, and segments of them as WAV clips.

libsndfile (``soundfile``, the ``audio`` extra) reads WAV, FLAC, OGG (Vorbis, Opus) and MP3 and
counts their frames exactly; what it cannot open (AAC in MP4, WebM, ...) FFmpeg reads (PyAV, the
``video`` extra). WAV needs neither: the standard library reads it. Each library is imported on
first use, so ml-data installs without them; a file none of them reads is an
:class:`~ml_data.errors.InvalidExport` naming the file and the task, with the install hint when a
library was missing.

Clips are 16-bit PCM WAV (what NeMo and most ASR tools read), each written under a temporary name
and renamed into place only when complete.
"""

from __future__ import annotations

import contextlib
import wave
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ml_data.errors import InvalidExport
from ml_data.fsutil import atomic_file

INSTALL_HINT = "pip install 'ml-data[audio]'"
#: frames decoded at a time when cutting clips: memory stays flat whatever the file's length
_BLOCK = 65536
#: clip files open at a time
_OPEN = 128


@dataclass(frozen=True)
class AudioInfo:
    """What a file's header (or FFmpeg's reading of the container) says: frames per channel,
    frames per second, channels."""

    frames: int
    sample_rate: int
    channels: int

    @property
    def duration(self) -> float:
        """Seconds: ``frames / sample_rate``."""
        return self.frames / self.sample_rate


@dataclass(frozen=True)
class Clip:
    """Frames ``start`` (included) to ``stop`` (excluded) of a file, to be written at ``target``."""

    start: int
    stop: int
    target: Path


def _soundfile() -> Any:
    try:
        import soundfile
    except (ImportError, OSError):  # OSError: the package without its libsndfile
        return None
    return soundfile


def _av() -> Any:
    try:
        import av
    except ImportError:
        return None
    return av


def audio_info(path: str | Path, *, name: str, task_id: Any = None) -> AudioInfo:
    """The frames, rate and channels of the audio file at ``path`` (``name``, a redacted URL or the
    path, names it in errors).

    >>> audio_info("speech.flac", name="speech.flac").duration  # doctest: +SKIP
    2.5
    """
    reasons: list[str] = []
    # The standard library first: it reads a WAV header several times faster than libsndfile
    # opens the file, and refuses anything else at its first bytes.
    for reader in (_info_wave, _info_soundfile, _info_av):
        try:
            found = reader(str(path))
        except Exception as exc:  # noqa: BLE001 - each library fails its own way; the next may read it
            reasons.append(f"{reader.__name__[6:]}: {str(exc)[:200] or type(exc).__name__}")
            continue
        if found is not None:
            return found
    raise _unreadable(name, task_id, reasons)


def _unreadable(name: str, task_id: Any, reasons: Sequence[str]) -> InvalidExport:
    hint = ""
    if _soundfile() is None or _av() is None:
        hint = f" (FLAC, OGG and MP3 need {INSTALL_HINT}; other containers 'ml-data[video]')"
    because = "; ".join(reasons) or "not a format any installed audio library reads"
    return InvalidExport(f"cannot read the audio file {name}{hint}: {because}", url=name, task_id=task_id)


def _checked(frames: int, rate: float, channels: int) -> AudioInfo:
    if not 0 <= frames < 2**62 or not rate or rate <= 0 or channels <= 0:
        raise ValueError(f"the file gives {frames} frames at {rate} Hz in {channels} channels")
    return AudioInfo(frames=int(frames), sample_rate=int(rate), channels=int(channels))


def _info_soundfile(path: str) -> AudioInfo | None:
    soundfile = _soundfile()
    if soundfile is None:
        return None
    info = soundfile.info(path)
    return _checked(info.frames, info.samplerate, info.channels)


def _info_wave(path: str) -> AudioInfo | None:
    with wave.open(path, "rb") as audio:
        return _checked(audio.getnframes(), audio.getframerate(), audio.getnchannels())


def _info_av(path: str) -> AudioInfo | None:
    av = _av()
    if av is None:
        return None
    with av.open(path) as container:
        if not container.streams.audio:
            raise ValueError("no audio stream")
        stream = container.streams.audio[0]
        rate = stream.rate or stream.codec_context.sample_rate
        if stream.duration is not None and stream.time_base is not None:
            seconds = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            seconds = container.duration / 1_000_000  # FFmpeg's AV_TIME_BASE
        else:  # a stream that says nothing of its length: counted as decoded
            return _checked(sum(frame.samples for frame in container.decode(stream)), rate, stream.channels)
        return _checked(round(seconds * rate), rate, stream.channels)


def write_clips(
    path: str | Path, info: AudioInfo, clips: Sequence[Clip], *, name: str, task_id: Any = None
) -> list[int]:
    """Decode ``path`` and write each of ``clips`` as a 16-bit PCM WAV file at its target
    (same rate and channels as the source); returns the frames each clip got (fewer than asked
    where the audio ends first). A file that cannot be decoded is an :class:`InvalidExport`
    naming it; no clip of it is left behind.

    A clip's file is open from its first frame to its last, and at most :data:`_OPEN` at a time
    (a task may hold thousands of segments, a process may open about a thousand files): one pass
    over the audio writes them all unless more than :data:`_OPEN` overlap, and each further pass
    the clips that had to wait."""
    written = [0] * len(clips)
    done: list[Path] = []
    pending = sorted(range(len(clips)), key=lambda index: clips[index].start)
    try:
        while pending:
            pending = _write_pass(path, info, clips, pending, written, done, name=name, task_id=task_id)
    except BaseException:
        for target in done:  # the clips of a task are all written or none
            target.unlink(missing_ok=True)
        raise
    return written


class _Output:
    """One clip's WAV file while it is written: under a temporary name until :meth:`close`."""

    def __init__(self, clip: Clip, info: AudioInfo) -> None:
        self._stack = contextlib.ExitStack()
        with self._stack as stack:
            temporary = stack.enter_context(atomic_file(clip.target))
            self.wave = stack.enter_context(wave.open(str(temporary), "wb"))
            self.wave.setnchannels(info.channels)
            self.wave.setsampwidth(2)
            self.wave.setframerate(info.sample_rate)
            self._stack = stack.pop_all()

    def close(self) -> None:
        """The file complete, renamed into place."""
        self._stack.close()

    def discard(self) -> None:
        """The temporary file removed."""
        self._stack.__exit__(InvalidExport, InvalidExport("discarded"), None)


def _write_pass(
    path: str | Path,
    info: AudioInfo,
    clips: Sequence[Clip],
    pending: list[int],
    written: list[int],
    done: list[Path],
    *,
    name: str,
    task_id: Any,
) -> list[int]:
    """One decode of the audio writing the ``pending`` clips (in order of start) that find a free
    file; returns those that did not, still in order."""
    waiting = list(reversed(pending))
    deferred: list[int] = []
    outputs: dict[int, _Output] = {}
    offset = 0
    try:
        try:
            with contextlib.closing(_blocks(str(path), info)) as blocks:
                for block in blocks:
                    end = offset + len(block)
                    while waiting and clips[waiting[-1]].start < end:
                        index = waiting.pop()
                        if len(outputs) < _OPEN:
                            outputs[index] = _Output(clips[index], info)
                        else:
                            deferred.append(index)
                    for index, output in list(outputs.items()):
                        clip = clips[index]
                        low, high = max(clip.start, offset), min(clip.stop, end)
                        if low < high:
                            part = block[low - offset : high - offset]
                            output.wave.writeframesraw(np.ascontiguousarray(part, dtype="<i2").tobytes())
                            written[index] += high - low
                        if clip.stop <= end:
                            del outputs[index]
                            output.close()
                            done.append(clip.target)
                    offset = end
                    if not waiting and not outputs:
                        break
        except (InvalidExport, OSError):
            raise
        except Exception as exc:  # noqa: BLE001 - a decoder's failure, typed and named
            raise _unreadable(name, task_id, [f"decoding: {str(exc)[:200] or type(exc).__name__}"]) from None
        # The audio ended first: the clips still open end there; those it never reached are empty.
        for index in reversed(waiting):
            if len(outputs) < _OPEN:
                outputs[index] = _Output(clips[index], info)
            else:
                deferred.append(index)
        for index in sorted(outputs, key=lambda index: clips[index].start):
            outputs.pop(index).close()
            done.append(clips[index].target)
    except BaseException:
        for output in outputs.values():
            output.discard()
        raise
    return sorted(deferred, key=lambda index: clips[index].start)


def _blocks(path: str, info: AudioInfo) -> Generator[np.ndarray, None, None]:
    """The audio as int16 blocks of shape (frames, channels), by the first library that opens it."""
    soundfile = _soundfile()
    if soundfile is not None:
        try:
            handle = soundfile.SoundFile(path)
        except Exception:  # noqa: BLE001 - FFmpeg may read what libsndfile does not
            handle = None
        if handle is not None:
            with handle:
                if handle.format != "MP3":
                    yield from handle.blocks(blocksize=_BLOCK, dtype="int16", always_2d=True)
                    return
                # soundfile seeks to where it is after every read, and libsndfile's MP3 decoder
                # loses its place doing so (samples come out shifted): MP3 is read in one go,
                # by FFmpeg where it is installed, else by libsndfile's single read.
                if _av() is None:
                    yield handle.read(dtype="int16", always_2d=True)
                    return
    try:
        audio = wave.open(path, "rb")
    except (wave.Error, EOFError):
        audio = None
    if audio is not None:
        with audio:
            width = audio.getsampwidth()
            while chunk := audio.readframes(_BLOCK):
                yield _pcm16(chunk, width).reshape(-1, audio.getnchannels())
        return
    av = _av()
    if av is None:
        raise ValueError(f"no installed library decodes it ({INSTALL_HINT})")
    yield from _av_blocks(av, path, info)


def _pcm16(chunk: bytes, width: int) -> np.ndarray:
    """Little-endian PCM of ``width`` bytes a sample (WAV's) as int16 samples."""
    if width == 2:
        return np.frombuffer(chunk, dtype="<i2")
    if width == 1:  # 8-bit WAV is unsigned
        return ((np.frombuffer(chunk, dtype=np.uint8).astype(np.int16) - 128) << 8).astype(np.int16)
    if width in (3, 4):
        raw = np.frombuffer(chunk, dtype=np.uint8).reshape(-1, width)
        # the two most significant bytes of each sample (little-endian: the last two)
        return ((raw[:, -1].astype(np.uint16) << 8) | raw[:, -2]).view(np.int16)
    raise ValueError(f"{8 * width}-bit WAV samples")


def _av_blocks(av: Any, path: str, info: AudioInfo) -> Iterator[np.ndarray]:
    with av.open(path) as container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="s16", layout=stream.layout, rate=info.sample_rate)
        for frame in container.decode(stream):
            for converted in resampler.resample(frame):
                yield converted.to_ndarray().reshape(-1, info.channels)
        for converted in resampler.resample(None):
            yield converted.to_ndarray().reshape(-1, info.channels)


__all__ = ["INSTALL_HINT", "AudioInfo", "Clip", "audio_info", "write_clips"]
