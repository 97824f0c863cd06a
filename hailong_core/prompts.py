"""Spoken prompts, as both sides agree on them: the names, the languages, and what a recording must be.

The province uploads one recording per prompt name and language (``sync_server``); kiosks fetch
them through their config and play them (``kiosk.voice``). A recording is a WAV file of 16-bit
PCM samples, mono or stereo, 8–48 kHz: the one format every Linux player plays without a codec,
and one the standard library's :mod:`wave` reads and checks. See ``docs/voice.md``.
"""

from __future__ import annotations

import io
import re
import wave
from dataclasses import dataclass

# When each plays (the kiosk window decides; docs/voice.md):
#   invitation: the start screen, once after a citizen has finished (not on every idle return)
#   question:   the follow-up questions appear
#   thanks:     the thank-you after a satisfied answer
#   apology:    the thank-you after a dissatisfied answer
NAMES: tuple[str, ...] = ("invitation", "question", "thanks", "apology")
NAME_LABELS: dict[str, dict[str, str]] = {
    "invitation": {"vi": "Lời mời đánh giá", "en": "Invitation"},
    "question": {"vi": "Lời hỏi thêm", "en": "Follow-up question"},
    "thanks": {"vi": "Lời cảm ơn", "en": "Thanks"},
    "apology": {"vi": "Lời xin lỗi", "en": "Apology"},
}

# Languages offered on the upload page: ISO 639 codes where one exists; Sán Dìu has none, so it
# takes a private-use tag. Other codes of the same shape may be uploaded too (LANG_RE).
LANGS: dict[str, dict[str, str]] = {
    "vi": {"vi": "Tiếng Việt", "en": "Vietnamese"},
    "tyz": {"vi": "Tiếng Tày", "en": "Tày"},
    "nut": {"vi": "Tiếng Nùng", "en": "Nùng"},
    "mlc": {"vi": "Tiếng Sán Chay (Cao Lan)", "en": "Sán Chay (Cao Lan)"},
    "x-sandiu": {"vi": "Tiếng Sán Dìu", "en": "Sán Dìu"},
    "en": {"vi": "Tiếng Anh", "en": "English"},
}
DEFAULT_LANG = "vi"
LANG_RE = re.compile(r"^(?:[a-z]{2,3}|x)(?:-[a-z0-9]{1,8}){0,3}$")

SAMPLE_WIDTH = 2  # bytes: 16-bit PCM
RATES = (8000, 48000)
CHANNELS = (1, 2)


class WavError(ValueError):
    """A recording is not a WAV file the kiosks can play; ``reason`` is a stable key for messages."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class WavInfo:
    channels: int
    rate: int
    frames: int

    @property
    def duration_ms(self) -> int:
        return self.frames * 1000 // self.rate


def label(name_or_lang: str, lang: str = DEFAULT_LANG) -> str:
    """The label of a prompt name or a language code, in ``lang`` (the code itself when unknown)."""
    entry = NAME_LABELS.get(name_or_lang) or LANGS.get(name_or_lang)
    return (entry or {}).get(lang) or (entry or {}).get(DEFAULT_LANG) or name_or_lang


def check_wav(data: bytes) -> WavInfo:
    """What the recording holds, or :class:`WavError` with ``reason`` one of ``not_wav``,
    ``not_pcm16``, ``channels``, ``rate``, ``empty``, ``truncated``."""
    try:
        with wave.open(io.BytesIO(data), "rb") as w:
            channels, width, rate, frames = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
            comptype = w.getcomptype()
            body = w.readframes(frames) if frames else b""
    except (wave.Error, EOFError) as exc:
        # wave refuses anything but integer PCM (float, ADPCM, MP3-in-WAV) with "unknown format".
        reason = "not_pcm16" if "unknown format" in str(exc) else "not_wav"
        raise WavError(reason, str(exc)) from None
    except (ValueError, OSError, RuntimeError) as exc:  # odd headers (zero channels, huge sizes)
        raise WavError("not_wav", f"{exc.__class__.__name__}: {exc}") from None
    if comptype != "NONE" or width != SAMPLE_WIDTH:
        raise WavError("not_pcm16", f"{width * 8}-bit {comptype}")
    if channels not in CHANNELS:
        raise WavError("channels", str(channels))
    if not RATES[0] <= rate <= RATES[1]:
        raise WavError("rate", f"{rate} Hz")
    if frames == 0:
        raise WavError("empty")
    if len(body) < frames * channels * width:
        raise WavError("truncated", f"{len(body)} of {frames * channels * width} bytes of samples")
    return WavInfo(channels, rate, frames)
