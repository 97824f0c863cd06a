"""The server's settings, declared once. Environment: ``HAILONG_SERVER_<NAME>``; file: ``--settings FILE`` (JSON)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import platformdirs

from hailong_core.settings import Setting, Settings, load_settings

ENV_PREFIX = "HAILONG_SERVER_"


def _is_zone(name: str) -> bool:
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(name)
    except (ValueError, LookupError):  # ZoneInfoNotFoundError is a KeyError
        return False
    return True


def _compiles(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True


SPEC: tuple[Setting, ...] = (
    Setting("db", str, None, "Database: a SQLite file path (or `sqlite:///PATH`), or `postgresql://USER@HOST:PORT/DB` for PostgreSQL; default `server.sqlite3` in the platformdirs data folder."),
    Setting("seed_units", str, "all", "Which shipped unit trees a fresh database is seeded with: `all` (the 2023 Bắc Giang tree of the first campaign, valid until 1 July 2025, and today's Bắc Ninh from `assets/units/bac_ninh_2026.json`) or `2023` (the 2023 tree only). Read when a database is first created (environment `HAILONG_SERVER_SEED_UNITS`); later trees are added with `import-units`.", lambda v: v in ("all", "2023"), "must be all or 2023"),
    Setting("host", str, "127.0.0.1", "Address `serve` listens on."),
    Setting("port", int, 8765, "Port `serve` listens on.", lambda v: 0 < v < 65536, "must be a TCP port"),
    Setting("max_body_bytes", int, 4 * 1024 * 1024, "Largest request body as sent (compressed or not); larger → 413 `body_too_large`.", lambda v: v >= 1024, "must be ≥ 1024"),
    Setting("max_inflated_bytes", int, 16 * 1024 * 1024, "Largest body after gzip decompression; a gzip bomb stops here with 413.", lambda v: v >= 1024, "must be ≥ 1024"),
    Setting("max_batch_items", int, 1000, "Most responses in one upload; more → 413 `batch_too_large`.", lambda v: 1 <= v <= 100_000, "must be 1..100000"),
    Setting("enroll_code_ttl_h", float, 72.0, "Hours an enrolment code stays valid.", lambda v: v > 0, "must be positive"),
    Setting("clock_skew_s", float, 300.0, "A device whose clock differs from the server's by more is flagged; reports then use receipt time.", lambda v: v > 0, "must be positive"),
    Setting("kiosk_cooldown_s", float, 1.5, "Sent to kiosks in config: a press this soon after the last answer is flagged as misuse.", lambda v: v >= 0, "must be ≥ 0"),
    Setting("kiosk_idle_timeout_s", float, 30.0, "Sent to kiosks in config: seconds before a half-answered kiosk returns to its start.", lambda v: v > 0, "must be positive"),
    Setting("kiosk_burst_count", int, 5, "Sent to kiosks in config: this many answers within `kiosk_burst_window_s` are flagged as a burst.", lambda v: v >= 2, "must be ≥ 2"),
    Setting("kiosk_burst_window_s", float, 60.0, "Sent to kiosks in config: the window of the burst detector.", lambda v: v > 0, "must be positive"),
    Setting("time_zone", str, "Asia/Ho_Chi_Minh", "Sent to kiosks in config: the province's IANA time zone; every kiosk time rule (office hours, the officer's end of day, after-hours, the times the admin screen shows) uses it, whatever zone the device is set to. Keep it in step with `utc_offset_h`.", _is_zone, "must be an IANA time zone such as Asia/Ho_Chi_Minh"),
    Setting("public_base_url", str, None, "Sent to kiosks in config: the address citizens' phones can reach this server at (e.g. `https://hailong.bacninh.gov.vn`), for the thank-you QR link. Kiosks often reach the server over the government network, an address a 4G phone cannot; without this setting the thank-you shows no QR.", lambda v: v.startswith(("https://", "http://")), "must start with https:// or http://"),
    Setting("kiosk_hotline", str, None, "Sent to kiosks in config: the phone number shown with the apology after a dissatisfied answer (e.g. `0204 3 854 999`).", None),
    Setting("utc_offset_h", float, 7.0, "The province's UTC offset in hours: decides which day campaigns start and end (Việt Nam: 7).", lambda v: -12 <= v <= 14, "must be -12..14"),
    Setting("session_ttl_h", float, 12.0, "Hours a login session lasts.", lambda v: v > 0, "must be positive"),
    Setting("cookie_secure", bool, False, "Always mark cookies `Secure`. Without it they are `Secure` whenever the request came over HTTPS, directly or through a proxy trusted by `FORWARDED_ALLOW_IPS` (docs/deploy-server.md).", None),
    Setting("login_max_failures", int, 5, "Failed logins from one address for one username within `login_window_min` before that address's further tries at that username are refused (even with the right password). Other addresses are never refused for it: past this many failures for a username from anywhere, its wrong answers are only slowed down (`login_delay_max_s`).", lambda v: v >= 1, "must be ≥ 1"),
    Setting("login_address_max_failures", int, 20, "Failed logins from one address, for any usernames, within `login_window_min` before that address is refused (wider than `login_max_failures`: one office behind one NAT address has many people).", lambda v: v >= 1, "must be ≥ 1"),
    Setting("login_delay_max_s", float, 3.0, "Longest wait before answering a wrong password for a username that failed `login_max_failures` times within the window from anywhere (0.25 s, doubling per further failure); the right password is answered at once. 0 turns the delay off.", lambda v: 0 <= v <= 30, "must be 0..30"),
    Setting("login_window_min", float, 15.0, "Minutes a failed login counts against the throttle.", lambda v: v > 0, "must be positive"),
    Setting("password_min_length", int, 10, "Shortest password accepted for a new or changed account.", lambda v: v >= 8, "must be ≥ 8"),
    Setting("fleet_silent_after_min", float, 60.0, "A kiosk not heard from for this many minutes is listed as silent on the fleet page.", lambda v: v > 0, "must be positive"),
    Setting("officer_photo_max_kb", int, 64, "Largest officer photo (JPEG or PNG) accepted, in KiB; it travels to kiosks inside the config.", lambda v: 1 <= v <= 1024, "must be 1..1024"),
    Setting("prompt_max_kb", int, 1024, "Largest voice prompt recording (WAV, 16-bit PCM) accepted, in KiB (1024 KiB: about 30 s of 16 kHz mono); "
            "kiosks download each once (docs/voice.md).", lambda v: 16 <= v <= 16384, "must be 16..16384"),
    Setting("phone_rate_window_min", float, 10.0, "Phone form: the window of the per-address rate limit, in minutes.", lambda v: v > 0, "must be positive"),
    Setting("phone_rate_flag_after", int, 20, "Phone form: submissions from one address within the window beyond this many are stored with the flag `rate_limited`.", lambda v: v >= 1, "must be ≥ 1"),
    Setting("phone_rate_refuse_after", int, 60, "Phone form: beyond this many within the window an address is answered 429 (those would be flagged anyway, so nothing that counts is lost).", lambda v: v >= 1, "must be ≥ 1"),
    Setting("phone_counted_per_address_day", int, 3, "Phone form: per point, per address and per (province) day, only the first this many answers without a dossier token are counted; later ones are stored with the flag `address_repeat` (left out of reports). An IPv6 address counts by its /64. Answers with a dossier token are not capped. Raise it for a point whose guest Wi-Fi puts every phone behind one address (docs/qr-channel.md).", lambda v: v >= 1, "must be ≥ 1"),
    Setting("phone_comment_window_min", float, 60.0, "Minutes after a kiosk answer (its time-ordered id) during which its thank-you QR link accepts one comment.", lambda v: v > 0, "must be positive"),
    Setting("comment_orphan_days", float, 90.0, "Days a comment from a kiosk's thank-you link waits for its answer to arrive (an offline kiosk syncs later); after that an unmatched comment is deleted at start-up and by `hailong-server purge-contacts`.", lambda v: v > 0, "must be positive"),
    Setting("contact_retention_days", float, 30.0, "Days a call-back phone number is kept; purged at start-up and by `hailong-server purge-contacts`.", lambda v: v > 0, "must be positive"),
    Setting("dossier_token_ttl_days", float, 30.0, "Days a dossier token printed on a receipt stays valid.", lambda v: v > 0, "must be positive"),
    Setting("dossier_scan", bool, False, "Sent to kiosks in config: offer the \"Quét mã biên nhận\" step, so a citizen can tie the rating to the dossier code (mã hồ sơ) on the receipt with the kiosk's barcode/QR scanner (docs/dossiers.md). A citizen can always rate without it.", None),
    Setting("dossier_pattern", str, "", "The receipt's dossier code as the one-stop information system prints it: a regular expression the whole, upper-cased code must match (e.g. `H24\\.[0-9.]+-[0-9]{6}-[0-9]{4}`); empty accepts any code the protocol accepts (1–64 letters, digits, `. _ / -`). Sent to kiosks in config and used by the phone link `?d=`; a unit's own pattern (server config `dossier_pattern.<unit code>`) overrides it.", _compiles, "must be a valid regular expression"),
    Setting("dossier_link_s", int, 300, "Sent to kiosks in config: seconds a dossier announced by a counter system (\"dossier X was returned at counter N\") waits for the next rating at that counter's kiosk.", lambda v: 0 < v <= 86400, "must be 1..86400"),
    Setting("dossier_import_max_mb", float, 32.0, "Largest dossier register file (CSV or XLSX) `import-dossiers` and the admin upload accept, in MiB.", lambda v: 0 < v <= 1024, "must be in (0, 1024]"),
    Setting("dossier_import_max_rows", int, 500_000, "Most dossiers in one register file; a larger file is refused whole (split it by month).", lambda v: 1 <= v <= 10_000_000, "must be 1..10000000"),
    Setting("dossier_import_max_problems", int, 100, "Most problems (bad rows, each with its line number) one refused register import lists; the count of the rest is given.", lambda v: 1 <= v <= 100_000, "must be 1..100000"),
    Setting("official_points_max", float, 6.0, "QĐ 766 item 5.4 (satisfaction in receiving and handling procedures): the item's full points (Pmax). UNVERIFIED: the item's own weight was not found; 6 is the 18 points of the satisfaction group shared equally by its three scored items 5.2–5.4 (docs/dossiers.md). Set it when the province confirms it.", lambda v: 0 < v <= 100, "must be in (0, 100]"),
    Setting("official_full_points_ratio", float, 90.0, "QĐ 766 item 5.4: the satisfaction ratio (percent) at or above which the item scores its full points; below it, points = ratio × Pmax ÷ this.", lambda v: 0 < v <= 100, "must be in (0, 100]"),
    Setting("official_min_cell", int, 5, "QĐ 766 figures for every viewer below province admin (pages, XLSX, pull API): a figure resting on fewer dossier-tied ratings than this (a dislike share, ratio, points, a counter's or a site's, field's or month's row) shows \"ít hơn N\", and one more is hidden where it could be worked out from a total (docs/dossiers.md, Privacy). The CLI is not limited.", lambda v: 1 <= v <= 1000, "must be 1..1000"),
    Setting("report_min_answers", int, 30, "Results: a unit or officer with fewer counted answers to the headline question is marked \"chưa đủ số phiếu\" (not enough answers) and not ranked.", lambda v: v >= 1, "must be ≥ 1"),
    Setting("recognition_min_index", float, 80.0, "Friendly-government recognition: the least satisfaction index (0–100) a commune needs over the campaign window.", lambda v: 0 <= v <= 100, "must be 0..100"),
    Setting("report_issuer_parent", str, "", "Reports handed upward (the XLSX summary, the recognition list): the body above the issuer, upper case, top left of the document frame, e.g. `UBND THÀNH PHỐ BẮC NINH`; empty: \"UBND\" and the province's name in force on the report's last day."),
    Setting("report_issuer", str, "TRUNG TÂM PHỤC VỤ HÀNH CHÍNH CÔNG", "Reports handed upward: the issuing body under it (cơ quan ban hành), upper case."),
    Setting("report_number", str, "/BC-TTPVHCC", "Reports handed upward: the document number after \"Số:\" (the office writes the number by hand before the slash)."),
    Setting("report_place", str, "", "Reports handed upward: the place of the place-and-date line (\"Bắc Ninh, ngày … tháng … năm …\"); empty: the province's name without \"Tỉnh\"/\"Thành phố\"."),
    Setting("report_signers", str, "NGƯỜI LẬP BIỂU|THỦ TRƯỞNG ĐƠN VỊ", "Reports handed upward: the two signature titles, left and right, separated by `|`."),
    Setting("recognition_min_answers", int, 50, "Friendly-government recognition: the least number of counted answers a commune needs over the campaign window.", lambda v: v >= 1, "must be ≥ 1"),
    Setting("recognition_phone_without_token", str, "cap", "Friendly-government recognition: how counted phone (QR) answers without a dossier token count: `count` (like any answer), `cap` (together they weigh at most `recognition_phone_share` of what the commune is judged on), `exclude` (not at all). Kiosk answers and phone answers with a dossier token always count.", lambda v: v in ("count", "cap", "exclude"), "must be count, cap or exclude"),
    Setting("recognition_phone_share", float, 0.1, "Friendly-government recognition with `cap`: the largest share (0–1) of a commune's recognition count and index that phone answers without a dossier token may make up; beyond it they are weighted down, not dropped.", lambda v: 0 <= v < 1, "must be in [0, 1)"),
    Setting("alert_window_min", float, 15.0, "Alerts: the recent window, in minutes, in which a unit's or officer's unsatisfied answers are counted.", lambda v: v > 0, "must be positive"),
    Setting("alert_min_answers", int, 4, "Alerts: the least answers in the window before an alert can fire.", lambda v: v >= 1, "must be ≥ 1"),
    Setting("alert_unsatisfied_share", float, 0.5, "Alerts: a unit or officer whose share of unsatisfied answers in the window reaches this (0–1) appears on the dashboard.", lambda v: 0 < v <= 1, "must be in (0, 1]"),
    Setting("results_page_fold_rows", int, 10_000, "Results: the most newly received answers a page view counts into the rollups before it shows (the rest are counted by `maintain` and its schedule; the page says how many wait).", lambda v: v >= 0, "must be ≥ 0"),
    Setting("maintain_every_s", float, 60.0, "Seconds between the server's own runs of the periodic duties (`hailong-server maintain`: rollups, purges, abuse bookkeeping); 0 = only the systemd timer or cron runs them.", lambda v: v == 0 or v >= 5, "must be 0 or ≥ 5"),
    Setting("created_at_floor", str, "2024-01-01", "An answer whose device time is before this day (or later than receipt plus `clock_skew_s`) was made by a clock that was off: it is stored, flagged `clock_suspect` and counted at its receipt time (or the kiosk's boot-clock estimate).", lambda v: _is_day(v), "must be a day YYYY-MM-DD"),
    Setting("log_level", str, "info", "Logging level: debug, info, warning, error.", lambda v: v in ("debug", "info", "warning", "error"), "must be debug, info, warning or error"),
    # The fleet page's diagnostics (issue 16; docs/server-admin.md, "Fleet diagnostics").
    Setting("fleet_clock_tolerance_s", float, 120.0, "The fleet page flags a kiosk whose clock differs from the server's by more than this many seconds (measured at its last heartbeat), and counts them at the top. Tighter than `clock_skew_s`, which decides when answers are placed by receipt time: IT staff hear of a drifting clock before it matters to the reports.", lambda v: v > 0, "must be positive"),
    Setting("fleet_log_lines", int, 200, "How many of its log's last lines a kiosk is asked for from the fleet page (the kiosk sends at most 64 KiB).", lambda v: 1 <= v <= 500, "must be 1..500"),
    Setting("fleet_low_disk_mb", float, 1024.0, "The fleet page flags a kiosk with less free disk than this many MiB.", lambda v: v >= 0, "must be ≥ 0"),
    # Remote update of the kiosks (issue 16; docs/install-kiosk.md, "Cập nhật từ xa / Remote update").
    Setting("release_max_mb", float, 50.0, "Largest kiosk release (wheel) `release-add` and the releases page accept, in MiB; it is kept in the database (today's wheel is about 0.5 MiB).", lambda v: 0 < v <= 1024, "must be in (0, 1024]"),
    # Alerts that reach people (issue 15; docs/server-admin.md, "Cảnh báo qua Telegram, Zalo, webhook").
    Setting("alert_repeat_min", float, 120.0, "Alert delivery: a unit's or officer's alert that continues (or fires again) is sent to a channel again at most once in this many minutes.", lambda v: v > 0, "must be positive"),
    Setting("alert_channel_max_per_hour", int, 20, "Alert delivery: the most alert messages one channel is sent in any hour; alerts beyond it are held and sent later as one summary message when the hour allows.", lambda v: 1 <= v <= 1000, "must be 1..1000"),
    Setting("alert_retry_max", int, 6, "Alert delivery: attempts for one message when the channel's API answers 5xx, 429 or not at all (the wait doubles from `alert_retry_base_s`, at most an hour); a 4xx answer is not retried.", lambda v: 1 <= v <= 50, "must be 1..50"),
    Setting("alert_retry_base_s", float, 30.0, "Alert delivery: seconds before the first retry of a message (then 2×, 4×, … up to an hour).", lambda v: v > 0, "must be positive"),
    Setting("alert_http_timeout_s", float, 10.0, "Alert delivery: seconds to wait for a Telegram, Zalo or webhook answer before the attempt counts as failed (and is retried).", lambda v: 0 < v <= 120, "must be in (0, 120]"),
    Setting("alert_telegram_api_url", str, "https://api.telegram.org", "Alert delivery: the Telegram Bot API's address (`<this>/bot<token>/sendMessage`); change it only for a local Bot API server or a test.", lambda v: v.startswith(("https://", "http://")), "must start with https:// or http://"),
    Setting("alert_zalo_api_url", str, "https://openapi.zalo.me", "Alert delivery: the Zalo Official Account API's address (`<this>/v3.0/oa/message/cs`); change it only for a test.", lambda v: v.startswith(("https://", "http://")), "must start with https:// or http://"),
    Setting("alert_zalo_oauth_url", str, "https://oauth.zaloapp.com", "Alert delivery: Zalo's OAuth address, where a Zalo channel's OA access token is renewed with its single-use refresh token (`<this>/v4/oa/access_token`); change it only for a test.", lambda v: v.startswith(("https://", "http://")), "must start with https:// or http://"),
    Setting("alert_log_days", float, 90.0, "Alert delivery: days the delivery log keeps finished deliveries (sent, failed, summarised, cancelled).", lambda v: v > 0, "must be positive"),
    # The office's sync server (relay, issue 17; docs/relay.md). Read by a server enrolled upstream (`enroll-upstream`).
    Setting("relay_batch_items", int, 500, "Relay: answers forwarded upstream in one request (the upstream's `max_batch_items` caps it).", lambda v: 1 <= v <= 10_000, "must be 1..10000"),
    Setting("relay_idle_s", float, 2.0, "Relay: seconds between looks for new answers to forward when nothing is waiting.", lambda v: 0.05 <= v <= 600, "must be 0.05..600"),
    Setting("relay_backoff_max_s", float, 300.0, "Relay: longest wait between tries while the upstream cannot be reached (the wait doubles from 1 s, with jitter); an upstream's `Retry-After` is obeyed up to this.", lambda v: 1 <= v <= 3600, "must be 1..3600"),
    Setting("relay_bandwidth_kbps", float, 0.0, "Relay: most kilobits per second the forwarding may use on the WAN link (compressed bytes); 0 = no cap.", lambda v: v >= 0, "must be ≥ 0"),
    Setting("relay_config_every_s", float, 60.0, "Relay: seconds between asks for the upstream's config (questionnaires, campaigns, officers, kiosk PINs and dossier patterns of its units); an unchanged config costs one 304.", lambda v: v >= 1, "must be ≥ 1"),
    Setting("relay_timeout_s", float, 30.0, "Relay: seconds to wait for the upstream's answer to one request.", lambda v: 0 < v <= 600, "must be in (0, 600]"),
)


def _is_day(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except (TypeError, ValueError):
        return False
    return len(text) == 10


def default_db_path() -> Path:
    return Path(platformdirs.user_data_dir("hailong-server", appauthor=False)) / "server.sqlite3"


def load(file: Path | None = None, **overrides) -> Settings:
    """Server settings: defaults < file < environment < ``overrides`` (``None`` overrides are ignored)."""
    return load_settings(SPEC, env_prefix=ENV_PREFIX, file=file,
                         overrides={k: v for k, v in overrides.items() if v is not None})
