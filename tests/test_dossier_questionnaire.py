"""Issue 14: like/dislike per scale level. A level may say ``dislike``; without it a level is a dislike
when its score is under 50 and it is not satisfied. Version 2 of the shipped default states it on
every level and is otherwise version 1 (published questionnaires never change: a new version)."""

from __future__ import annotations

import copy

import pytest

from hailong_core.assets import load_json_asset
from hailong_core.questionnaire import DISLIKE_BELOW, QuestionnaireError, load_default_questionnaire, parse_questionnaire


@pytest.fixture
def doc() -> dict:
    return copy.deepcopy(load_json_asset("questionnaires", "default.json"))


def test_without_the_attribute_a_low_unsatisfied_level_is_a_dislike(doc):
    q = load_default_questionnaire()
    assert q.version == 1 and DISLIKE_BELOW == 50
    for question in q.questions:
        if question.kind == "scale":
            assert [lv.dislike for lv in question.levels] == [True, True, False, False, False], question.id
    odd = copy.deepcopy(doc)
    odd["questions"][0]["levels"][2]["score"] = 40  # a "neutral" scored under 50 reads as a dislike too
    assert [lv.dislike for lv in parse_questionnaire(odd).overall.levels] == [True, True, True, False, False]
    odd["questions"][0]["levels"][1]["satisfied"] = True  # satisfied is never a dislike, whatever its score
    assert parse_questionnaire(odd).overall.levels[1].dislike is False


def test_an_explicit_dislike_is_taken_as_it_is_and_validated(doc):
    doc["questions"][0]["levels"][2]["dislike"] = True
    doc["questions"][0]["levels"][0]["dislike"] = False
    assert [lv.dislike for lv in parse_questionnaire(doc).overall.levels] == [False, True, True, False, False]
    doc["questions"][0]["levels"][4]["dislike"] = True
    with pytest.raises(QuestionnaireError) as both:
        parse_questionnaire(doc)
    assert both.value.path == "questions[0].levels[4].dislike" and "both" in both.value.message
    doc["questions"][0]["levels"][4]["dislike"] = "yes"
    with pytest.raises(QuestionnaireError) as typed:
        parse_questionnaire(doc)
    assert typed.value.path == "questions[0].levels[4].dislike"


def test_version_2_of_the_default_states_dislike_and_reads_as_version_1(doc):
    v2 = load_json_asset("questionnaires", "default-v2.json")
    q1, q2 = load_default_questionnaire(), parse_questionnaire(v2)
    assert (q2.id, q2.version) == (q1.id, 2)
    for question in v2["questions"]:
        if question["kind"] == "scale":
            assert all("dislike" in level for level in question["levels"]), question["id"]
    assert [[lv.dislike for lv in q.levels] for q in q2.questions if q.kind == "scale"] == \
        [[lv.dislike for lv in q.levels] for q in q1.questions if q.kind == "scale"]
    # Apart from the stated attribute (and its version and description) it is version 1 to the letter.
    stripped = copy.deepcopy(v2)
    for question in stripped["questions"]:
        for level in question.get("levels", []):
            del level["dislike"]
    stripped["version"], stripped["description"] = doc["version"], doc["description"]
    assert stripped == doc


def test_version_2_publishes_beside_version_1(tmp_path):
    from datetime import datetime, timezone

    from sync_server.storage import open_storage
    from tests.support import server_db_location

    storage = open_storage(server_db_location(tmp_path))
    try:
        now = datetime.now(timezone.utc)
        storage.save_questionnaire_draft(load_json_asset("questionnaires", "default-v2.json"), now)
        storage.publish_questionnaire("bg-friendly-gov", 2, now)
        assert set(storage.questionnaires()) >= {("bg-friendly-gov", 1), ("bg-friendly-gov", 2)}
        assert storage.active_questionnaire("7201")["version"] == 2
    finally:
        storage.close()
