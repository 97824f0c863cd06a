"""The citizen's path through a questionnaire on the kiosk, as plain logic (no Qt, no store).

1. The overall question (the first top-level scale) is answered by one face tap.
2. Then the follow-ups, one screen each, in questionnaire order: every question whose ``show_if``
   holds for the answers so far (e.g. the "why" chips after a low rating). The other top-level
   questions (the criteria questions) are asked too only when ``ask_criteria`` is on (kiosk
   setting): off by default so a satisfied citizen is done in one tap; the phone form (QR) asks them.
3. Questions not asked on the kiosk channel (short text) are never shown: no typing on a kiosk.

Each follow-up can be answered or skipped, and the citizen can finish at any point. The window
stores each step (see :class:`kiosk.ui.main_window.KioskWindow`); this class only decides what
comes next.
"""

from __future__ import annotations

from hailong_core.questionnaire import Question, Questionnaire

KIOSK_KINDS = ("scale", "single", "multi")


class CitizenFlow:
    """One citizen's answers and the follow-up questions still to come."""

    def __init__(self, questionnaire: Questionnaire, overall_value: int, *, ask_criteria: bool = False):
        self.questionnaire = questionnaire
        self.ask_criteria = ask_criteria
        self.answers: dict = {questionnaire.overall.id: overall_value}
        self._position = questionnaire.questions.index(questionnaire.overall)
        self.current: Question | None = None
        self.finished = False
        self._advance()

    def _asked_on_kiosk(self, q: Question) -> bool:
        if q.kind not in KIOSK_KINDS or "kiosk" not in q.channels or q is self.questionnaire.overall:
            return False
        if q.show_if is not None:
            return q.show_if.holds(self.answers)
        return self.ask_criteria

    def _advance(self) -> None:
        questions = self.questionnaire.questions
        for i in range(self._position + 1, len(questions)):
            if self._asked_on_kiosk(questions[i]):
                self._position = i
                self.current = questions[i]
                return
        self._position = len(questions)
        self.current = None
        self.finished = True

    def remaining(self) -> int:
        """How many follow-ups would follow the current one if the answers stayed as they are."""
        return sum(1 for q in self.questionnaire.questions[self._position + 1:] if self._asked_on_kiosk(q))

    def answer(self, value) -> None:
        """Answer the current follow-up (a level, an option id, or a list of option ids) and go on.

        An empty multiple choice counts as a skip (the protocol refuses an empty list).
        """
        if self.current is None:
            raise RuntimeError("no question to answer")
        if not (isinstance(value, list) and not value):
            self.answers[self.current.id] = value
        self._advance()

    def skip(self) -> None:
        """Leave the current follow-up unanswered and go on."""
        if self.current is None:
            raise RuntimeError("no question to skip")
        self._advance()

    def finish(self) -> None:
        """Stop asking: what was answered stands."""
        self.current = None
        self.finished = True
