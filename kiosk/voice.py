"""Spoken prompts (no Qt): the province's recordings, else a generated Vietnamese voice, else silence.

The window calls :meth:`Voice.say` (``"invitation"``, ``"question"``, ``"thanks"``, ``"apology"``)
with the screen's language; it returns at once. Everything else happens on the voice's own
thread: finding the recording (``<name>.<lang>.wav`` in the prompts folder that
:mod:`kiosk.prompts` keeps in step with the config), checking it, scaling it to the volume, and
playing it in a subprocess. A missing or broken prompt never blocks or slows the citizen:

- one prompt waits at most: a new :meth:`~Voice.say` replaces the waiting one and cuts short the
  one playing (the screen has moved on, so has the voice);
- a recording that is missing or not a 16-bit PCM WAV falls back to the generated voice
  (``espeak-ng``) reading :data:`FALLBACK_TEXTS`; a language without either falls back to Vietnamese;
- a player that hangs is killed after the recording's length plus a margin;
- no player, or no ``espeak-ng`` for a prompt without a recording: silence, logged once.

Why subprocesses: the PySide6-Essentials wheel has no QtMultimedia, and the kiosk adds no audio
library. ``pw-play`` (PipeWire), ``paplay`` (PulseAudio) and ``aplay`` (ALSA, what the installer
brings) all play a PCM WAV, so the volume is applied by scaling the samples into a temporary WAV
(:mod:`array`; ``audioop`` is gone in Python 3.13). See ``docs/voice.md``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import wave
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

from hailong_core.prompts import DEFAULT_LANG, NAMES, WavError, WavInfo, check_wav

log = logging.getLogger(__name__)

RECORDING, TEXT = "recording", "text"

# Read by the generated voice when no recording exists. Spoken, so "ông bà" rather than the
# written "Ông/Bà" (espeak-ng would read the slash).
FALLBACK_TEXTS: dict[str, dict[str, str]] = {
    "vi": {
        "invitation": "Kính mời ông bà đánh giá sự hài lòng về việc giải quyết thủ tục hôm nay, "
                      "bằng cách chạm vào một khuôn mặt trên màn hình.",
        "question": "Xin ông bà vui lòng cho biết thêm, bằng cách chạm vào các ý trên màn hình.",
        "thanks": "Cảm ơn ông bà đã đánh giá. Chúc ông bà một ngày tốt lành.",
        "apology": "Chúng tôi xin lỗi vì chưa làm ông bà hài lòng. "
                   "Ý kiến của ông bà đã được ghi nhận để chúng tôi khắc phục và phục vụ tốt hơn.",
    },
    "en": {
        "invitation": "Please rate today's service by touching a face on the screen.",
        "question": "Please tell us a little more by touching the answers on the screen.",
        "thanks": "Thank you for your feedback. Have a good day.",
        "apology": "We are sorry we did not satisfy you. Your feedback has been noted so that we can do better.",
    },
}
ESPEAK_VOICES = {"vi": "vi", "en": "en"}

# Tried in this order; the first that plays is kept. Under cage (the kiosk's compositor) there is
# usually no PipeWire or PulseAudio daemon: pw-play and paplay then fail at once and aplay plays
# straight to ALSA; on a desktop with a sound server the first two go through it.
PLAYERS = ("pw-play", "paplay", "aplay")
PLAYER_ARGS = {"aplay": ["-q"]}
SYNTH_TIMEOUT_S = 15.0
POLL_S = 0.02  # how soon a cut-short or timed-out player is noticed


@dataclass(frozen=True)
class Prompt:
    """One thing to say, as a :class:`Sink` receives it.

    ``kind`` is :data:`RECORDING` (``source`` is the path of a checked WAV file, ``info`` what it
    holds) or :data:`TEXT` (``source`` is text for the generated voice in ``lang``). ``volume``
    is 1..100.
    """

    name: str
    lang: str
    kind: str
    source: str
    volume: int
    info: WavInfo | None = None


class Sink(Protocol):
    """Where prompts go. :class:`PlayerSink` plays them; a test passes its own to see the order."""

    def play(self, prompt: Prompt, cancel: threading.Event) -> None:
        """Play ``prompt`` to its end, or until ``cancel`` is set (then stop soon). Runs on the
        voice's thread; may raise (the voice logs it once and goes on)."""

    def close(self) -> None:
        """Release what the sink holds (temporary files)."""


