"""The questionnaire schema: the shipped default, and validation that names the bad field by path."""

from __future__ import annotations

import copy

import pytest

from hailong_core.assets import load_json_asset
from hailong_core.questionnaire import QuestionnaireError, ShowIf, load_default_questionnaire, parse_questionnaire


@pytest.fixture
def doc() -> dict:
    return copy.deepcopy(load_json_asset("questionnaires", "default.json"))


def test_default_questionnaire(doc):
    q = load_default_questionnaire()
    assert len(q.questions) == 8
    assert len(q.criteria) == 3
    assert {c.id for c in q.criteria} == {"friendly_officials", "friendly_activities", "friendly_environment"}
    assert q.ref == {"id": "bg-friendly-gov", "version": 1}
    overall = q.overall
    assert overall.id == "overall" and overall.kind == "scale"
    assert [lv.value for lv in overall.levels] == [1, 2, 3, 4, 5]
    assert all(lv.label.vi and lv.label.en for lv in overall.levels)
    assert [lv.satisfied for lv in overall.levels][-1] is True and overall.levels[0].satisfied is False
    why = q.question("why")
    assert why.kind == "multi" and why.show_if == ShowIf("overall", (1, 2))
    for level in range(1, 6):
        assert why.show_if.holds({"overall": level}) is (level in (1, 2))
    assert not why.show_if.holds({})
    assert "kiosk" not in q.question("comment").channels
    assert all(c.criterion in {cr.id for cr in q.criteria} for c in q.questions)
    assert q.to_dict() == doc


def _error(doc) -> QuestionnaireError:
    with pytest.raises(QuestionnaireError) as info:
        parse_questionnaire(doc)
    return info.value


def test_scale_with_two_levels(doc):
    doc["questions"][0]["levels"] = doc["questions"][0]["levels"][:2]
    err = _error(doc)
    assert err.path == "questions[0].levels"
    assert str(err).startswith("questions[0].levels:")


def test_score_over_100(doc):
    doc["questions"][0]["levels"][4]["score"] = 101
    assert _error(doc).path == "questions[0].levels[4].score"


@pytest.mark.parametrize("where, path", [
    (lambda d: d, "colour"),
    (lambda d: d["questions"][2], "questions[2].colour"),
    (lambda d: d["questions"][0]["levels"][1], "questions[0].levels[1].colour"),
    (lambda d: d["questions"][1]["options"][0]["label"], "questions[1].options[0].label.colour"),
])
def test_unknown_field(doc, where, path):
    where(doc)["colour"] = "red"
    err = _error(doc)
    assert err.path == path and "unknown field" in err.message


def test_show_if_must_name_an_earlier_question(doc):
    # 'why' follows 'overall'; point it at a question that only comes later, then at none at all.
    doc["questions"][1]["show_if"] = {"question": "skills", "in": [1]}
    assert _error(doc).path == "questions[1].show_if.question"
    doc["questions"][1]["show_if"] = {"question": "ghost", "in": [1]}
    assert _error(doc).path == "questions[1].show_if.question"


def test_show_if_values_must_exist(doc):
    doc["questions"][1]["show_if"] = {"question": "overall", "in": [1, 6]}
    assert _error(doc).path == "questions[1].show_if.in"


def test_text_question_on_the_kiosk(doc):
    index = next(i for i, q in enumerate(doc["questions"]) if q["kind"] == "text")
    doc["questions"][index]["channels"] = ["qr", "kiosk"]
    err = _error(doc)
    assert err.path == f"questions[{index}].channels"


def test_duplicate_question_id(doc):
    doc["questions"][3]["id"] = doc["questions"][2]["id"]
    assert _error(doc).path == "questions[3].id"


def test_levels_numbered_in_order_and_scores_not_decreasing(doc):
    bad = copy.deepcopy(doc)
    bad["questions"][0]["levels"][2]["value"] = 4
    assert _error(bad).path == "questions[0].levels[2].value"
    bad = copy.deepcopy(doc)
    bad["questions"][0]["levels"][4]["score"] = 0
    assert _error(bad).path == "questions[0].levels"


def test_no_top_level_scale(doc):
    doc["questions"] = [q for q in doc["questions"] if q["kind"] != "scale" or q.get("show_if")]
    doc["questions"] = [q for q in doc["questions"] if not q.get("show_if")]
    assert _error(doc).path == "questions"


def test_show_if_holds_for_scale_and_multi():
    scale = ShowIf("overall", (1, 2))
    assert scale.holds({"overall": 1}) and scale.holds({"overall": 2})
    assert not scale.holds({"overall": 3})
    assert not scale.holds({"skills": 1})
    multi = ShowIf("why", ("impolite", "harassment"))
    assert multi.holds({"why": ["waited_long", "harassment"]})
    assert not multi.holds({"why": ["waited_long"]})
    assert not multi.holds({"why": []})
    single = ShowIf("visit", ("online",))
    assert single.holds({"visit": "online"}) and not single.holds({"visit": "counter"})
