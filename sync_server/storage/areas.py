"""The storage interface, by area. :class:`sync_server.storage.base.Storage` joins them.

Each area is a small abstract class so a back end (SQLite today, PostgreSQL next) implements it
as one mixin, and no interface module grows into a grab-bag. Dates are ``YYYY-MM-DD`` text;
instants are RFC 3339 text or UTC epoch milliseconds, as in migration 1.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime

from sync_server.storage.types import Device, ImportReport, Session, UnitRelease, User


class UnitsArea(ABC):
    """Units with history: ``units`` is the latest version of each code, ``unit_versions`` all of them."""

    @abstractmethod
    def units(self) -> list[dict]:
        """Every code's latest version: ``code, name, level, parent_code, valid_from, valid_to`` (tree order)."""

    @abstractmethod
    def unit(self, code: str) -> dict | None: ...

    @abstractmethod
    def unit_versions(self, code: str | None = None) -> list[dict]:
        """Versions (all, or of one code), oldest first: ``code, name, level, parent_code, valid_from, valid_to``."""

    @abstractmethod
    def units_as_of(self, day: str) -> list[dict]:
        """The tree in force on ``day`` (one version per code), in tree order."""

    @abstractmethod
    def import_unit_release(self, release: UnitRelease, *, dry_run: bool = False) -> ImportReport:
        """Add, change (new version) and close units so the release's province matches it, in one transaction."""

    @abstractmethod
    def add_unit_link(self, from_code: str, to_code: str, on_date: str) -> None:
        """Record that ``from_code``'s version ending ``on_date`` continues in ``to_code``'s version starting then."""

    @abstractmethod
    def unit_links(self, code: str | None = None) -> list[dict]:
        """Successor links ``from_code, to_code, on_date`` (all, or touching ``code``)."""

    @abstractmethod
    def unit_lineage(self, code: str, direction: str = "successors") -> list[dict]:
        """Transitive ``successors`` or ``predecessors`` of ``code``: ``code, on_date, depth`` rows.

        A row names a version: for successors the version of ``code`` starting ``on_date``, for
        predecessors the one ending then (a reused code appears as its own predecessor). Reports
        roll old answers (still attached to the old codes, dated before ``on_date``) up under the
        new unit with this.
        """

    @abstractmethod
    def subtree_codes(self, code: str) -> set[str]:
        """``code`` and every code that had it as an ancestor in any version."""

    @abstractmethod
    def set_office_hours(self, code: str | None, hours: dict | None) -> None:
        """Office hours of a unit, or the province default when ``code`` is None; ``None`` inherits."""

    @abstractmethod
    def office_hours(self, code: str) -> dict | None:
        """Effective hours: the unit's, else its nearest ancestor's, else the province default, else None."""


class OfficersArea(ABC):
    @abstractmethod
    def officers(self, unit_codes: set[str] | None = None, *, active_only: bool = False) -> list[dict]:
        """``id, unit_code, name, title, photo, has_pin, active, procedure_group, site_id`` rows, by unit then name."""

    @abstractmethod
    def officer(self, officer_id: str) -> dict | None:
        """One officer with ``pin_hash`` included."""

    @abstractmethod
    def officer_ids(self, unit_code: str) -> set[str]:
        """Ids of every officer of the unit, active or not."""

    @abstractmethod
    def add_officer(self, officer_id: str, unit_code: str, name: str, title: str | None, photo: str | None,
                    pin_hash: str | None, now: datetime, *, site_id: int | None = None) -> None: ...

    @abstractmethod
    def update_officer(self, officer_id: str, now: datetime, **fields) -> bool:
        """Change any of ``unit_code, name, title, photo, pin_hash, active, procedure_group, site_id``; False when unknown."""

    @abstractmethod
    def kiosk_officers(self, unit_code: str, site_id: int | None = None) -> list[dict]:
        """The active roster in the config shape: ``id, name, title, photo, pin_hash, procedure_group``; with
        ``site_id``, only the officers of no site (the whole unit) and those of that site."""


