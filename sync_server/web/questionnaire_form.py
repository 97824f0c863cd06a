"""The questionnaire form editor's two directions: a document as form state (for the template), and the
posted form back to the very document the JSON path accepts (validated by the same
``hailong_core.questionnaire.parse_questionnaire`` afterwards, never here).

Field names are flat, numbered by the block's place on the page: ``title_vi``; ``c2_id`` (criterion 2);
``q3_kind``, ``q3_l1_score`` (question 3, level 2), ``q3_o0_id`` (question 3, option 1). Blank rows (a
level, an option, a criterion or a whole question left empty) are ignored, so the page can always offer
a spare one. Optional fields stay out of the document unless the form sets them: a level's ``dislike``
("auto" derives it), an option's ``grave`` (only when ticked), a question's ``channels`` (the kind's
default when empty), ``show_if`` and ``description``; so a document shown and posted back unchanged
comes back equal to itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

MAX_QUESTIONS = 100
MAX_CRITERIA = 20
MAX_LEVELS = 5
MAX_OPTIONS = 20
SPARE_OPTIONS = 2
KINDS = ("scale", "single", "multi", "text")
CHANNEL_CHOICES = ("", "kiosk,qr", "kiosk", "qr")


def _text(value) -> tuple[str, str]:
    value = value if isinstance(value, dict) else {}
    return str(value.get("vi", "")), str(value.get("en", ""))


def blank_level() -> dict:
    return {"vi": "", "en": "", "score": "", "satisfied": False, "dislike": ""}


def blank_option() -> dict:
    return {"id": "", "vi": "", "en": "", "grave": False}


def blank_question(order: int) -> dict:
    return {"order": order, "id": "", "kind": "scale", "criterion": "", "vi": "", "en": "", "show_q": "", "show_in": "",
            "channels": "", "levels": [blank_level() for _ in range(MAX_LEVELS)], "options": []}


def state_from_document(doc: dict) -> dict:
    """The form's state for a (valid) document."""
    title_vi, title_en = _text(doc.get("title"))
    criteria = []
    for c in doc.get("criteria") or []:
        vi, en = _text(c.get("label"))
        criteria.append({"id": str(c.get("id", "")), "vi": vi, "en": en})
    questions = []
    for i, q in enumerate(doc.get("questions") or []):
        vi, en = _text(q.get("text"))
        levels = []
        for lv in q.get("levels") or []:
            lvi, len_ = _text(lv.get("label"))
            dislike = "" if "dislike" not in lv else ("yes" if lv["dislike"] else "no")
            levels.append({"vi": lvi, "en": len_, "score": str(lv.get("score", "")), "satisfied": bool(lv.get("satisfied")),
                           "dislike": dislike})
        options = []
        for op in q.get("options") or []:
            ovi, oen = _text(op.get("label"))
            options.append({"id": str(op.get("id", "")), "vi": ovi, "en": oen, "grave": bool(op.get("grave"))})
        show_if = q.get("show_if") or {}
        questions.append({"order": i + 1, "id": str(q.get("id", "")), "kind": q.get("kind", "scale"),
                          "criterion": str(q.get("criterion", "")), "vi": vi, "en": en,
                          "show_q": str(show_if.get("question", "")), "show_in": ", ".join(str(v) for v in show_if.get("in") or []),
                          "channels": ",".join(q["channels"]) if isinstance(q.get("channels"), list) else "",
                          "levels": levels, "options": options})
    return {"id": str(doc.get("id", "")), "version": doc.get("version"), "title_vi": title_vi, "title_en": title_en,
            "description": doc["description"] if isinstance(doc.get("description"), str) else "",
            "criteria": criteria, "questions": questions}


def _indices(form: Mapping, pattern: str, limit: int) -> list[int]:
    found = set()
    rx = re.compile(pattern)
    for key in form.keys():
        m = rx.fullmatch(key)
        if m and int(m.group(1)) < limit:
            found.add(int(m.group(1)))
    return sorted(found)


def state_from_form(form: Mapping, qid: str, version: int) -> dict:
    """The form's state as posted: questions in the order their ``order`` fields ask for, removed ones
    dropped, blank rows kept (they are dropped when the document is built)."""
    get = lambda key: str(form.get(key) or "").strip()  # noqa: E731
    criteria = [{"id": get(f"c{i}_id"), "vi": get(f"c{i}_vi"), "en": get(f"c{i}_en")}
                for i in _indices(form, r"c(\d+)_id", MAX_CRITERIA)]
    questions = []
    for i in _indices(form, r"q(\d+)_id", MAX_QUESTIONS):
        p = f"q{i}_"
        if form.get(p + "remove"):
            continue
        levels = [{"vi": get(f"{p}l{j}_vi"), "en": get(f"{p}l{j}_en"), "score": get(f"{p}l{j}_score"),
                   "satisfied": bool(form.get(f"{p}l{j}_satisfied")), "dislike": get(f"{p}l{j}_dislike")}
                  for j in _indices(form, re.escape(p) + r"l(\d+)_score", MAX_LEVELS)]
        options = [{"id": get(f"{p}o{j}_id"), "vi": get(f"{p}o{j}_vi"), "en": get(f"{p}o{j}_en"),
                    "grave": bool(form.get(f"{p}o{j}_grave"))}
                   for j in _indices(form, re.escape(p) + r"o(\d+)_id", MAX_OPTIONS)]
        try:
            order = float(get(p + "order"))
        except ValueError:
            order = float(i + 1)
        questions.append({"order": order, "id": get(p + "id"), "kind": get(p + "kind") or "scale",
                          "criterion": get(p + "criterion"), "vi": get(p + "vi"), "en": get(p + "en"),
                          "show_q": get(p + "show_q"), "show_in": get(p + "show_in"), "channels": get(p + "channels"),
                          "levels": levels, "options": options, "_at": i})
    questions.sort(key=lambda q: (q["order"], q.pop("_at")))
    for n, q in enumerate(questions):
        q["order"] = n + 1
    return {"id": qid, "version": version, "title_vi": get("title_vi"), "title_en": get("title_en"),
            "description": str(form.get("description") or "").strip(), "criteria": criteria, "questions": questions}


