"""Questionnaires as data: the schema, its validation, and the shipped default.

A questionnaire is JSON, versioned, and immutable once published. Validation names the bad field
by its path (``questions[2].levels[4].score``) so the province's editors can fix it.

Question kinds:
- ``scale``: 3 to 5 levels, numbered 1..N with N the most satisfied; each level has a Vietnamese
  and English label, a score 0–100, whether it counts as satisfied and, optionally, whether it is a
  ``dislike`` (the national measure, QĐ 766, is binary: like / dislike). Without ``dislike`` a level
  is a dislike when its score is under 50 and it is not satisfied (:data:`DISLIKE_BELOW`), so the
  five-level default reads 1–2 as dislike, 3 (neutral) as neither. A level cannot be both satisfied
  and a dislike. Answer: the level number.
- ``single``: one option id. ``multi``: a list of distinct option ids. An option may say
  ``"grave": true`` (harassment, unofficial payments): the kiosk then asks the citizen to confirm it
  before it is chosen. It changes nothing in the answer stored.
- ``text``: a short free text; only on channels listed in ``channels`` (the phone form).

``show_if`` makes a question a follow-up: ``{"question": "overall", "in": [1, 2]}`` shows it only
when the answer to ``overall`` is (or, for a multiple choice, contains) one of the listed values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

KINDS = ("scale", "single", "multi", "text")
CHANNELS = ("kiosk", "qr")
TEXT_MAX_CHARS = 500


class QuestionnaireError(ValueError):
    """A questionnaire document is invalid; ``path`` names the bad field."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


@dataclass(frozen=True)
class Text:
    """A string in Vietnamese (first) and English."""

    vi: str
    en: str

    def get(self, lang: str) -> str:
        return self.en if lang == "en" else self.vi


#: A level without an explicit ``dislike`` is one when its score is below this and it is not satisfied.
DISLIKE_BELOW = 50


@dataclass(frozen=True)
class Level:
    value: int
    label: Text
    score: int
    satisfied: bool
    dislike: bool = False  # as the document says, or derived (DISLIKE_BELOW); see the module docstring


#: Option ids that are grave whatever the questionnaire says: a questionnaire published before the
#: ``grave`` attribute existed (servers seeded with version 1) must not let a stray tap file them.
GRAVE_OPTION_IDS = frozenset({"harassment", "unofficial_payment", "unofficial_payments", "bribe", "bribery"})


@dataclass(frozen=True)
class Option:
    id: str
    label: Text
    grave: bool = False  # a serious report (harassment, unofficial payments): the kiosk asks to confirm it

    @property
    def needs_confirmation(self) -> bool:
        """Marked ``grave``, or one of :data:`GRAVE_OPTION_IDS`."""
        return self.grave or self.id in GRAVE_OPTION_IDS


@dataclass(frozen=True)
class ShowIf:
    question: str
    values: tuple

    def holds(self, answers: dict) -> bool:
        """True when the answers make the follow-up visible."""
        given = answers.get(self.question)
        if given is None:
            return False
        if isinstance(given, list):
            return any(v in self.values for v in given)
        return given in self.values


@dataclass(frozen=True)
class Question:
    id: str
    kind: str
    criterion: str
    text: Text
    levels: tuple[Level, ...] = ()
    options: tuple[Option, ...] = ()
    show_if: ShowIf | None = None
    channels: tuple[str, ...] = CHANNELS

    option_set: frozenset = field(init=False, repr=False, compare=False, default=frozenset())

    def __post_init__(self):
        object.__setattr__(self, "option_set", frozenset(o.id for o in self.options))

    def level(self, value: int) -> Level | None:
        return self.levels[value - 1] if 1 <= value <= len(self.levels) else None

    def option_ids(self) -> frozenset[str]:
        return self.option_set


@dataclass(frozen=True)
class Criterion:
    id: str
    label: Text


@dataclass(frozen=True)
class Questionnaire:
    id: str
    version: int
    title: Text
    criteria: tuple[Criterion, ...]
    questions: tuple[Question, ...]
    raw: dict = field(compare=False, repr=False, default_factory=dict)
    by_id: dict = field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "by_id", {q.id: q for q in self.questions})

    @property
    def ref(self) -> dict:
        """The ``{id, version}`` a response record carries."""
        return {"id": self.id, "version": self.version}

    def question(self, question_id: str) -> Question | None:
        return self.by_id.get(question_id)

    @property
    def overall(self) -> Question:
        """The first scale question without ``show_if``: the one-tap question on the kiosk."""
        for q in self.questions:
            if q.kind == "scale" and q.show_if is None:
                return q
        raise QuestionnaireError("questions", "no top-level scale question")

    def to_dict(self) -> dict:
        """The JSON document (as validated) for config and storage."""
        return self.raw