class SurveysArea(ABC):
    """Questionnaire versions (drafts and published), campaigns and province-wide config values."""

    @abstractmethod
    def questionnaires(self) -> dict[tuple[str, int], dict]:
        """Published questionnaire documents by ``(id, version)``."""

    @abstractmethod
    def questionnaire_versions(self) -> list[dict]:
        """Every version: ``id, version, title, created_at, published_at`` (newest first per id)."""

    @abstractmethod
    def questionnaire_version(self, qid: str, version: int) -> dict | None:
        """``id, version, body (dict), created_at, published_at``."""

    @abstractmethod
    def save_questionnaire_draft(self, doc: dict, now: datetime) -> None:
        """Create or replace a draft; raises ``StorageRefused('questionnaire_published')`` for a published version."""

    @abstractmethod
    def publish_questionnaire(self, qid: str, version: int, now: datetime) -> None: ...

    @abstractmethod
    def active_questionnaire(self, unit_code: str, day: str | None = None) -> dict:
        """The document for this unit on ``day``: the newest campaign covering it, else the default's newest published version."""

    @abstractmethod
    def campaigns(self) -> list[dict]:
        """``id, name, starts_on, ends_on, questionnaire_id, questionnaire_version, units`` (codes)."""

    @abstractmethod
    def campaign(self, campaign_id: int) -> dict | None: ...

    @abstractmethod
    def add_campaign(self, name: str, starts_on: str, ends_on: str, qid: str, version: int, unit_codes: list[str],
                     now: datetime) -> int: ...

    @abstractmethod
    def update_campaign(self, campaign_id: int, name: str, starts_on: str, ends_on: str, qid: str, version: int,
                        unit_codes: list[str], today: str, now: datetime, user: User | None, ip: str | None = None) -> dict:
        """Change a campaign that has not started (its ``starts_on`` is after ``today``, the province's day) and
        write ``campaign.edit`` (before and after) to the audit log in the same transaction; returns the
        campaign as it was. Raises ``StorageRefused`` with ``not_found``, ``campaign_started`` or
        ``questionnaire_not_published``, changing nothing."""

    @abstractmethod
    def delete_campaign(self, campaign_id: int) -> bool: ...

    @abstractmethod
    def get_config(self, key: str, default=None):
        """A province-wide value (JSON) set from the admin pages."""

    @abstractmethod
    def set_config(self, key: str, value) -> None: ...


class FleetArea(ABC):
    @abstractmethod
    def create_enroll_code(self, unit_code: str, code_hash: str, expires_at: datetime, label: str | None = None,
                           created_by: str | None = None, site_id: int | None = None, counter: str | None = None,
                           kind: str = "kiosk") -> None:
        """A single-use code; ``kind`` ``relay`` enrols an office's sync server for the unit's subtree (issue 17)."""

    @abstractmethod
    def redeem_enroll_code(self, code_hash: str, now: datetime, device_id: str, token_hash: str, name: str | None) -> Device:
        """Use a code once: create the device bound to the code's unit; raise :class:`EnrollRefused`."""

    @abstractmethod
    def enroll_codes(self, unit_codes: set[str] | None = None) -> list[dict]:
        """``unit_code, label, created_at, expires_at, used_at, device_id, created_by`` (newest first)."""

    @abstractmethod
    def device_by_token(self, token_hash: str) -> Device | None: ...

    @abstractmethod
    def device(self, device_id: str) -> dict | None: ...

    @abstractmethod
    def revoke_device(self, device_id: str, now: datetime) -> bool: ...

    @abstractmethod
    def record_heartbeat(self, device_id: str, now: datetime, info: dict) -> None:
        """Keep a heartbeat's status on the device, and its ``diagnostics`` (when not None) in the same transaction."""

    @abstractmethod
    def devices(self, unit_codes: set[str] | None = None, kind: str | None = "kiosk") -> list[dict]:
        """Enrolled devices (revoked ones too) of ``unit_codes``: kiosks, or relays (``kind="relay"``), or all (None)."""

    @abstractmethod
    def devices_by_id(self, device_ids: list[str]) -> dict[str, dict]:
        """``{id: device}`` for the kiosks among ``device_ids`` that exist (revoked ones too); batched lookups."""

    @abstractmethod
    def device_diagnostics(self, device_ids: list[str] | None = None) -> dict[str, dict]:
        """``{device_id: {reported_at, diagnostics, log_request_id, log_request_lines, log_requested_at,
        log_requested_by, log_received_at, log_line_count, log_truncated, log_asked_at, log_asked_by}}``
        (``diagnostics``: the last heartbeat's, parsed; no log text) for the kiosks that have a row."""

    @abstractmethod
    def request_device_log(self, device_id: str, request_id: str, lines: int, now: datetime, user: User | None,
                           ip: str | None = None) -> None:
        """Ask the kiosk for its log's last ``lines`` (replacing a request it has not answered yet); the
        request and its audit entry (``device.log_request``) commit together."""

    @abstractmethod
    def device_log_request(self, device_id: str) -> dict | None:
        """The kiosk's open log request, ``{id, lines, requested_at, requested_by}``, or None."""

    @abstractmethod
    def store_device_log(self, device_id: str, request_id: str, text: str, line_count: int, truncated: bool,
                         now: datetime) -> bool:
        """Keep the kiosk's answer to its open request and close it (audited as ``device.log_upload``);
        False, storing nothing, when ``request_id`` is not the open request."""

    @abstractmethod
    def device_log(self, device_id: str) -> dict | None:
        """The last log lines the kiosk sent: ``{text, received_at, line_count, truncated, asked_at, asked_by}``, or None."""