def _blank(row: dict, *keys: str) -> bool:
    return not any(row.get(k) for k in keys)


def _question_blank(q: dict) -> bool:
    return (_blank(q, "id", "vi", "en", "show_q", "show_in")
            and all(_blank(lv, "vi", "en", "score", "satisfied", "dislike") for lv in q["levels"])
            and all(_blank(op, "id", "vi", "en", "grave") for op in q["options"]))


def _score(text: str):
    # Not a number stays text, so the validator names the field ("must be an integer from 0 to 100").
    return int(text) if re.fullmatch(r"-?\d{1,9}", text) else text


def document_from_state(state: dict) -> tuple[dict, dict[str, str]]:
    """The questionnaire document, and where each of its parts sits on the page (``questions[2].levels[1]``
    → ``q2_l1``) so a validation error is shown beside its field."""
    places: dict[str, str] = {"title": "title", "id": "title", "version": "title", "description": "title",
                              "criteria": "criteria", "questions": "questions"}
    doc: dict = {"id": state["id"], "version": state["version"], "title": {"vi": state["title_vi"], "en": state["title_en"]}}
    if state["description"]:
        doc["description"] = state["description"]
    criteria = []
    for i, c in enumerate(state["criteria"]):
        if _blank(c, "id", "vi", "en"):
            continue
        places[f"criteria[{len(criteria)}]"] = f"c{i}"
        criteria.append({"id": c["id"], "label": {"vi": c["vi"], "en": c["en"]}})
    doc["criteria"] = criteria
    kinds = {q["id"]: q["kind"] for q in state["questions"] if q["id"]}
    questions = []
    for i, q in enumerate(state["questions"]):
        if _question_blank(q):
            continue
        at = f"questions[{len(questions)}]"
        places[at] = f"q{i}"
        out: dict = {"id": q["id"], "kind": q["kind"], "criterion": q["criterion"], "text": {"vi": q["vi"], "en": q["en"]}}
        if q["show_q"] or q["show_in"]:
            values = []
            for v in (part.strip() for part in q["show_in"].split(",")):
                if not v:
                    continue
                values.append(int(v) if re.fullmatch(r"\d{1,3}", v) and kinds.get(q["show_q"]) in ("scale", None) else v)
            out["show_if"] = {"question": q["show_q"], "in": values}
        if q["kind"] == "scale":
            levels = []
            for j, lv in enumerate(q["levels"]):
                if _blank(lv, "vi", "en", "score", "satisfied", "dislike"):
                    continue
                places[f"{at}.levels[{len(levels)}]"] = f"q{i}_l{j}"
                level = {"value": len(levels) + 1, "label": {"vi": lv["vi"], "en": lv["en"]}, "score": _score(lv["score"]),
                         "satisfied": lv["satisfied"]}
                if lv["dislike"] in ("yes", "no"):
                    level["dislike"] = lv["dislike"] == "yes"
                levels.append(level)
            out["levels"] = levels
        elif q["kind"] in ("single", "multi"):
            options = []
            for j, op in enumerate(q["options"]):
                if _blank(op, "id", "vi", "en", "grave"):
                    continue
                places[f"{at}.options[{len(options)}]"] = f"q{i}_o{j}"
                option = {"id": op["id"], "label": {"vi": op["vi"], "en": op["en"]}}
                if op["grave"]:
                    option["grave"] = True
                options.append(option)
            out["options"] = options
        if q["channels"]:
            out["channels"] = [c for c in q["channels"].split(",") if c]
        questions.append(out)
    doc["questions"] = questions
    return doc, places


def place_of(error_path: str, places: dict[str, str]) -> str:
    """The page block (``q2_l1``, ``c0``, ``title``…) of a validator's error path: its longest known prefix."""
    best, where = -1, "questions"
    for prefix, block in places.items():
        if (error_path == prefix or error_path.startswith(prefix + ".") or error_path.startswith(prefix + "[")) and len(prefix) > best:
            best, where = len(prefix), block
    return where


def padded(state: dict, extra_questions: int = 0) -> dict:
    """The state as the page shows it: five level rows and spare option rows per question, a spare criterion
    row, and ``extra_questions`` blank questions at the end ("add a question")."""
    for q in state["questions"]:
        levels = [lv for lv in q["levels"] if not _blank(lv, "vi", "en", "score", "satisfied", "dislike")]
        q["levels"] = (levels + [blank_level() for _ in range(MAX_LEVELS)])[:max(MAX_LEVELS, len(levels))]
        used = [op for op in q["options"] if not _blank(op, "id", "vi", "en", "grave")]
        q["options"] = (used + [blank_option() for _ in range(SPARE_OPTIONS)])[:max(MAX_OPTIONS, len(used))]
    for _ in range(extra_questions):
        state["questions"].append(blank_question(len(state["questions"]) + 1))
    state["criteria"] = [c for c in state["criteria"] if not _blank(c, "id", "vi", "en")]
    if len(state["criteria"]) < MAX_CRITERIA:
        state["criteria"].append({"id": "", "vi": "", "en": ""})
    return state