def volume_factor(volume: int) -> float:
    """The amplitude for a volume of 0..100: a square law, closer to how loudness is heard than a
    straight line (50 → a quarter of the amplitude, about -12 dB)."""
    return max(0.0, min(100, volume)) ** 2 / 10_000


def scale_wav(src: Path, dest: Path, volume: int) -> None:
    """Write ``src`` (16-bit PCM WAV) to ``dest`` with its samples scaled for ``volume``."""
    factor = volume_factor(volume)
    with wave.open(str(src), "rb") as r:
        params = r.getparams()
        frames = r.readframes(r.getnframes())
    samples = array("h")
    samples.frombytes(frames[: len(frames) // 2 * 2])
    if sys.byteorder == "big":
        samples.byteswap()
    # factor <= 1: every product stays inside the 16-bit range, no clipping needed.
    scaled = array("h", [int(s * factor) for s in samples])
    if sys.byteorder == "big":
        scaled.byteswap()
    part = dest.with_name(dest.name + ".part")
    with wave.open(str(part), "wb") as w:
        w.setparams(params)
        w.writeframes(scaled.tobytes())
    os.replace(part, dest)


class PlayerSink:
    """Plays prompts through a player program, and text through ``espeak-ng``, in subprocesses.

    ``player`` names one program to use (the ``voice_player`` setting), else :data:`PLAYERS` are
    looked up on ``PATH``; ``espeak`` likewise (else ``espeak-ng`` on ``PATH``). ``note(key,
    message)`` reports a problem (the voice logs each key once). A player is killed when it runs
    past the recording's length plus ``timeout_margin_s``, and when the prompt is cut short.
    """

    def __init__(self, *, player: str | None = None, espeak: str | None = None, timeout_margin_s: float = 5.0,
                 synth_timeout_s: float = SYNTH_TIMEOUT_S, note: Callable[[str, str], None] | None = None,
                 which: Callable[[str], str | None] = shutil.which):
        self.player = player
        self.espeak = espeak
        self.timeout_margin_s = timeout_margin_s
        self.synth_timeout_s = synth_timeout_s
        self._note = note or (lambda key, message: log.warning("%s", message))
        self._which = which
        self._players: list[str] | None = None
        self._espeak_path: str | None = None
        self._tmp: Path | None = None
        self._cache: dict[tuple, Path] = {}

    # --- what to run -------------------------------------------------------------------------

    def _candidates(self) -> list[str]:
        if self._players is None:
            if self.player:
                found = self._which(self.player)
                self._players = [found] if found else []
                if not found:
                    self._note("no_player", f"voice: the player {self.player!r} (setting voice_player) is not there; prompts are silent")
            else:
                self._players = [p for p in (self._which(name) for name in PLAYERS) if p]
                if not self._players:
                    self._note("no_player", f"voice: none of {', '.join(PLAYERS)} is installed; prompts are silent")
        return self._players

    def _espeak(self) -> str | None:
        if self._espeak_path is None:
            self._espeak_path = self._which(self.espeak or "espeak-ng") or ""
        if not self._espeak_path:
            self._note("no_espeak", f"voice: {self.espeak or 'espeak-ng'} is not installed; prompts without a recording are silent")
        return self._espeak_path or None

    def _tmp_dir(self) -> Path:
        if self._tmp is None or not self._tmp.is_dir():
            self._tmp = Path(tempfile.mkdtemp(prefix="hailong-voice-"))
            self._cache.clear()
        return self._tmp

    # --- playing -----------------------------------------------------------------------------

    def play(self, prompt: Prompt, cancel: threading.Event) -> None:
        if not self._candidates():
            return
        if prompt.kind == TEXT:
            path = self._synthesise(prompt.source, prompt.lang, cancel)
            if path is None:
                return
            info = check_wav(path.read_bytes())
        else:
            path, info = Path(prompt.source), prompt.info or check_wav(Path(prompt.source).read_bytes())
        if cancel.is_set():
            return
        path = self._at_volume(path, prompt.volume)
        self._run_player(path, info, cancel)

    def _synthesise(self, text: str, lang: str, cancel: threading.Event) -> Path | None:
        key = ("tts", lang, text)
        cached = self._cache.get(key)
        if cached is not None and cached.is_file():
            return cached
        espeak = self._espeak()
        if espeak is None:
            return None
        digest = hashlib.sha256(f"{lang}\0{text}".encode()).hexdigest()[:16]
        out = self._tmp_dir() / f"tts-{digest}.wav"
        part = out.with_name(out.name + ".part")
        code, err = self._run([espeak, "-v", ESPEAK_VOICES.get(lang, "vi"), "-w", str(part), text], self.synth_timeout_s, cancel)
        if code != 0:
            if code is not None:  # None: cut short or timed out (noted in _run)
                self._note(f"espeak_failed:{code}", f"voice: {espeak} failed (exit {code}): {err}")
            part.unlink(missing_ok=True)
            return None
        try:
            check_wav(part.read_bytes())
        except (OSError, WavError) as exc:
            self._note("espeak_output", f"voice: {espeak} wrote no usable WAV: {exc}")
            part.unlink(missing_ok=True)
            return None
        os.replace(part, out)
        self._cache[key] = out
        return out

    def _at_volume(self, path: Path, volume: int) -> Path:
        if volume >= 100:
            return path
        stat = path.stat()
        key = ("vol", str(path), stat.st_size, stat.st_mtime_ns, volume)
        cached = self._cache.get(key)
        if cached is not None and cached.is_file():
            return cached
        digest = hashlib.sha256(repr(key).encode()).hexdigest()[:16]
        dest = self._tmp_dir() / f"vol-{digest}.wav"
        scale_wav(path, dest, volume)
        self._cache[key] = dest
        return dest

    def _run_player(self, path: Path, info: WavInfo, cancel: threading.Event) -> None:
        timeout = info.duration_ms / 1000 + self.timeout_margin_s
        players = self._candidates()
        for player in list(players):
            name = Path(player).name
            code, err = self._run([player, *PLAYER_ARGS.get(name, []), str(path)], timeout, cancel)
            if code == 0 or code is None:
                if code == 0 and players[0] != player:
                    players.remove(player)
                    players.insert(0, player)  # the one that plays goes first from now on
                return
            self._note(f"player_failed:{player}", f"voice: {player} failed (exit {code}): {err}; trying the next player")
        self._note("no_working_player", "voice: no player could play the prompt; prompts are silent")

    def _run(self, argv: list[str], timeout: float, cancel: threading.Event) -> tuple[int | None, str]:
        """Run ``argv``; ``(exit code, stderr head)``, or ``(None, "")`` when cut short or killed on timeout."""
        with tempfile.TemporaryFile() as err:
            try:
                # Its own session: a kill reaches whatever the program started, too.
                proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                        start_new_session=True)
            except OSError as exc:
                return 127, f"{exc.__class__.__name__}: {exc}"
            deadline = time.monotonic() + timeout
            while True:
                try:
                    code = proc.wait(POLL_S)
                    break
                except subprocess.TimeoutExpired:
                    pass
                if cancel.is_set() or time.monotonic() >= deadline:
                    timed_out = not cancel.is_set()
                    _kill(proc)
                    if timed_out:
                        self._note(f"timeout:{argv[0]}", f"voice: {argv[0]} ran past {timeout:.1f} s and was killed")
                    return None, ""
            err.seek(0)
            return code, err.read(300).decode("utf-8", "replace").strip()

    def close(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
        self._cache.clear()


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    try:
        proc.wait(2)
    except subprocess.TimeoutExpired:  # pragma: no cover - a process that survives SIGKILL
        log.error("voice: process %s did not die", proc.pid)


class Voice:
    """The kiosk's voice. ``say()`` returns at once; one thread does the rest.

    ``prompts_dir`` holds ``<name>.<lang>.wav`` (see :func:`kiosk.prompts.folder`). ``sink``
    replaces the player (tests); without one a :class:`PlayerSink` is built from ``player``,
    ``espeak`` and ``timeout_margin_s``. ``volume`` is 0..100 (0 is silent). ``on_problem(message)``
    hears each distinct problem once (e.g. to keep it where IT staff look); :attr:`problems` keeps them.
    """

    def __init__(self, prompts_dir: Path | str, *, sink: Sink | None = None, volume: int = 80, muted: bool = False,
                 espeak: str | None = None, player: str | None = None, timeout_margin_s: float = 5.0,
                 on_problem: Callable[[str], None] | None = None):
        self.prompts_dir = Path(prompts_dir)
        self.volume = self._checked_volume(volume)
        self.muted = bool(muted)
        self.on_problem = on_problem
        self.problems: list[str] = []
        self._noted: set[str] = set()
        self._cond = threading.Condition()
        self._next: tuple[str, str] | None = None
        self._cancel: threading.Event | None = None
        self._closed = False
        self._thread: threading.Thread | None = None
        self.sink: Sink = sink or PlayerSink(player=player, espeak=espeak, timeout_margin_s=timeout_margin_s, note=self._note)

    # --- what the window calls -----------------------------------------------------------------

    def say(self, name: str, lang: str = DEFAULT_LANG) -> None:
        """Say prompt ``name`` in ``lang`` soon; never blocks. Replaces a prompt still waiting and
        cuts short the one playing. Nothing happens when muted, at volume 0, or after :meth:`close`."""
        if name not in NAMES:
            self._note(f"unknown:{name}", f"voice: unknown prompt {name!r} (known: {', '.join(NAMES)})")
            return
        with self._cond:
            if self._closed or self.muted or self.volume == 0:
                return
            self._next = (name, lang or DEFAULT_LANG)
            if self._cancel is not None:
                self._cancel.set()
            self._cond.notify()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="kiosk-voice", daemon=True)
                self._thread.start()

    def set_volume(self, volume: int) -> None:
        """0..100, from the next prompt on (0 is silent)."""
        self.volume = self._checked_volume(volume)

    def set_muted(self, muted: bool) -> None:
        """Muting also stops what is playing and drops what waits."""
        with self._cond:
            self.muted = bool(muted)
            if self.muted:
                self._next = None
                if self._cancel is not None:
                    self._cancel.set()

    def close(self, timeout: float = 3.0) -> None:
        """Stop playing, end the thread, remove temporary files."""
        with self._cond:
            self._closed = True
            self._next = None
            if self._cancel is not None:
                self._cancel.set()
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
        try:
            self.sink.close()
        except Exception:  # noqa: BLE001 - closing must not fail the kiosk's shutdown
            log.exception("voice: closing the sink failed")

    # --- the voice's thread -------------------------------------------------------------------

    @staticmethod
    def _checked_volume(volume: int) -> int:
        volume = int(volume)
        if not 0 <= volume <= 100:
            raise ValueError(f"volume must be 0..100, not {volume}")
        return volume

    def _note(self, key: str, message: str) -> None:
        with self._cond:
            if key in self._noted:
                return
            self._noted.add(key)
            self.problems.append(message)
        log.warning("%s", message)
        if self.on_problem is not None:
            try:
                self.on_problem(message)
            except Exception:  # noqa: BLE001 - reporting a problem must not become one
                log.exception("voice: on_problem failed")

    def resolve(self, name: str, lang: str) -> Prompt | None:
        """What would be said for ``name`` in ``lang``: the recording in that language, else its
        generated text, else the same in Vietnamese; None when there is nothing to say."""
        for code in dict.fromkeys((lang, DEFAULT_LANG)):
            path = self.prompts_dir / f"{name}.{code}.wav"
            if path.is_file():
                try:
                    info = check_wav(path.read_bytes())
                except (OSError, WavError) as exc:
                    stat = _stat_key(path)
                    self._note(f"bad:{path.name}:{stat}", f"voice: the recording {path.name} cannot be played ({exc}); "
                                                          "using the generated voice")
                else:
                    return Prompt(name, code, RECORDING, str(path), self.volume, info)
            text = FALLBACK_TEXTS.get(code, {}).get(name)
            if text:
                return Prompt(name, code, TEXT, text, self.volume)
        return None

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._next is None and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                name, lang = self._next
                self._next = None
                cancel = self._cancel = threading.Event()
            try:
                prompt = self.resolve(name, lang)
                if prompt is not None and not cancel.is_set():
                    self.sink.play(prompt, cancel)
            except Exception as exc:  # noqa: BLE001 - a prompt must never stop the voice
                log.exception("voice: prompt %s/%s failed", name, lang)
                self._note(f"error:{exc.__class__.__name__}", f"voice: a prompt failed: {exc.__class__.__name__}: {exc}")
            finally:
                with self._cond:
                    if self._cancel is cancel:
                        self._cancel = None


def _stat_key(path: Path) -> str:
    try:
        stat = path.stat()
    except OSError:
        return "gone"
    return f"{stat.st_size}:{stat.st_mtime_ns}"
