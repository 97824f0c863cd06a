"""The kiosk's voice (no Qt): prompts in order, superseded and cut short, never blocking the citizen.

Real parts: WAV files in tmp_path, real subprocesses for the player and espeak-ng (small scripts
put first on PATH, so a test can make one hang, fail or be missing), the voice's real thread.
A test sink (the :class:`kiosk.voice.Sink` protocol) shows what was played and in what order.
"""

from __future__ import annotations

import shutil
import stat
import sys
import threading
import time
import wave
from array import array
from pathlib import Path

import pytest

from hailong_core.prompts import WavError, check_wav
from kiosk.voice import FALLBACK_TEXTS, RECORDING, TEXT, PlayerSink, Prompt, Voice, scale_wav, volume_factor

WAIT_S = 10.0


def make_wav(path: Path, seconds: float = 0.05, rate: int = 8000, amplitude: int = 10000, width: int = 2) -> Path:
    frames = int(seconds * rate)
    samples = array("h", [amplitude if i % 2 else -amplitude for i in range(frames)])
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(samples.tobytes() if width == 2 else bytes(frames * width))
    return path


def samples_of(path: Path) -> list[int]:
    with wave.open(str(path), "rb") as r:
        data = array("h")
        data.frombytes(r.readframes(r.getnframes()))
    return list(data)


class ListSink:
    """Records each prompt; ``gate`` (when given) holds every play until it is set, cut short or not
    (so a test decides when the voice's thread moves on); ``cancels`` are the plays' cut-short events."""

    def __init__(self, gate: threading.Event | None = None):
        self.played: list[Prompt] = []
        self.cancels: list[threading.Event] = []
        self.started = threading.Event()
        self.gate = gate
        self.closed = False
        self._cond = threading.Condition()

    def play(self, prompt: Prompt, cancel: threading.Event) -> None:
        self.cancels.append(cancel)
        self.started.set()
        if self.gate is not None:
            self.gate.wait(WAIT_S)
        with self._cond:
            self.played.append(prompt)
            self._cond.notify_all()

    def close(self) -> None:
        self.closed = True

    def wait_for(self, n: int) -> list[Prompt]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.played) >= n, WAIT_S), f"only {len(self.played)} of {n} played"
            return list(self.played)


def timed_say(voice: Voice, name: str, lang: str = "vi") -> float:
    started = time.perf_counter()
    voice.say(name, lang)
    return time.perf_counter() - started