class PeopleArea(ABC):
    """Accounts, sessions, login throttling and the audit log."""

    @abstractmethod
    def add_user(self, username: str, password_hash: str, role: str, unit_code: str | None, now: datetime) -> int:
        """Raises ``StorageRefused('username_taken')`` for a name in use."""

    @abstractmethod
    def user(self, user_id: int) -> User | None: ...

    @abstractmethod
    def user_login(self, username: str) -> tuple[User, str] | None:
        """``(user, password_hash)`` for a username, active or not."""

    @abstractmethod
    def users(self) -> list[dict]: ...

    @abstractmethod
    def update_user(self, user_id: int, **fields) -> bool:
        """Change any of ``password_hash, role, unit_code, active``; ends the user's sessions when any changed."""

    @abstractmethod
    def create_session(self, id_hash: str, user_id: int, csrf: str, now_ms: int, expires_ms: int, ip: str | None) -> None: ...

    @abstractmethod
    def session(self, id_hash: str, now_ms: int) -> Session | None:
        """The live session of an active user, or None (expired, ended, user deactivated)."""

    @abstractmethod
    def end_session(self, id_hash: str) -> None: ...

    @abstractmethod
    def note_login_failure(self, keys: list[str], now_ms: int, keep_ms: int) -> None:
        """Record a failed login under each key (username, address); forget entries older than ``keep_ms``."""

    @abstractmethod
    def login_failures(self, key: str, since_ms: int) -> int: ...

    @abstractmethod
    def clear_login_failures(self, key: str) -> None: ...

    @abstractmethod
    def audit(self, now: datetime, user: User | None, action: str, target: str | None = None,
              detail: dict | None = None, ip: str | None = None) -> None: ...

    @abstractmethod
    def audit_log(self, limit: int = 200, offset: int = 0, *, action: str | None = None, since: datetime | None = None,
                  before: datetime | None = None) -> list[dict]:
        """Entries newest first, optionally of one ``action`` and stamped in ``[since, before)`` (aware instants;
        entries carry the offset they were written with, so the window is compared as instants, not as text)."""

    @abstractmethod
    def audit_actions(self) -> list[str]:
        """Every action the audit log holds, sorted (the audit page's filter)."""

    @abstractmethod
    def usernames(self, user_ids: list[int]) -> dict[int, str]:
        """``{id: username}`` for the accounts among ``user_ids`` that exist; one query."""


class PhoneArea(ABC):
    """The phone (QR) channel's own records, beside the responses: sequence numbers, abuse
    bookkeeping, dossier tokens, comments on kiosk answers, call-back contacts. Times are UTC epoch ms."""

    @abstractmethod
    def phone_secret(self) -> str:
        """The server's key for the form's CSRF tokens and the browser/address hashes (made once)."""

    @abstractmethod
    def next_phone_seq(self, unit_code: str) -> int:
        """The next sequence number of the point's web form (a per-point counter; gaps are harmless)."""

    @abstractmethod
    def note_phone_submission(self, unit_code: str, browser_hash: str | None, ip_hash: str | None, day: str,
                              at_ms: int, since_ms: int, kind: str = "answer") -> tuple[int, int, int, int]:
        """Record one submission of ``kind`` (``answer``, ``token``: an answer with a dossier token, or
        ``comment``); return ``(row id, answers stored from this browser for this point today, earlier
        submissions from this address since since_ms, earlier answers without a token from this address
        for this point today (stored or in flight; 0 unless kind is answer))``, counted and inserted in
        one write transaction, so the counts are exact with any number of server processes."""

    @abstractmethod
    def settle_phone_submission(self, row_id: int, outcome: str, response_id: str | None) -> None:
        """Say what became of a noted submission (``stored``, ``refused_rate``, ``refused_token``, ...)."""

    @abstractmethod
    def add_dossier_tokens(self, unit_code: str, token_hashes: list[str], expires_ms: int, created_at: str) -> None: ...

    @abstractmethod
    def dossier_token(self, token_hash: str) -> dict | None:
        """``unit_code, expires_ms, used_ms, response_id`` of a token, or None."""

    @abstractmethod
    def redeem_dossier_token(self, token_hash: str, unit_code: str, response_id: str, now_ms: int) -> str:
        """Use a token once: ``ok``, or ``unknown`` / ``used`` / ``expired`` / ``other_unit`` (nothing changed)."""

    @abstractmethod
    def add_phone_comment(self, response_id: str, unit_code: str, comment: str, now_ms: int) -> bool:
        """Store a comment on an answer; False when that answer already has one."""

    @abstractmethod
    def phone_comment(self, response_id: str) -> dict | None: ...

    @abstractmethod
    def phone_comments(self, unit_codes: set[str] | None = None, limit: int = 200) -> list[dict]:
        """``response_id, unit_code, comment, created_ms, linked`` (linked: the answer has arrived), newest first."""

    @abstractmethod
    def response_brief(self, response_id: str) -> dict | None:
        """``unit_code, created_ms, channel`` of a stored response, or None."""

    @abstractmethod
    def add_phone_contact(self, response_id: str, unit_code: str, phone: str, now_ms: int) -> None: ...

    @abstractmethod
    def phone_contacts(self, unit_codes: set[str] | None = None) -> list[dict]:
        """``response_id, unit_code, phone, created_ms``, newest first (for roles allowed to see them)."""

    @abstractmethod
    def purge_phone_data(self, contacts_before_ms: int, submissions_before_ms: int,
                         orphans_before_ms: int | None = None) -> dict[str, int]:
        """Delete contacts and abuse bookkeeping older than the cut-offs, and comments older than
        ``orphans_before_ms`` whose kiosk answer never arrived; return how many of each."""