# --- validation --------------------------------------------------------------------------------

def _obj(value: Any, path: str, required: set[str], optional: set[str] = frozenset()) -> dict:
    if not isinstance(value, dict):
        raise QuestionnaireError(path, "must be an object")
    for key in value:
        if key not in required and key not in optional:
            raise QuestionnaireError(f"{path}.{key}" if path else key, "unknown field")
    for key in sorted(required):
        if key not in value:
            raise QuestionnaireError(f"{path}.{key}" if path else key, "is required")
    return value


def _ident(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 64 or not value.replace("_", "").replace("-", "").isalnum() or not value.isascii():
        raise QuestionnaireError(path, "must be a short ASCII identifier (letters, digits, _ or -)")
    return value


def _text(value: Any, path: str) -> Text:
    _obj(value, path, {"vi", "en"})
    for lang in ("vi", "en"):
        if not isinstance(value[lang], str) or not value[lang].strip():
            raise QuestionnaireError(f"{path}.{lang}", "must be a non-empty string")
    return Text(value["vi"], value["en"])


def _int(value: Any, path: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise QuestionnaireError(path, f"must be an integer from {lo} to {hi}")
    return value


def _level(value: Any, path: str, expected: int) -> Level:
    _obj(value, path, {"value", "label", "score", "satisfied"}, {"dislike"})
    number = _int(value["value"], f"{path}.value", 1, 5)
    if number != expected:
        raise QuestionnaireError(f"{path}.value", f"must be {expected}: levels are numbered 1..N in order")
    if not isinstance(value["satisfied"], bool):
        raise QuestionnaireError(f"{path}.satisfied", "must be true or false")
    label = _text(value["label"], f"{path}.label")
    score = _int(value["score"], f"{path}.score", 0, 100)
    if "dislike" in value:
        dislike = value["dislike"]
        if not isinstance(dislike, bool):
            raise QuestionnaireError(f"{path}.dislike", "must be true or false")
        if dislike and value["satisfied"]:
            raise QuestionnaireError(f"{path}.dislike", "a level cannot be both satisfied and a dislike")
    else:
        dislike = score < DISLIKE_BELOW and not value["satisfied"]
    return Level(number, label, score, value["satisfied"], dislike)


def _question(value: Any, path: str, criteria: set[str]) -> Question:
    _obj(value, path, {"id", "kind", "criterion", "text"}, {"levels", "options", "show_if", "channels"})
    qid = _ident(value["id"], f"{path}.id")
    kind = value["kind"]
    if kind not in KINDS:
        raise QuestionnaireError(f"{path}.kind", f"must be one of {', '.join(KINDS)}")
    criterion = _ident(value["criterion"], f"{path}.criterion")
    if criterion not in criteria:
        raise QuestionnaireError(f"{path}.criterion", f"unknown criterion {criterion!r}")
    levels: tuple[Level, ...] = ()
    options: tuple[Option, ...] = ()
    if kind == "scale":
        raw_levels = value.get("levels")
        if not isinstance(raw_levels, list) or not 3 <= len(raw_levels) <= 5:
            raise QuestionnaireError(f"{path}.levels", "a scale needs 3 to 5 levels")
        levels = tuple(_level(lv, f"{path}.levels[{i}]", i + 1) for i, lv in enumerate(raw_levels))
        scores = [lv.score for lv in levels]
        if scores != sorted(scores):
            raise QuestionnaireError(f"{path}.levels", "scores must not decrease from level 1 to N")
        if "options" in value:
            raise QuestionnaireError(f"{path}.options", "a scale has levels, not options")
    elif kind in ("single", "multi"):
        raw_options = value.get("options")
        if not isinstance(raw_options, list) or not 2 <= len(raw_options) <= 20:
            raise QuestionnaireError(f"{path}.options", "a choice needs 2 to 20 options")
        seen = set()
        opts = []
        for i, op in enumerate(raw_options):
            op_path = f"{path}.options[{i}]"
            _obj(op, op_path, {"id", "label"}, {"grave"})
            oid = _ident(op["id"], f"{op_path}.id")
            if oid in seen:
                raise QuestionnaireError(f"{op_path}.id", f"duplicate option id {oid!r}")
            seen.add(oid)
            grave = op.get("grave", False)
            if not isinstance(grave, bool):
                raise QuestionnaireError(f"{op_path}.grave", "must be true or false")
            opts.append(Option(oid, _text(op["label"], f"{op_path}.label"), grave))
        options = tuple(opts)
        if "levels" in value:
            raise QuestionnaireError(f"{path}.levels", "a choice has options, not levels")
    else:
        for key in ("levels", "options"):
            if key in value:
                raise QuestionnaireError(f"{path}.{key}", "a text question has neither levels nor options")
    channels = CHANNELS if kind != "text" else ("qr",)
    if "channels" in value:
        raw = value["channels"]
        if not isinstance(raw, list) or not raw or any(c not in CHANNELS for c in raw):
            raise QuestionnaireError(f"{path}.channels", f"must be a non-empty list of {', '.join(CHANNELS)}")
        if kind == "text" and "kiosk" in raw:
            raise QuestionnaireError(f"{path}.channels", "short text is for the phone channel only: no typing on the kiosk")
        channels = tuple(raw)
    show_if = None
    if "show_if" in value:
        si = _obj(value["show_if"], f"{path}.show_if", {"question", "in"})
        if not isinstance(si["in"], list) or not si["in"]:
            raise QuestionnaireError(f"{path}.show_if.in", "must be a non-empty list of values")
        show_if = ShowIf(_ident(si["question"], f"{path}.show_if.question"), tuple(si["in"]))
    return Question(qid, kind, criterion, _text(value["text"], f"{path}.text"), levels, options, show_if, channels)


def parse_questionnaire(data: Any) -> Questionnaire:
    """Validate a questionnaire document and return it; raise :class:`QuestionnaireError`."""
    _obj(data, "", {"id", "version", "title", "criteria", "questions"}, {"description"})
    qid = _ident(data["id"], "id")
    version = _int(data["version"], "version", 1, 1_000_000)
    title = _text(data["title"], "title")
    raw_criteria = data["criteria"]
    if not isinstance(raw_criteria, list) or not raw_criteria:
        raise QuestionnaireError("criteria", "must be a non-empty list")
    criteria = []
    for i, c in enumerate(raw_criteria):
        _obj(c, f"criteria[{i}]", {"id", "label"})
        criteria.append(Criterion(_ident(c["id"], f"criteria[{i}].id"), _text(c["label"], f"criteria[{i}].label")))
    criterion_ids = {c.id for c in criteria}
    if len(criterion_ids) != len(criteria):
        raise QuestionnaireError("criteria", "duplicate criterion id")
    raw_questions = data["questions"]
    if not isinstance(raw_questions, list) or not raw_questions:
        raise QuestionnaireError("questions", "must be a non-empty list")
    questions: list[Question] = []
    by_id: dict[str, Question] = {}
    for i, raw in enumerate(raw_questions):
        q = _question(raw, f"questions[{i}]", criterion_ids)
        if q.id in by_id:
            raise QuestionnaireError(f"questions[{i}].id", f"duplicate question id {q.id!r}")
        if q.show_if is not None:
            target = by_id.get(q.show_if.question)
            if target is None:
                raise QuestionnaireError(f"questions[{i}].show_if.question", "must name an earlier question")
            _check_show_if_values(target, q.show_if, f"questions[{i}].show_if.in")
        by_id[q.id] = q
        questions.append(q)
    questionnaire = Questionnaire(qid, version, title, tuple(criteria), tuple(questions), raw=data)
    questionnaire.overall  # noqa: B018 - raises when there is no top-level scale question
    return questionnaire


def _check_show_if_values(target: Question, show_if: ShowIf, path: str) -> None:
    if target.kind == "scale":
        allowed: set = {lv.value for lv in target.levels}
    elif target.kind in ("single", "multi"):
        allowed = set(target.option_ids())
    else:
        raise QuestionnaireError(path, "cannot depend on a text question")
    for v in show_if.values:
        if isinstance(v, bool) or v not in allowed:
            raise QuestionnaireError(path, f"{v!r} is not a value of question {target.id!r}")


def load_default_questionnaire() -> Questionnaire:
    """The questionnaire shipped in ``assets/questionnaires/default.json``."""
    from hailong_core.assets import load_json_asset

    return parse_questionnaire(load_json_asset("questionnaires", "default.json"))