def wait_until(check, what: str, timeout: float = WAIT_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


# --- fake programs on PATH ---------------------------------------------------------------------

def _script(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text(f"#!{sys.executable}\nimport sys, os, time, shutil\n{body}\n", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def fake_player(folder: Path, name: str = "aplay", *, log: Path, hang_first: bool = False, fail: bool = False,
                copy_to: Path | None = None) -> Path:
    """A player that logs the file it was given; optionally hangs the first time, fails, or keeps a copy."""
    body = f"""
wav = sys.argv[-1]
marker = {str(log) + '.hung'!r}
if {hang_first!r} and not os.path.exists(marker):
    open(marker, "w").close()
    time.sleep(60)
if {fail!r}:
    sys.stderr.write("cannot connect to the sound server\\n")
    sys.exit(1)
if {str(copy_to) if copy_to else None!r}:
    shutil.copy(wav, {str(copy_to) if copy_to else ''!r})
with open({str(log)!r}, "a", encoding="utf-8") as fh:
    fh.write(" ".join(sys.argv[1:]) + "\\n")
"""
    return _script(folder, name, body)


def fake_espeak(folder: Path, *, log: Path) -> Path:
    """espeak-ng's command line: ``-v VOICE -w OUT TEXT``; writes a short WAV and logs voice and text."""
    body = f"""
import wave
args = sys.argv[1:]
voice, out, text = args[args.index("-v") + 1], args[args.index("-w") + 1], args[-1]
with wave.open(out, "wb") as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(22050); w.writeframes(b"\\x10\\x27" * 1100)
with open({str(log)!r}, "a", encoding="utf-8") as fh:
    fh.write(voice + "|" + text + "\\n")
"""
    return _script(folder, "espeak-ng", body)


@pytest.fixture
def bin_dir(tmp_path, monkeypatch):
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", str(folder))  # only our fakes: no real player or espeak-ng is found
    return folder


@pytest.fixture
def prompts_dir(tmp_path):
    folder = tmp_path / "prompts"
    folder.mkdir()
    return folder


def log_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


# --- order, supersession, fallbacks through a test sink -------------------------------------------

def test_prompts_play_in_order_through_a_sink(prompts_dir):
    make_wav(prompts_dir / "invitation.vi.wav")
    make_wav(prompts_dir / "apology.vi.wav")
    make_wav(prompts_dir / "thanks.tyz.wav")
    sink = ListSink()
    voice = Voice(prompts_dir, sink=sink, volume=70)
    try:
        for n, (name, lang) in enumerate((("invitation", "vi"), ("question", "vi"), ("thanks", "tyz"), ("apology", "en"),
                                          ("thanks", "en"), ("apology", "nut")), start=1):
            voice.say(name, lang)
            sink.wait_for(n)
        got = [(p.name, p.lang, p.kind) for p in sink.played]
        assert got == [("invitation", "vi", RECORDING), ("question", "vi", TEXT), ("thanks", "tyz", RECORDING),
                       ("apology", "en", TEXT), ("thanks", "en", TEXT), ("apology", "vi", RECORDING)]
        # A recording arrives as its checked path; text as the built-in Vietnamese (or English) words.
        assert sink.played[0].source == str(prompts_dir / "invitation.vi.wav") and sink.played[0].info.rate == 8000
        assert sink.played[1].source == FALLBACK_TEXTS["vi"]["question"]
        assert sink.played[3].source == FALLBACK_TEXTS["en"]["apology"]
        assert {p.volume for p in sink.played} == {70}
    finally:
        voice.close()
    assert sink.closed


def test_a_new_prompt_supersedes_the_waiting_one_and_cuts_the_playing_one(prompts_dir):
    sink = ListSink(gate=threading.Event())
    voice = Voice(prompts_dir, sink=sink)
    try:
        voice.say("invitation")
        assert sink.started.wait(WAIT_S)
        voice.say("question")  # waits ... and is replaced before it starts
        voice.say("thanks")
        assert sink.cancels[0].is_set()  # the screen moved on: the old prompt is cut short
        sink.gate.set()
        played = sink.wait_for(2)
        assert [p.name for p in played] == ["invitation", "thanks"]
        assert not sink.cancels[1].is_set()
    finally:
        sink.gate.set()
        voice.close()


def test_fallback_texts_are_polite_vietnamese():
    vi = FALLBACK_TEXTS["vi"]
    assert set(vi) == {"invitation", "question", "thanks", "apology"} == set(FALLBACK_TEXTS["en"])
    assert vi["thanks"].startswith("Cảm ơn ông bà") and "xin lỗi" in vi["apology"] and "Kính mời" in vi["invitation"]
    assert all("/" not in text for texts in FALLBACK_TEXTS.values() for text in texts.values())  # spoken, not written


def test_mute_volume_zero_unknown_names_and_close_say_nothing(prompts_dir):
    make_wav(prompts_dir / "thanks.vi.wav")
    sink = ListSink()
    problems: list[str] = []
    voice = Voice(prompts_dir, sink=sink, muted=True, on_problem=problems.append)
    try:
        voice.say("thanks")
        voice.set_muted(False)
        voice.set_volume(0)
        voice.say("thanks")
        voice.say("welcome")  # not a prompt name: noted once, nothing played
        voice.say("welcome")
        voice.set_volume(35)
        voice.say("apology")
        assert [(p.name, p.volume) for p in sink.wait_for(1)] == [("apology", 35)]
        assert len([p for p in problems if "welcome" in p]) == 1
        with pytest.raises(ValueError):
            voice.set_volume(101)
    finally:
        voice.close()
    voice.say("thanks")
    assert len(sink.played) == 1


def test_muting_stops_what_plays(prompts_dir):
    sink = ListSink(gate=threading.Event())
    voice = Voice(prompts_dir, sink=sink)
    try:
        voice.say("invitation")
        assert sink.started.wait(WAIT_S)
        voice.set_muted(True)
        assert sink.cancels[0].is_set()
        voice.say("thanks")  # muted: not even queued
        sink.gate.set()
        sink.wait_for(1)
        voice.set_muted(False)
        voice.say("apology")
        assert [p.name for p in sink.wait_for(2)] == ["invitation", "apology"]
    finally:
        voice.close()


# --- the real player path: subprocesses that hang, fail or are missing -------------------------------

def test_say_never_blocks_on_a_hung_player_which_is_killed_and_the_next_prompt_plays(bin_dir, prompts_dir, tmp_path):
    log = tmp_path / "player.log"
    fake_player(bin_dir, "aplay", log=log, hang_first=True)
    make_wav(prompts_dir / "invitation.vi.wav", seconds=0.05)
    make_wav(prompts_dir / "thanks.vi.wav", seconds=0.05)
    problems: list[str] = []
    voice = Voice(prompts_dir, volume=100, timeout_margin_s=0.5, on_problem=problems.append)
    try:
        assert timed_say(voice, "invitation") < 0.05
        wait_until(lambda: any("killed" in p for p in problems), "the hung player to be killed")
        assert timed_say(voice, "thanks") < 0.05
        lines = wait_until(lambda: log_lines(log), "the next prompt to play")
        assert lines == [f"-q {prompts_dir / 'thanks.vi.wav'}"]
    finally:
        voice.close()


def test_a_prompt_cut_short_kills_its_player(bin_dir, prompts_dir, tmp_path):
    log = tmp_path / "player.log"
    fake_player(bin_dir, "aplay", log=log, hang_first=True)
    make_wav(prompts_dir / "invitation.vi.wav")
    make_wav(prompts_dir / "apology.vi.wav")
    voice = Voice(prompts_dir, volume=100, timeout_margin_s=60)  # no timeout would save us: only the cut
    try:
        voice.say("invitation")
        wait_until(lambda: (tmp_path / "player.log.hung").exists(), "the player to start and hang")
        started = time.perf_counter()
        voice.say("apology")
        assert wait_until(lambda: log_lines(log), "the apology to play") == [f"-q {prompts_dir / 'apology.vi.wav'}"]
        assert time.perf_counter() - started < 5
    finally:
        voice.close()


def test_missing_and_corrupt_recordings_and_no_espeak_are_silent_logged_once_and_never_block(bin_dir, prompts_dir, tmp_path):
    log = tmp_path / "player.log"
    fake_player(bin_dir, "aplay", log=log)
    (prompts_dir / "invitation.vi.wav").write_bytes(b"RIFF\x00\x00garbage, not a wave file")
    make_wav(prompts_dir / "thanks.vi.wav")
    problems: list[str] = []
    voice = Voice(prompts_dir, volume=100, on_problem=problems.append)  # no espeak-ng on this PATH
    try:
        for _ in range(3):
            assert timed_say(voice, "invitation") < 0.05  # corrupt → generated voice → none installed → silence
            wait_until(lambda: any("espeak-ng" in p for p in problems), "the missing espeak-ng to be noted")
        assert timed_say(voice, "question") < 0.05  # no recording at all
        assert timed_say(voice, "thanks") < 0.05
        assert wait_until(lambda: log_lines(log), "the good recording to play") == [f"-q {prompts_dir / 'thanks.vi.wav'}"]
        assert len([p for p in problems if "invitation.vi.wav cannot be played" in p]) == 1
        assert len([p for p in problems if "espeak-ng is not installed" in p]) == 1
    finally:
        voice.close()


def test_no_player_at_all_is_silent_and_noted_once(bin_dir, prompts_dir):
    make_wav(prompts_dir / "thanks.vi.wav")
    problems: list[str] = []
    voice = Voice(prompts_dir, on_problem=problems.append)
    try:
        for _ in range(3):
            assert timed_say(voice, "thanks") < 0.05
        wait_until(lambda: problems, "the missing player to be noted")
        voice.say("apology")
        assert wait_until(lambda: voice.resolve("apology", "vi"), "resolve").kind == TEXT
    finally:
        voice.close()
    assert len([p for p in problems if "none of pw-play, paplay, aplay" in p]) == 1


def test_without_a_recording_espeak_ng_speaks_the_fallback_text(bin_dir, prompts_dir, tmp_path):
    player_log, espeak_log = tmp_path / "player.log", tmp_path / "espeak.log"
    fake_player(bin_dir, "aplay", log=player_log)
    fake_espeak(bin_dir, log=espeak_log)
    voice = Voice(prompts_dir, volume=100)
    try:
        for n, (name, lang) in enumerate((("thanks", "vi"), ("apology", "en"), ("invitation", "tyz"), ("thanks", "vi")), start=1):
            voice.say(name, lang)
            wait_until(lambda: len(log_lines(player_log)) >= n, f"prompt {n} to play")
        assert log_lines(espeak_log) == [f"vi|{FALLBACK_TEXTS['vi']['thanks']}", f"en|{FALLBACK_TEXTS['en']['apology']}",
                                         f"vi|{FALLBACK_TEXTS['vi']['invitation']}"]  # the second thanks came from the cache
        played = [line.split()[-1] for line in log_lines(player_log)]
        assert all(Path(p).name.startswith("tts-") for p in played) and played[0] == played[3]
        check_wav(Path(played[1]).read_bytes())
    finally:
        voice.close()
    assert not Path(played[0]).exists()  # temporary files go with the voice


def test_a_player_that_fails_gives_way_to_the_next(bin_dir, prompts_dir, tmp_path):
    pw_log, aplay_log = tmp_path / "pw.log", tmp_path / "aplay.log"
    fake_player(bin_dir, "pw-play", log=pw_log, fail=True)  # installed, but no PipeWire daemon under cage
    fake_player(bin_dir, "aplay", log=aplay_log)
    make_wav(prompts_dir / "thanks.vi.wav")
    problems: list[str] = []
    voice = Voice(prompts_dir, volume=100, on_problem=problems.append)
    try:
        voice.say("thanks")
        wait_until(lambda: log_lines(aplay_log), "aplay to play")
        voice.say("thanks")
        wait_until(lambda: len(log_lines(aplay_log)) == 2, "aplay to play again")
        assert any("pw-play failed (exit 1): cannot connect to the sound server" in p for p in problems)
        assert len([p for p in problems if "pw-play failed" in p]) == 1
    finally:
        voice.close()


def test_the_voice_player_setting_names_the_program(bin_dir, prompts_dir, tmp_path):
    log = tmp_path / "mine.log"
    mine = fake_player(bin_dir, "my-player", log=log)
    fake_player(bin_dir, "aplay", log=tmp_path / "aplay.log")
    make_wav(prompts_dir / "thanks.vi.wav")
    voice = Voice(prompts_dir, volume=100, player=str(mine))
    try:
        voice.say("thanks")
        assert wait_until(lambda: log_lines(log), "my player") == [str(prompts_dir / "thanks.vi.wav")]
        assert not (tmp_path / "aplay.log").exists()
    finally:
        voice.close()
    problems: list[str] = []
    missing = Voice(prompts_dir, player=str(tmp_path / "gone"), on_problem=problems.append)
    try:
        missing.say("thanks")
        wait_until(lambda: problems, "the missing player to be noted")
        assert "voice_player" in problems[0]
    finally:
        missing.close()


# --- volume ----------------------------------------------------------------------------------

def test_volume_scales_the_samples_the_player_gets(bin_dir, prompts_dir, tmp_path):
    copy = tmp_path / "heard.wav"
    fake_player(bin_dir, "aplay", log=tmp_path / "player.log", copy_to=copy)
    original = make_wav(prompts_dir / "thanks.vi.wav", amplitude=20000)
    voice = Voice(prompts_dir, volume=50)
    try:
        voice.say("thanks")
        wait_until(lambda: log_lines(tmp_path / "player.log"), "the player")
        assert samples_of(copy) == [int(s * 0.25) for s in samples_of(original)]
        voice.set_volume(100)
        voice.say("thanks")
        lines = wait_until(lambda: len(log_lines(tmp_path / "player.log")) == 2 and log_lines(tmp_path / "player.log"), "again")
        assert lines[1].split()[-1] == str(original)  # full volume: the recording itself, untouched
    finally:
        voice.close()


def test_scale_wav_and_the_volume_curve(tmp_path):
    src = make_wav(tmp_path / "in.wav", amplitude=32767, rate=16000)
    scale_wav(src, tmp_path / "out.wav", 80)
    assert samples_of(tmp_path / "out.wav")[:2] == [int(-32767 * 0.64), int(32767 * 0.64)]
    with wave.open(str(tmp_path / "out.wav")) as w:
        assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (16000, 2, 1)
    assert (volume_factor(0), volume_factor(50), volume_factor(100)) == (0.0, 0.25, 1.0)


@pytest.mark.parametrize("data,reason", [
    (b"", "not_wav"), (b"hello, not a wave", "not_wav"), ("8bit", "not_pcm16"), ("empty", "empty"), ("cut", "truncated"),
])
def test_check_wav_refuses_what_cannot_be_played(tmp_path, data, reason):
    if data == "8bit":
        data = make_wav(tmp_path / "a.wav", width=1).read_bytes()
    elif data == "empty":
        data = make_wav(tmp_path / "a.wav", seconds=0).read_bytes()
    elif data == "cut":
        data = make_wav(tmp_path / "a.wav", seconds=0.1).read_bytes()[:-200]
    with pytest.raises(WavError) as caught:
        check_wav(data)
    assert caught.value.reason == reason


def test_player_sink_cleans_up_and_voice_close_is_quick(prompts_dir, bin_dir, tmp_path):
    fake_player(bin_dir, "aplay", log=tmp_path / "player.log", hang_first=True)
    make_wav(prompts_dir / "thanks.vi.wav")
    voice = Voice(prompts_dir, volume=40, timeout_margin_s=60)
    voice.say("thanks")
    wait_until(lambda: (tmp_path / "player.log.hung").exists(), "the player to hang")
    tmp = voice.sink._tmp
    assert tmp is not None and any(tmp.iterdir())  # the scaled copy
    started = time.perf_counter()
    voice.close()
    assert time.perf_counter() - started < 3
    assert not tmp.exists()
    assert not voice._thread.is_alive()



@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed here (the kiosk installer brings it)")
def test_the_real_espeak_ng_speaks_vietnamese_into_a_playable_wav(tmp_path, prompts_dir):
    log = tmp_path / "player.log"
    player = fake_player(tmp_path, "aplay", log=log, copy_to=tmp_path / "heard.wav")
    voice = Voice(prompts_dir, volume=100, player=str(player), espeak=shutil.which("espeak-ng"))
    try:
        voice.say("apology", "vi")
        wait_until(lambda: log_lines(log), "the generated apology to play", timeout=30)
        info = check_wav((tmp_path / "heard.wav").read_bytes())
        assert info.duration_ms > 2000  # a whole sentence, not an error beep
    finally:
        voice.close()