class DutiesArea(ABC):
    """The record of the periodic duties: when each last started and ended, and how."""

    @abstractmethod
    def claim_duty(self, name: str, now: str, not_before: str | None) -> bool:
        """Mark ``name`` started at ``now`` unless it started at or after ``not_before`` (RFC 3339 UTC
        text, compared as text); None claims it in any case. Exact across processes."""

    @abstractmethod
    def finish_duty(self, name: str, now: str, error: str | None, detail: str | None) -> None: ...

    @abstractmethod
    def duties(self) -> list[dict]:
        """``name, last_started_at, last_done_at, last_error, detail`` of each duty."""


class ResultsArea(ABC):
    """Results (issue 5): rollups of answer counts, the pull feed, and read-only API tokens.

    Rollups are brought up to date from ``responses`` past a ``server_seq`` watermark by
    ``sync_server.results.rollups.refresh`` (``maintain``, its schedule, a bounded step per page view), never inside the ingest
    transaction. Days are local day numbers, ``(epoch ms + offset) // 86400000``; count rows are
    ``n, c1..c5`` (answers, and answers per level of a scale question).
    """

    @abstractmethod
    def rollup_state(self) -> tuple[int, int] | None:
        """``(last folded server_seq, offset_ms)`` of the rollups, or None before the first fold."""

    @abstractmethod
    def top_seq(self) -> int:
        """The highest ``server_seq`` stored (0 when none)."""

    @abstractmethod
    def reset_rollups(self, offset_ms: int) -> None:
        """Empty every rollup table and set the watermark to 0 for ``offset_ms``."""

    @abstractmethod
    def rows_to_fold(self, after_seq: int, limit: int) -> list[tuple]:
        """Rows ``(server_seq, unit_code, officer_id, channel, questionnaire_id, questionnaire_version, created_ms,
        received_at, answers, flags, clock_suspect, procedure_group, placed_ms, site_id)`` after ``after_seq``, in
        order; ``site_id`` (the 14th column) is the site the answer was given at, None when none was recorded.
        ``flags`` are the stored flags with ``dossier_repeat`` first on a dossier's repeat rating (issue 14)."""

    @abstractmethod
    def token_phone_rows(self, ms_from: int, ms_to: int, unit_codes: set[str] | None = None) -> list[tuple]:
        """Phone answers bound to a dossier token created in ``[ms_from, ms_to)``, shaped as :meth:`rows_to_fold`."""

    @abstractmethod
    def add_rollups(self, last_seq: int, new_last: int, offset_ms: int, counts: dict[str, list[tuple]]) -> bool:
        """In one transaction: if the watermark is still ``last_seq`` (for ``offset_ms``), move it to
        ``new_last`` and add ``counts`` (rows per rollup table); return whether it did."""

    @abstractmethod
    def rollup_counts(self, day_from: int, day_to: int, unit_codes: set[str] | None = None,
                      by: tuple[str, ...] = ("unit_code",), questions: list[str] | None = None) -> list[tuple]:
        """Rows ``(*by, questionnaire_id, questionnaire_version, question, flag_class, n, c1..c5)`` summed
        over ``day_from..day_to``; ``by`` ⊆ (unit_code, site_id, channel, day), in the order given; ``site_id`` is
        the site the answers were given at (0: none recorded), so a unit's own points and the versions of a
        reused code are told apart; question '' counts responses."""

    @abstractmethod
    def rollup_choice_counts(self, day_from: int, day_to: int, unit_codes: set[str] | None = None) -> list[tuple]:
        """Rows ``(questionnaire_id, questionnaire_version, question, option_id, flag_class, n)``."""

    @abstractmethod
    def rollup_officer_counts(self, day_from: int, day_to: int, unit_codes: set[str] | None = None,
                              officer_id: str | None = None, by_site: bool = False) -> list[tuple]:
        """Rows ``(officer_id, unit_code, questionnaire_id, questionnaire_version, question, flag_class, n, c1..c5)``;
        with ``by_site``, led by ``(unit_code, site_id)``."""

    @abstractmethod
    def rollup_hour_counts(self, month_from: int, month_to: int, unit_codes: set[str] | None = None,
                           channel: str | None = None, by_site: bool = False) -> list[tuple]:
        """Headline-question rows ``(weekday, hour, questionnaire_id, questionnaire_version, flag_class, n, c1..c5)``
        for months ``yyyymm`` in ``month_from..month_to`` (one channel, or both); with ``by_site``, led by
        ``(unit_code, site_id)``."""

    @abstractmethod
    def rollup_group_counts(self, day_from: int, day_to: int, unit_codes: set[str] | None = None,
                            channel: str | None = None, by_site: bool = False) -> list[tuple]:
        """Rows ``(procedure_group, questionnaire_id, questionnaire_version, question, flag_class, n, c1..c5)``
        of the answers that name a procedure group, summed over ``day_from..day_to``; with ``by_site``, led
        by ``(unit_code, site_id)``."""

    @abstractmethod
    def answers_after(self, since_seq: int, limit: int, unit_codes: set[str] | None = None) -> list[dict]:
        """Stored responses with ``server_seq > since_seq`` in order (at most ``limit``): the pull feed."""

    @abstractmethod
    def recent_answers(self, since_ms: int, lag_ms: int = 300_000) -> list[dict]:
        """Every response placed (device time, or receipt time when its clock is suspect) at or after
        ``since_ms``, found among those received since ``since_ms - lag_ms`` (for alerts)."""

    @abstractmethod
    def add_api_token(self, name: str, token_hash: str, unit_code: str | None, now: datetime) -> int:
        """Raises ``StorageRefused('name_taken')`` for a name in use."""

    @abstractmethod
    def api_token_by_hash(self, token_hash: str) -> dict | None:
        """``id, name, unit_code, revoked_at`` of a token."""

    @abstractmethod
    def api_tokens(self) -> list[dict]: ...

    @abstractmethod
    def revoke_api_token(self, name: str, now: datetime) -> bool: ...


