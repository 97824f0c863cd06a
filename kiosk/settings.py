"""The kiosk's settings, declared once. Environment: ``HAILONG_KIOSK_<NAME>``; file: ``settings.json`` in the data folder."""

from __future__ import annotations

from pathlib import Path

from hailong_core.settings import Setting, Settings, load_settings

ENV_PREFIX = "HAILONG_KIOSK_"

SPEC: tuple[Setting, ...] = (
    Setting("db_path", str, None, "SQLite file of answers and sync state; default `kiosk.sqlite3` in the data folder."),
    Setting("batch_size", int, 200, "Most responses sent in one upload.", lambda v: 1 <= v <= 5000, "must be 1..5000"),
    Setting("sync_interval_s", float, 15.0, "Seconds between sync rounds while all is well.", lambda v: v > 0, "must be positive"),
    Setting("connect_timeout_s", float, 5.0, "Seconds to wait for the server to accept a connection.", lambda v: v > 0, "must be positive"),
    Setting("read_timeout_s", float, 30.0, "Seconds to wait for the server's answer.", lambda v: v > 0, "must be positive"),
    Setting("backoff_base_s", float, 2.0, "First retry delay after a failed sync; doubles each failure, with jitter.", lambda v: v > 0, "must be positive"),
    Setting("backoff_max_s", float, 600.0, "Longest delay between retries.", lambda v: v > 0, "must be positive"),
    Setting("heartbeat_interval_s", float, 60.0, "Seconds between heartbeats to the server.", lambda v: v > 0, "must be positive"),
    Setting("config_interval_s", float, 300.0, "Seconds between config refreshes (cheap: ETag).", lambda v: v > 0, "must be positive"),
    Setting("thank_you_s", float, 15.0, "Seconds the thank-you screen stays before returning to the start: long enough to take out a phone and "
            "scan its QR code. A tap anywhere but on the QR returns at once.", lambda v: 0 < v <= 120, "must be 0..120"),
    Setting("screen_dpi", float, None, "The panel's true pixels per inch, e.g. 149.5 for a 10.1-inch 1280×800 panel or 102.5 for a "
            "21.5-inch 1920×1080 one. Touch targets (at least 15 mm) and type are sized in millimetres from it. Unset: from "
            "`screen_diagonal_in`, else the screen's own report, which many panels get wrong (they often say 96). Wins over "
            "`screen_diagonal_in`.", lambda v: 30 <= v <= 600, "must be 30..600"),
    Setting("screen_diagonal_in", float, None, "The panel's visible diagonal in inches (10.1, 15.6, 21.5…); with the screen's pixel size it "
            "gives the pixels per inch when `screen_dpi` is not set. The simpler one to read off the panel's label.",
            lambda v: 5 <= v <= 100, "must be 5..100"),
    Setting("verify_tls", bool, True, "Check the server's TLS certificate."),
    Setting("ask_criteria", bool, False, "After the overall face, also ask the questionnaire's other top-level questions (the criteria); "
            "off keeps a satisfied answer to one tap. Follow-ups whose `show_if` holds (the why chips) are always asked."),
    Setting("long_press_s", float, 3.0, "Seconds to hold the top-left corner to reach the admin PIN pad.", lambda v: 0 < v <= 30, "must be 0..30"),
    Setting("voice", bool, True, "Speak the prompts (invitation, follow-up question, thanks, apology): the province's recordings, "
            "else a generated Vietnamese voice (espeak-ng); docs/voice.md."),
    Setting("voice_volume", int, 80, "Loudness of the spoken prompts, 0..100 (0 is silent; the samples are scaled, the system mixer is left alone).",
            lambda v: 0 <= v <= 100, "must be 0..100"),
    Setting("voice_player", str, None, "The program that plays the prompts (a path, or a name on PATH); default: the first of "
            "pw-play, paplay, aplay that plays."),
    Setting("tick_s", float, 30.0, "Seconds between checks of office hours, the officer's end of day and stale drafts.",
            lambda v: v > 0, "must be positive"),
    Setting("idle_timeout_s", float, None, "Overrides the config's idle timeout (seconds before a half-answered kiosk returns to its start); "
            "normally set by the server.", lambda v: v > 0, "must be positive"),
    Setting("input_guard_s", float, 0.6, "Seconds after every screen change during which taps are ignored, so a double-tap (100–400 ms apart) "
            "never answers the next screen.", lambda v: 0 <= v <= 2, "must be 0..2"),
    Setting("local_api_port", int, 0, "TCP port of the kiosk's local API through which a one-stop or queue system announces the dossier "
            "just returned at this counter (`POST /v1/dossier`, docs/kiosk.md); 0 (the default) keeps it off.",
            lambda v: 0 <= v <= 65535, "must be 0..65535"),
    Setting("local_api_bind", str, "127.0.0.1", "Address the local API listens on: `127.0.0.1` for a counter system on the kiosk itself, "
            "the kiosk's LAN address (or `0.0.0.0`) for one on the office network. Peers outside loopback and private LAN "
            "addresses are refused whatever the bind."),
    Setting("local_api_token", str, None, "The Bearer token the counter system must send to the local API (at least 16 characters). "
            "Without one (or with a shorter one) the API does not start, even with a port set, and says so in the log."),
    # The screen (kiosk/display.py; docs/install-kiosk.md says what works under which cage).
    Setting("display_rotation", int, 0, "Turn the picture clockwise by 0, 90, 180 or 270 degrees (a portrait panel: 90 or 270). "
            "Applied when the kiosk starts; the touch screen follows with `hailong-kiosk touch-map --rotation`.",
            lambda v: v in (0, 90, 180, 270), "must be 0, 90, 180 or 270"),
    Setting("display_output", str, None, "Only this output (a name from `wlr-randr`, e.g. HDMI-A-1) is rotated and switched off; "
            "default: every output."),
    Setting("allow_vt_switch", bool, True, "Let Ctrl+Alt+F2 reach a login console (cage -s): the recovery path for staff with a "
            "keyboard, guarded by the console account's password."),
    Setting("screen_schedule", bool, True, "Turn the screen off outside office hours (from the config) and on again before opening."),
    Setting("screen_on_early_min", float, 15.0, "Minutes before the day's first opening the screen comes on.",
            lambda v: 0 <= v <= 240, "must be 0..240"),
    Setting("screen_off_late_min", float, 15.0, "Minutes after the day's last closing the screen goes off.",
            lambda v: 0 <= v <= 240, "must be 0..240"),
    Setting("screen_off_method", str, "auto", "How the screen is switched: `wlr-randr` (cage 0.1.5 and later), `backlight` "
            "(the panel's bl_power), `command` (screen_off_command / screen_on_command), `none`; `auto` picks the first that works.",
            lambda v: v in ("auto", "wlr-randr", "backlight", "command", "none"), "must be auto, wlr-randr, backlight, command or none"),
    Setting("screen_off_command", str, None, "A command that turns the screen off, e.g. `ddcutil setvcp d6 04` (a monitor with DDC/CI)."),
    Setting("screen_on_command", str, None, "The command that turns it on again, e.g. `ddcutil setvcp d6 01`."),
    # TLS in government networks (kiosk/tls.py; docs/install-kiosk.md, "TLS").
    Setting("ca_bundle", str, None, "A PEM file of CA certificates the kiosk trusts in addition to the usual public roots, e.g. the "
            "Vietnam National Root CA and the government's issuing CA, for a server whose certificate they issued. Added, not "
            "instead: the kiosk keeps syncing if the server later moves to a commercial certificate (pin it to trust only one)."),
    Setting("https_proxy", str, None, "The proxy for the server's https:// address, `http://HOST:PORT` (with `user:password@` if the "
            "proxy asks). Unset: the environment's `HTTPS_PROXY` and `NO_PROXY`, if any.",
            lambda v: v.startswith(("http://", "https://")), "must start with http:// or https://"),
    Setting("tls_pin_sha256", str, None, "Pins of the server's certificate, separated by commas: `sha256/BASE64` of its public key "
            "(SPKI) or 64 hex digits of the key or the whole certificate. A certificate matching none is refused, even a valid "
            "one; with `verify_tls` off the pin alone decides. Put the next key's pin beside the current one before a renewal.",
            lambda v: _valid_pins(v), "must be sha256/BASE64 or 64 hex digits, separated by commas"),
    Setting("diagnostics_interval_s", float, 600.0, "Seconds between re-runs of the light self-test checks and the clock reading "
            "that the heartbeat reports to the fleet page.", lambda v: v >= 10, "must be ≥ 10"),
    # Remote update (kiosk/updater.py; docs/install-kiosk.md "Cập nhật từ xa / Remote update").
    Setting("releases_dir", str, "/opt/hailong/releases", "Folder of the releases this kiosk installs itself, and of the `current` "
            "link to the one that runs (the installer makes it). Without that link remote update is off."),
    Setting("update", bool, True, "Install the release the server stages for this kiosk (remote update); off: the kiosk ignores it."),
    Setting("update_when", str, "idle", "When the kiosk switches to a release it has prepared: `idle` (no answer in progress and the "
            "start screen untouched for `update_idle_s`) or `after_hours` (the same, and only outside office hours).",
            lambda v: v in ("idle", "after_hours"), "must be idle or after_hours"),
    Setting("update_idle_s", float, 300.0, "Seconds the start screen must have stood untouched before the kiosk restarts into a new "
            "release (the restart takes a few seconds).", lambda v: v >= 0, "must be ≥ 0"),
    Setting("update_health_s", float, 600.0, "Seconds of running a new release has to reach the server (one sync round with upload, "
            "config and heartbeat) before it is rolled back.", lambda v: v > 0, "must be positive"),
    Setting("update_max_starts", int, 3, "Starts a new release gets to become healthy (a crash loop, a release that cannot start) "
            "before the previous one is put back.", lambda v: 1 <= v <= 20, "must be 1..20"),
    Setting("update_max_mb", float, 50.0, "Largest release file (wheel) the kiosk downloads, in MiB.", lambda v: 0 < v <= 1024,
            "must be in (0, 1024]"),
)


def _valid_pins(text: str) -> bool:
    from kiosk.tls import valid_pins

    return valid_pins(text)


def load(data_dir: Path, **overrides) -> Settings:
    """Kiosk settings for ``data_dir`` (file, then environment, then ``overrides``)."""
    return load_settings(SPEC, env_prefix=ENV_PREFIX, file=data_dir / "settings.json", overrides=overrides)


def db_path(settings: Settings, data_dir: Path) -> Path:
    return Path(settings.db_path) if settings.db_path else data_dir / "kiosk.sqlite3"
