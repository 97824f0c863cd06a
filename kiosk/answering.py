"""What a citizen's taps mean, decided without Qt: the window asks, then shows.

Like Anki's reviewer asking its scheduler, :class:`kiosk.ui.main_window.KioskWindow` hands each
tap to :class:`Answering` and shows the :class:`Step` it gets back; it keeps only screens, timers
and signals. Everything an answer is made of is decided here:

- **what it is about**: the unit (from enrolment), the officer on duty and their procedure group
  (lĩnh vực), the questionnaire version, the after-hours flag;
- **draft or final**: a face tap with follow-ups to come is stored at once as a draft (so nothing
  is lost to a crash); each follow-up updates it; finishing makes it pending. A tap with nothing to
  follow is stored pending in one transaction;
- **flags**: misuse (cool-down, bursts: :mod:`kiosk.misuse`, applied in the store's transaction),
  ``after_hours``, and ``incomplete`` when the citizen walked away before the follow-ups were
  done. ``incomplete`` describes the follow-ups only: the headline face was given and counts;
- **which dossier** (issue 14): a receipt's code, scanned on the start screen or announced by the
  counter system (:mod:`kiosk.local_api`), waits in :class:`kiosk.dossier_link.DossierLinks` and
  goes on the next answer started, and on that one only (:meth:`Answering.attach_dossier`);
- **what the thank-you says**: the comment link for the QR (on the public base URL phones can
  reach), and for a headline level that is not "satisfied", the apology and the unit's hotline.

The context (config, unit code, officer session) is held in memory and refreshed when the config
or the officer changes, so a tap costs one store transaction and no reads.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable
from urllib.parse import quote

from hailong_core.config import kiosk_settings
from hailong_core.dossier import matches_pattern, normalise_dossier_code, valid_dossier_code
from hailong_core.procedure_groups import valid_code
from hailong_core.questionnaire import Question, Questionnaire, QuestionnaireError, load_default_questionnaire, parse_questionnaire
from hailong_core.response import FLAG_AFTER_HOURS, FLAG_INCOMPLETE
from hailong_core.timeutil import parse_rfc3339
from kiosk.dossier_link import COUNTER, SCAN, SOURCES, DossierLinks
from kiosk.flow import CitizenFlow
from kiosk.misuse import MisuseRules
from kiosk.session import roster, session_end
from kiosk.store import Store, StoreError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Step:
    """What the window shows next.

    ``kind``: ``followup`` (``question`` with ``step`` of ``total``, ``selected`` the answer so
    far), ``thanks`` (``record``, ``link`` for the QR or None, ``apology`` and ``hotline``), or
    ``error`` (``error``: nothing was shown as thanks; what was committed stays).

    For a dossier code (:meth:`Answering.attach_dossier`): ``dossier_attached`` (``expires_in_s``:
    how long it waits for the tap) or ``dossier_refused`` (``reason``: ``invalid`` not a receipt
    code at all, ``pattern`` not this unit's, ``off`` the scan step is not offered, ``busy`` an
    answer is under way). Neither carries the code: what the window gets, it could show.
    """

    kind: str
    question: Question | None = None
    step: int = 0
    total: int = 0
    selected: object = None
    record: dict | None = None
    link: str | None = None
    apology: bool = False
    hotline: str | None = None
    error: str | None = None
    reason: str | None = None
    expires_in_s: float | None = None


@dataclass
class _Answer:
    flow: CitizenFlow
    draft_id: str
    asked: int = 1  # follow-ups shown so far, the current one included
    satisfied: bool = True


@dataclass
class Context:
    """What every answer given now is about; refreshed on config and officer changes."""

    config: dict = field(default_factory=dict)
    questionnaire: Questionnaire = field(default_factory=load_default_questionnaire)
    unit_code: str = ""
    session: dict | None = None
    rules: MisuseRules = field(default_factory=MisuseRules)


class Answering:
    """One kiosk's answers: turns taps into stored records through the store's write path."""

    def __init__(self, store: Store, *, clock: Callable[[], datetime], ask_criteria: bool = False,
                 monotonic: Callable[[], float] = time.monotonic):
        self.store = store
        self.clock = clock
        self.ask_criteria = ask_criteria
        self.ctx = Context()
        self._answer: _Answer | None = None
        self.dossiers = DossierLinks(monotonic)
        """Codes waiting for the next answer (thread-safe: the local API writes from its thread)."""

    # --- context ----------------------------------------------------------------------------

    def load(self) -> Context:
        """Re-read config and unit code from the store (start-up, new config, enrolment).

        Before the first config (or if it is unreadable) the shipped default questionnaire is
        used, so a kiosk that never reached the server still collects answers. A citizen in the
        middle of follow-ups keeps the questionnaire they started with (their draft records it).
        """
        config: dict = {}
        unit_code = self.ctx.unit_code
        try:
            config = self.store.get_meta("config") or {}
            unit_code = self.store.get_meta("unit_code") or ""
        except StoreError:
            log.exception("could not read the config; using the default questionnaire")
        questionnaire = None
        if config.get("questionnaire"):
            try:
                questionnaire = parse_questionnaire(config["questionnaire"])
            except QuestionnaireError:
                log.exception("the server's questionnaire is invalid; using the default")
        self.ctx = Context(config=config, questionnaire=questionnaire or load_default_questionnaire(),
                           unit_code=unit_code, session=self.ctx.session, rules=MisuseRules.from_config(config))
        return self.ctx

    def set_session(self, session: dict | None) -> None:
        """The officer on duty as :class:`kiosk.session.OfficerSessions` last said."""
        self.ctx.session = session

    def settings(self) -> dict:
        return kiosk_settings(self.ctx.config)

    def _officer_now(self) -> dict | None:
        """The session, unless its day ended meanwhile (checked in memory; the tick clears it)."""
        session = self.ctx.session
        if not session:
            return None
        try:
            if self.clock() >= session_end(parse_rfc3339(session["signed_in_at"]), self.settings()["office_hours"]):
                return None
        except (KeyError, TypeError, ValueError):
            return None
        return session

    def _officer_group(self, officer_id: str | None) -> str | None:
        if not officer_id:
            return None
        officer = next((o for o in roster(self.ctx.config) if o["id"] == officer_id), None)
        group = (officer or {}).get("procedure_group")
        return group if valid_code(group) else None

    # --- the citizen's path -------------------------------------------------------------------

    @property
    def in_progress(self) -> bool:
        """A citizen is between the face and the end of the follow-ups."""
        return self._answer is not None

    @property
    def draft_id(self) -> str | None:
        return self._answer.draft_id if self._answer else None

    @property
    def current_question(self) -> Question | None:
        return self._answer.flow.current if self._answer else None

    def tap(self, value: int, *, after_hours: bool = False) -> Step:
        """The headline face ``value`` was tapped: store it (draft or final) and say what follows."""
        self._answer = None
        q = self.ctx.questionnaire
        flow = CitizenFlow(q, value, ask_criteria=self.ask_criteria)
        session = self._officer_now()
        officer_id = (session or {}).get("officer_id")
        links = self.dossiers.take()  # this tap starts the answer: a waiting code is its, and no other's
        fields = dict(unit_code=self.ctx.unit_code, questionnaire=q.ref, answers=dict(flow.answers), officer_id=officer_id,
                      flags=[FLAG_AFTER_HOURS] if after_hours else [], misuse=self.ctx.rules,
                      procedure_group=self._officer_group(officer_id), dossier_code=links[0].code if links else None)
        level = q.overall.level(value)
        satisfied = bool(level.satisfied) if level is not None else True
        try:
            if flow.finished:
                record = self.store.record_response(**fields)
            else:
                record = self.store.begin_response(**fields)
        except StoreError as exc:
            self.dossiers.give_back(links)  # nothing was stored: the citizen's next tap carries it
            return self._error(exc, f"level {value} of {q.overall.id}")
        if links:
            # Never the code itself in the log: the log sits beside the rating's id and officer.
            log.info("answer %s tied to a dossier (%s)", record["id"], links[0].source)
        if flow.finished:
            return self._thanks(record, satisfied)
        self._answer = _Answer(flow, record["id"], satisfied=satisfied)
        return self._followup()

    def answer(self, value) -> Step:
        """The current follow-up was answered (a level, an option id, or a list of ids)."""
        a = self._answer
        if a is None or a.flow.current is None:
            return Step("none")
        a.flow.answer(value)
        return self._store_and_go_on()

    def select(self, selection: list) -> Step | None:
        """Chips toggled on a multiple-choice follow-up: store the selection so far (a crash keeps it)."""
        a = self._answer
        if a is None or a.flow.current is None:
            return None
        answers = dict(a.flow.answers)
        if selection:
            answers[a.flow.current.id] = list(selection)
        return self._update(answers)

    def next(self, selection: list) -> Step:
        """"Next" on a multiple-choice follow-up: the selection is its answer (empty = skipped)."""
        return self.answer(list(selection))

    def skip(self, stored_selection: bool = False) -> Step:
        """Leave the current follow-up unanswered; ``stored_selection`` when chips were stored already."""
        a = self._answer
        if a is None or a.flow.current is None:
            return Step("none")
        a.flow.skip()
        if stored_selection:
            return self._store_and_go_on()
        return self._go_on()

    def finish(self) -> Step:
        """The citizen is done: what was answered stands."""
        if self._answer is None:
            return Step("none")
        self._answer.flow.finish()
        return self._complete(())

    def walk_away(self) -> str | None:
        """Nobody touched the screen for the idle timeout: keep what was answered (flag
        ``incomplete``: the follow-ups were left) and forget the answer; return its id."""
        a, self._answer = self._answer, None
        if a is None:
            return None
        try:
            self.store.finalise(a.draft_id, (FLAG_INCOMPLETE,))
        except StoreError:
            log.exception("could not finalise an abandoned answer; the sweep will")
        return a.draft_id

    def forget(self) -> None:
        """Drop the answer in progress from memory (a committed draft stays; the sweep finalises it)."""
        self._answer = None

    def sweep(self, older_than_s: float) -> int:
        """Finalise drafts left by a crash or a failed step (never the one being answered)."""
        try:
            swept = self.store.finalise_stale_drafts(older_than_s, exclude=self.draft_id)
        except StoreError:
            log.exception("could not finalise stale drafts")
            return 0
        if swept:
            log.info("finalised %d abandoned answer(s) as incomplete", swept)
        return swept

    # --- dossier codes (issue 14) ---------------------------------------------------------------

    def attach_dossier(self, code: str, source: str = SCAN, *, counter: str | None = None,
                       hold_s: float | None = None) -> Step:
        """A receipt's ``code`` came from ``source`` (``scan`` or ``counter``): let the next answer carry it.

        The code is normalised (stripped, upper-cased) and must be a valid code that the unit's
        ``dossier_pattern`` accepts; else it is refused and nothing waits (a refused scan also
        drops an earlier scan: the citizen was just told to rate as usual). A scan needs the
        ``dossier_scan`` setting and no answer under way, and waits ``hold_s`` (the window's idle
        timeout); a counter's code waits ``hold_s`` or the config's ``dossier_link_s`` and
        replaces a waiting one. Safe to call from any thread. Returns ``dossier_attached`` (with
        ``expires_in_s``) or ``dossier_refused`` (with ``reason``).
        """
        if source not in SOURCES:
            raise ValueError(f"unknown dossier source {source!r}")
        settings = self.settings()
        normal = normalise_dossier_code(code) if isinstance(code, str) else ""
        reason = None
        if source == SCAN and not settings["dossier_scan"]:
            reason = "off"
        elif source == SCAN and self.in_progress:
            reason = "busy"
        elif not valid_dossier_code(normal):
            reason = "invalid"
        elif not matches_pattern(normal, settings["dossier_pattern"]):
            reason = "pattern"
        if reason is not None:
            if source == SCAN and reason != "busy":
                self.dossiers.drop(SCAN)
            log.info("dossier code from %s refused: %s", source, reason)
            return Step("dossier_refused", reason=reason)
        if hold_s is None:
            hold_s = float(settings["dossier_link_s"] if source == COUNTER else settings["idle_timeout_s"] or 30.0)
        replaced = self.dossiers.waiting(source) is not None
        self.dossiers.put(source, normal, hold_s, counter=counter)
        log.info("dossier code from %s waits %.0f s for the next answer%s", source, hold_s,
                 " (it replaces the one waiting)" if replaced else "")
        return Step("dossier_attached", expires_in_s=hold_s)

    def drop_dossier(self, source: str = SCAN) -> bool:
        """Forget the code waiting from ``source`` (the start screen came back, the scan timed out)."""
        return self.dossiers.drop(source)

    def dossier_waiting(self, source: str) -> float | None:
        """Seconds the code from ``source`` still waits, or None when none does (never the code)."""
        return self.dossiers.expires_in(source)

    # --- inside -----------------------------------------------------------------------------

    def _store_and_go_on(self) -> Step:
        step = self._update(dict(self._answer.flow.answers))
        return step if step is not None and step.kind == "error" else self._go_on()

    def _update(self, answers: dict) -> Step | None:
        try:
            self.store.update_draft(self._answer.draft_id, answers)
        except StoreError as exc:
            return self._error(exc, "follow-up answer")
        return None

    def _go_on(self) -> Step:
        a = self._answer
        if a.flow.finished:
            return self._complete(())
        a.asked += 1
        return self._followup()

    def _followup(self) -> Step:
        a = self._answer
        return Step("followup", question=a.flow.current, step=a.asked, total=a.asked + a.flow.remaining(),
                    selected=a.flow.answers.get(a.flow.current.id))

    def _complete(self, flags: tuple[str, ...]) -> Step:
        a = self._answer
        try:
            record = self.store.finalise(a.draft_id, flags)
            if record is None:  # finalised meanwhile (a sweep): it is stored all the same
                record = self.store.get_record(a.draft_id)["record"]
        except StoreError as exc:
            return self._error(exc, "finishing an answer")
        return self._thanks(record, a.satisfied)

    def _thanks(self, record: dict, satisfied: bool) -> Step:
        self._answer = None
        s = self.settings()
        hotline = (s.get("hotline") or None) if not satisfied else None
        return Step("thanks", record=record, link=self.comment_link(record), apology=not satisfied, hotline=hotline)

    def _error(self, exc: StoreError, what: str) -> Step:
        log.error("answer not stored (%s): %s", what, exc)
        # A draft already committed stays a draft; the sweep finalises it (incomplete) later.
        self._answer = None
        return Step("error", error=str(exc))

    def comment_link(self, record: dict) -> str | None:
        """``<public base URL>/s/<unit>?r=<id>``: the phone form adds a comment to this answer.

        Only on the config's ``public_base_url``: the kiosk's own server address is often on the
        government network, unreachable from a citizen's phone, so without it there is no QR.
        """
        base = self.settings().get("public_base_url")
        if not base or not isinstance(base, str) or not record.get("unit_code"):
            return None
        return f"{base.rstrip('/')}/s/{quote(record['unit_code'], safe='')}?r={record['id']}"