class PromptsArea(ABC):
    """Recorded voice prompts (issue 12): one WAV per prompt name and language, for the kiosks."""

    @abstractmethod
    def prompts(self) -> list[dict]:
        """``name, lang, sha256, bytes, duration_ms, uploaded_at, uploaded_by`` of each recording (no content), by name then language."""

    @abstractmethod
    def prompt(self, name: str, lang: str) -> dict | None:
        """One recording with its ``content`` (bytes), or None."""

    @abstractmethod
    def put_prompt(self, name: str, lang: str, content: bytes, sha256: str, duration_ms: int, now: datetime,
                   by: str | None) -> bool:
        """Store (or replace) the recording; True when it replaced one."""

    @abstractmethod
    def delete_prompt(self, name: str, lang: str) -> bool:
        """False when there was none."""


class SitesArea(ABC):
    """Service points (issue 13): a unit version's sites (điểm tiếp nhận) and their counters (quầy).

    A site dict: ``id, unit_code, unit_valid_from, position, name, address, office_hours (dict or
    None), hotline, public_base_url, created_at, closed_at, counters`` (``[{code, name}]``, open ones).
    """

    @abstractmethod
    def sites(self, unit_code: str | None = None, *, include_closed: bool = False) -> list[dict]:
        """Sites (of ``unit_code``'s versions, or all), by unit code, unit version and position."""

    @abstractmethod
    def site(self, site_id: int) -> dict | None: ...

    @abstractmethod
    def first_site(self, unit_code: str, day: str) -> dict | None:
        """The first open site of the version of ``unit_code`` in force on ``day`` (YYYY-MM-DD);
        before the unit's first version, its earliest site; None for an unknown code."""

    @abstractmethod
    def add_site(self, unit_code: str, name: str, now: datetime, *, address: str | None = None, hotline: str | None = None,
                 public_base_url: str | None = None, office_hours: dict | None = None) -> dict:
        """A new site for the version of ``unit_code`` in force now (the next position); returns it."""

    @abstractmethod
    def update_site(self, site_id: int, **fields) -> bool:
        """Change ``name, address, hotline, public_base_url, office_hours`` (given keys only)."""

    @abstractmethod
    def add_counter(self, site_id: int, code: str, name: str) -> None:
        """Add (or reopen and rename) counter ``code`` of a site."""

    @abstractmethod
    def close_site(self, site_id: int, now: datetime) -> dict:
        """Close a site (and its counters; its unused enrolment codes expire); its answers stay with it.
        Refused (``StorageRefused``) while a kiosk not revoked is enrolled to it, or when it is the last
        open site of its unit version. Closing a closed site changes nothing."""

    @abstractmethod
    def close_counter(self, site_id: int, code: str, now: datetime) -> None:
        """Close a counter; refused while a kiosk not revoked is enrolled at it. ``add_counter`` reopens it."""


class DossiersArea(ABC):
    """Dossiers (issue 14): the register imported from the one-stop information system, and which
    rating of a dossier counts.

    A register row is a dict ``code, unit_code, site_id, counter, field, procedure_name, received_on,
    due_on, returned_on, status, channel, complaint`` (0/1; a PAKN marker) and, as stored, ``source,
    imported_at, updated_at``; codes are normalised (``hailong_core.dossier.normalise_dossier_code``),
    dates ISO text (``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM:SS``, the province's local time). Nothing here
    returns a dossier code beside a rating's answers or officer.
    """

    @abstractmethod
    def import_dossiers(self, rows: list[dict], source: str, now: datetime, user: User | None = None,
                        via: str | None = None) -> tuple[int, int, int]:
        """In one transaction: add the rows whose code is new, update those whose fields differ from
        the stored ones (an ``audit_log`` entry ``dossier.update`` per changed row, ``{field: [old, new]}``),
        leave the rest untouched, and add one ``dossiers.import`` entry; return ``(added, updated, unchanged)``."""

    @abstractmethod
    def dossiers_by_code(self, codes: list[str]) -> dict[str, dict]:
        """The stored register rows of these (normalised) codes, by code."""

    @abstractmethod
    def dossier_count(self) -> int: ...

    @abstractmethod
    def dossier_measure_rows(self, returned_from: str, returned_before: str, due_from: str, due_to: str,
                             unit_codes: set[str] | None = None) -> list[dict]:
        """The dossiers a measure window holds, without their codes: those returned on a day in
        ``[returned_from, returned_before)``, and those not returned whose due day is in ``[due_from, due_to]``.
        Each: ``unit_code, site_id, counter, field, received_on, due_on, returned_on, complaint`` and its
        counted rating's ``questionnaire_id, questionnaire_version, answers`` (JSON text), ``rating_channel,
        rating_site_id, rating_counter`` (the kiosk's counter), all None when no rating counts for it."""

    @abstractmethod
    def dossier_rating_counts(self, ms_from: int, ms_to: int, max_seq: int | None = None,
                              unit_codes: set[str] | None = None) -> list[tuple]:
        """Counted dossier ratings placed in ``[ms_from, ms_to)`` (UTC epoch ms), at most ``max_seq`` when
        given: rows ``(unit_code of the answer, channel, in_register 0/1, n)``."""


class ReleasesArea(ABC):
    """Remote update (issue 16): kiosk releases (wheels kept in the database, with their SHA-256) and
    the release staged for each kiosk, with the outcome its heartbeat reported.

    A release dict: ``id, version, filename, sha256, bytes, notes, added_at, added_by`` (never the
    content, except from :meth:`release_content`). A target dict: ``device_id, release_id, version,
    filename, sha256, bytes, staged_at, staged_by, outcome, outcome_reason, outcome_at, reported_at,
    install_seconds``. Each change and its audit entry commit together.
    """

    @abstractmethod
    def add_release(self, version: str, filename: str, sha256: str, content: bytes, notes: str | None, now: datetime,
                    user: User | None, ip: str | None = None) -> int:
        """Store a release (audited as ``release.add``); raises ``StorageRefused('version_taken')``."""

    @abstractmethod
    def releases(self) -> list[dict]:
        """Every release, newest first, each with ``staged, installed, rolled_back, failed`` (counts of kiosks)."""

    @abstractmethod
    def release(self, release_id: int) -> dict | None: ...

    @abstractmethod
    def release_content(self, release_id: int) -> bytes | None: ...

    @abstractmethod
    def stage_release(self, release_id: int, device_ids: list[str], now: datetime, user: User | None,
                      ip: str | None = None, target: str | None = None) -> int:
        """Stage the release for these kiosks (what was staged for them before is replaced, its outcome
        forgotten), audited as one ``release.stage`` entry naming ``target``; return how many."""

    @abstractmethod
    def unstage_release(self, device_ids: list[str], now: datetime, user: User | None, ip: str | None = None) -> int:
        """Stage nothing for these kiosks any more (audited as ``release.unstage``); return how many had one."""

    @abstractmethod
    def release_targets(self, device_ids: list[str] | None = None) -> dict[str, dict]:
        """``{device_id: target}`` for the kiosks that have a release staged (all, or these)."""

    @abstractmethod
    def note_release_outcome(self, device_id: str, release_id: int, outcome: str, reason: str | None, at: str | None,
                             seconds: float | None, now: datetime) -> bool:
        """Keep the outcome a kiosk reported; False (nothing kept) when ``release_id`` is not staged for it."""


class AlertsArea(ABC):
    """Alerts that reach people (issue 15): delivery channels and the delivery log.

    A channel dict: ``id, name, kind`` (``telegram``, ``zalo``, ``webhook``), ``target`` (chat id,
    Zalo user id, or the webhook URL), ``unit_code`` (None: the province; else that unit's subtree),
    ``officer_results``, ``active``, ``has_secret``, ``created_at, created_by, updated_at, removed_at``;
    never the secret (only :meth:`alert_channel_secret` and :meth:`claim_alert_deliveries` read it).
    A delivery dict: ``id, channel_id, alert_key, window_no, kind`` (``alert``, ``summary``, ``test``),
    ``unit_code, payload`` (parsed JSON), ``status`` (``pending``, ``sending``, ``retry``, ``sent``,
    ``failed``, ``held``, ``summarised``, ``cancelled``), ``attempts, next_try_ms, lease_ms, last_error,
    http_status, summary_id, created_ms, created_at, sent_at, updated_at``. Times in ms are UTC epoch ms.
    ``(channel_id, alert_key, window_no)`` is unique.
    """

    @abstractmethod
    def alert_channels(self, include_removed: bool = False) -> list[dict]:
        """Channels by name (removed ones only when asked)."""

    @abstractmethod
    def alert_channel(self, channel_id: int) -> dict | None: ...

    @abstractmethod
    def alert_channel_secret(self, channel_id: int) -> str | None:
        """The channel's bot token, access token or signing key (None when it has none)."""

    @abstractmethod
    def add_alert_channel(self, name: str, kind: str, target: str, secret: str | None, unit_code: str | None,
                          officer_results: bool, now: datetime, user: User | None, ip: str | None = None) -> int:
        """Add a channel (audited as ``alert_channel.add``, without the secret); raises ``StorageRefused('name_taken')``."""

    @abstractmethod
    def update_alert_channel(self, channel_id: int, now: datetime, user: User | None, ip: str | None = None,
                             **fields) -> bool:
        """Change any of ``secret, active, officer_results, target`` of a channel not removed (audited as
        ``alert_channel.edit``, saying only whether a secret was set); False when there is none."""

    @abstractmethod
    def swap_alert_channel_secret(self, channel_id: int, expected: str | None, secret: str | None, now: datetime,
                                  action: str | None = None, detail: dict | None = None) -> bool:
        """Compare and set, in one write transaction: when the channel is not removed and its secret is still
        ``expected``, store ``secret`` (and, with ``action``, an audit entry by the system with ``detail``,
        which must hold no secret); False when the secret had changed (the caller reads it again)."""

    @abstractmethod
    def remove_alert_channel(self, channel_id: int, now: datetime, user: User | None, ip: str | None = None) -> bool:
        """Remove a channel: it stays for its delivery log, its secret is deleted, its waiting deliveries
        are cancelled (audited as ``alert_channel.remove``); False when there is none."""

    @abstractmethod
    def queue_alert_deliveries(self, rows: list[dict], now_ms: int, repeat_after_ms: int, max_per_hour: int) -> dict[str, int]:
        """In one write transaction, for each row ``{channel_id, alert_key, window_no, kind, unit_code, payload}``:
        skip it when the channel is removed or inactive, or already has a delivery of ``alert_key`` created
        after ``now_ms - repeat_after_ms``; else insert it (a row whose key and window exist is skipped),
        ``pending`` while the channel counts fewer than ``max_per_hour`` alerts and summaries created in the
        past hour, else ``held``. Returns ``{queued, held, skipped}``."""

    @abstractmethod
    def alert_channel_usage(self, channel_id: int, now_ms: int) -> int:
        """The alerts and summaries counting against the channel's hourly limit at ``now_ms``."""

    @abstractmethod
    def held_alert_deliveries(self, channel_id: int | None = None) -> list[dict]:
        """Deliveries held by the hourly limit (of one channel, or all), oldest first."""

    @abstractmethod
    def queue_alert_summary(self, channel_id: int, held_ids: list[int], payload: dict, now_ms: int,
                            max_per_hour: int) -> int | None:
        """In one write transaction: when the channel is under its limit and every id is still held, add one
        ``summary`` delivery (key ``summary:<lowest id>``) and mark those ``summarised``; its id, else None."""

    @abstractmethod
    def add_alert_test(self, channel_id: int, alert_key: str, payload: dict, now_ms: int, user: User | None,
                       ip: str | None = None) -> int:
        """A ``test`` delivery due now (audited as ``alert_channel.test``); its id."""

    @abstractmethod
    def claim_alert_deliveries(self, now_ms: int, lease_ms: int, limit: int, ids: list[int] | None = None) -> list[dict]:
        """In one write transaction: the deliveries due (``pending`` or ``retry`` with ``next_try_ms <= now_ms``,
        or ``sending`` whose lease ended: its sender stopped), at most ``limit`` (only ``ids`` when given),
        each marked ``sending`` with one more attempt and a lease to ``now_ms + lease_ms``, returned with
        ``channel: {id, kind, name, target, secret}``; those of a removed or inactive channel are cancelled."""

    @abstractmethod
    def finish_alert_delivery(self, delivery_id: int, attempt: int, status: str, now: datetime, *,
                              next_try_ms: int | None = None, error: str | None = None,
                              http_status: int | None = None) -> bool:
        """Record the outcome (``sent``, ``retry``, ``failed``) of the claim that made ``attempt``; False when the
        delivery was claimed again since (its lease ended), so a late sender changes nothing."""

    @abstractmethod
    def alert_delivery(self, delivery_id: int) -> dict | None: ...

    @abstractmethod
    def alert_deliveries(self, limit: int = 100, channel_id: int | None = None) -> list[dict]:
        """The delivery log, newest first, each with ``channel_name, channel_kind``."""

    @abstractmethod
    def alert_delivery_counts(self) -> dict[str, int]:
        """``{status: deliveries}``."""

    @abstractmethod
    def purge_alert_deliveries(self, before_ms: int) -> int:
        """Delete finished deliveries (sent, failed, summarised, cancelled) created before ``before_ms``; how many."""


class CommentsArea(ABC):
    """Citizens' written comments (issue 15) and their moderation.

    Two sources: the text answers of the phone form (``responses``, channel ``qr``; one comment per text
    question answered) and the comments written through a kiosk answer's thank-you QR (``phone_comments``).
    A comment's identity is ``(response_id, question)``; a link comment's question is ``""``. Hiding keeps
    the text (never deleted) and records the state in ``comment_moderation``.
    """

    @abstractmethod
    def form_comment_rows(self, ms_from: int, ms_to: int, unit_codes: set[str] | None, text_questions: list[str]) -> list[dict]:
        """Phone answers created in ``[ms_from, ms_to)`` (of ``unit_codes``; None: all) whose answers may hold
        one of ``text_questions``: ``response_id, unit_code, site_id, site_name, site_unit_valid_from, officer_id,
        officer_name, questionnaire_id, questionnaire_version, created_ms, answers`` (parsed) and
        ``moderation``: ``{question: {hidden, reason, updated_at, updated_by}}``."""

    @abstractmethod
    def link_comment_rows(self, ms_from: int, ms_to: int, unit_codes: set[str] | None) -> list[dict]:
        """Comments through a kiosk answer's link written in ``[ms_from, ms_to)``: ``response_id, unit_code,
        comment, created_ms``, the answer's ``site_id, site_name, site_unit_valid_from, officer_id, officer_name,
        questionnaire_id, questionnaire_version, answers`` (None while it has not arrived) and ``moderation``."""

    @abstractmethod
    def set_comment_hidden(self, response_id: str, question: str, hidden: bool, reason: str, now: datetime,
                           user: User | None, ip: str | None = None) -> bool:
        """Hide or show one comment with a reason, audited (``comment.hide`` / ``comment.unhide``) in the same
        transaction; False (nothing written) when its state is already that."""


class RelayArea(ABC):
    """The office's sync server (issue 17), at the relay: where it forwards to, what is still to go
    up (behind the ``server_seq`` cursor), what the upstream refused (kept aside), and the config
    the upstream passed down, applied here so the relay's own kiosks, phone form and pages use it."""

    @abstractmethod
    def upstream_link(self) -> dict | None:
        """The one upstream this server forwards to (url, token, device_id, unit_code, cursors, last
        forward and error, config ETag), or None when it forwards nowhere."""

    @abstractmethod
    def link_upstream(self, url: str, token: str, device_id: str, unit_code: str, now: str, mirror_config: bool = True) -> None:
        """Forward to ``url`` from now on, every answer held (replaces an earlier link, cursors from zero:
        the new upstream answers ``duplicate`` for what it has)."""

    @abstractmethod
    def take_forward_lease(self, owner: str, now_ms: int, ttl_ms: int, stale_owner: str | None = None) -> bool:
        """One forwarder at a time among this database's server processes; True while ``owner`` holds it
        (taken over from ``stale_owner``, a holder known to be dead, without waiting for its lease to end)."""

    @abstractmethod
    def unsent(self, limit: int) -> tuple[list[dict], list[dict]]:
        """Up to ``limit`` answers behind the cursor (server_seq order, each with its record rebuilt)
        and then conflicts behind theirs: ``(answers, conflicts)``."""

    @abstractmethod
    def mark_forwarded(self, last_seq: int | None, last_conflict: int | None, refused: list[tuple[str, str, str, str]],
                       sent: int, now: str, device_id: str | None = None) -> None:
        """Move the cursors past what the upstream answered and keep aside ``refused``
        (response id, kind ``answer``|``conflict``, code, message), in one transaction; nothing when
        the link is no longer the one of ``device_id`` (enrolled anew while the batch was out)."""

    @abstractmethod
    def note_upstream_error(self, message: str | None, now: str) -> None: ...

    @abstractmethod
    def upstream_pending(self) -> int:
        """Answers and conflicts not yet answered by the upstream."""

    @abstractmethod
    def upstream_kept_aside(self, limit: int = 200) -> list[dict]: ...

    @abstractmethod
    def upstream_kept_aside_count(self) -> int: ...

    @abstractmethod
    def oldest_unsent_at(self) -> str | None:
        """When the oldest answer still to go up was received here."""

    @abstractmethod
    def relay_officers(self, unit_codes: set[str]) -> list[dict]:
        """At the upstream: the officers of ``unit_codes`` with what kiosks carry for them (PIN hash, photo)."""

    @abstractmethod
    def apply_upstream_config(self, doc: dict, etag: str | None, now: str) -> dict:
        """Apply the upstream's config for this relay's units in one transaction: published
        questionnaires (added, never changed), campaigns (replaced), officers (upserted; those gone
        upstream deactivated) and kiosk config values; returns counts of what changed."""

