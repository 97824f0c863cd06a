"""Issue 15, admin forms: campaigns editable until they start (audited, refused after), the questionnaire
form editor (the same document and validator as the JSON path; published versions read-only), and the
unit pickers (the tree, a search box, the posted codes checked). Real database, the real app; the
search box in a real headless Chromium against a real uvicorn."""

from __future__ import annotations

import copy
import json
import shutil
import time
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest

from hailong_core.questionnaire import load_default_questionnaire
from sync_server.kiosk_config import province_today
from tests.server_web import add_users, login, make_app
from tools import server_screenshots as shots

NOW = datetime.now(timezone.utc)
QID = "bg-friendly-gov"


class _Form(HTMLParser):
    """What a browser would send for the form with ``form_id``: enabled fields, ticked boxes, chosen options."""

    def __init__(self, form_id: str):
        super().__init__()
        self.form_id, self.inside, self.fields = form_id, False, []
        self._select: list | None = None
        self._textarea: list | None = None
        self._disabled = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and a.get("id") == self.form_id:
            self.inside = True
        if not self.inside:
            return
        if tag == "fieldset" and "disabled" in a:
            self._disabled += 1
        off = self._disabled or "disabled" in a
        if tag == "input" and not off and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.fields.append((a["name"], a.get("value", "on")))
            elif kind not in ("submit", "button", "file"):
                self.fields.append((a["name"], a.get("value", "")))
        elif tag == "select" and not off:
            self._select = [a.get("name"), None, None]  # name, first option, selected option
        elif tag == "option" and self._select is not None:
            value = a.get("value", "")
            if self._select[1] is None:
                self._select[1] = value
            if "selected" in a:
                self._select[2] = value
        elif tag == "textarea" and not off:
            self._textarea = [a.get("name"), ""]

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1] += data

    def handle_endtag(self, tag):
        if not self.inside:
            return
        if tag == "select" and self._select is not None:
            name, first, chosen = self._select
            self.fields.append((name, chosen if chosen is not None else first or ""))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            # As a browser does: the one newline right after <textarea> is not part of the value.
            self.fields.append((self._textarea[0], self._textarea[1].removeprefix("\n")))
            self._textarea = None
        elif tag == "fieldset" and self._disabled:
            self._disabled -= 1
        elif tag == "form":
            self.inside = False


def form_fields(html: str, form_id: str = "qe-form") -> dict:
    parser = _Form(form_id)
    parser.feed(html)
    out: dict = {}
    for name, value in parser.fields:
        out.setdefault(name, []).append(value)
    return {k: v[0] if len(v) == 1 else v for k, v in out.items()}


@pytest.fixture
def site(tmp_path):
    app, storage = make_app(tmp_path)
    add_users(storage)
    admin, csrf = login(app, "province-admin")
    yield app, storage, admin, csrf
    storage.close()


def _future(days: int = 30) -> str:
    return (datetime.fromisoformat(province_today(7)) + timedelta(days=days)).date().isoformat()


def _paste(admin, csrf, doc: dict) -> None:
    resp = admin.post("/admin/questionnaires", data={"csrf": csrf, "document": json.dumps(doc, ensure_ascii=False)})
    assert resp.status_code == 303, resp.text[:800]


# --- campaigns -----------------------------------------------------------------------------------

def test_a_campaign_that_has_not_started_is_edited_and_audited(site):
    app, storage, admin, csrf = site
    v2 = {**load_default_questionnaire().to_dict(), "version": 2}
    _paste(admin, csrf, v2)
    assert admin.post(f"/admin/questionnaires/{QID}/2/publish", data={"csrf": csrf}).status_code == 303
    start = _future(30)
    cid = storage.add_campaign("Đợt tháng sau", start, _future(35), QID, 1, ["213"], NOW)
    page = admin.get(f"/admin/campaigns/{cid}")
    assert page.status_code == 200 and 'action="/admin/campaigns/%d"' % cid in page.text and "Còn sửa được" in page.text
    assert 'value="213" checked' in page.text and 'class="unit-picker"' in page.text  # the tree, with its choice ticked
    resp = admin.post(f"/admin/campaigns/{cid}", data={"csrf": csrf, "name": "  Đợt tháng sau (sửa)  ", "starts_on": _future(40),
                                                       "ends_on": _future(44), "questionnaire": f"{QID}:2",
                                                       "units": ["215", "7201", "215"]})
    assert resp.status_code == 303, resp.text[:800]
    c = storage.campaign(cid)
    assert (c["name"], c["starts_on"], c["ends_on"], c["questionnaire_version"], c["units"]) == (
        "Đợt tháng sau (sửa)", _future(40), _future(44), 2, ["215", "7201"])
    entry = storage.audit_log()[0]
    assert (entry["action"], entry["target"], entry["username"]) == ("campaign.edit", str(cid), "province-admin")
    assert entry["detail"]["changed"]["units"] == {"from": ["213"], "to": ["215", "7201"]}
    assert entry["detail"]["changed"]["starts_on"] == {"from": start, "to": _future(40)}
    assert entry["detail"]["changed"]["questionnaire_version"] == {"from": 1, "to": 2}
    # An analyst reads the page but has no form, and cannot post one.
    analyst, analyst_csrf = login(app, "province-analyst")
    assert 'action="/admin/campaigns/%d"' % cid not in analyst.get(f"/admin/campaigns/{cid}").text
    assert analyst.post(f"/admin/campaigns/{cid}", data={"csrf": analyst_csrf, "name": "x"}).status_code == 403


@pytest.mark.parametrize("starts", ["today", "past"])
def test_a_started_campaign_is_locked_and_its_edit_refused(site, starts):
    _, storage, admin, csrf = site
    today = province_today(7)
    start = today if starts == "today" else "2025-06-26"
    cid = storage.add_campaign("Đợt đang chạy", start, _future(3), QID, 1, ["213"], NOW)
    before, audited = storage.campaign(cid), len(storage.audit_log())
    page = admin.get(f"/admin/campaigns/{cid}")
    assert page.status_code == 200 and "nên không thể sửa nữa" in page.text and 'action="/admin/campaigns/%d"' % cid not in page.text
    resp = admin.post(f"/admin/campaigns/{cid}", data={"csrf": csrf, "name": "Sửa lén", "starts_on": _future(10), "ends_on": _future(12),
                                                       "questionnaire": f"{QID}:1", "units": ["215"]})
    assert resp.status_code == 400 and "không thể sửa nữa" in resp.text and "campaign_started" in resp.text
    assert storage.campaign(cid) == before and len(storage.audit_log()) == audited
    # Storage refuses it too, whatever a caller says today is not before the start.
    from sync_server.storage import StorageRefused

    with pytest.raises(StorageRefused) as refused:
        storage.update_campaign(cid, "x", _future(10), _future(12), QID, 1, ["215"], start, NOW, None)
    assert refused.value.code == "campaign_started" and storage.campaign(cid) == before


def test_campaign_units_come_from_the_picker_and_unknown_codes_are_refused(site):
    _, storage, admin, csrf = site
    page = admin.get("/admin/questionnaires?on=2024-06-26").text
    assert 'type="checkbox" id="c-units-7201" name="units" value="7201"' in page
    assert 'type="search" id="c-units-search"' in page and '<script src="/static/unit_picker.js">' in page
    # The tree: the district's <details> holds its communes.
    district = page[page.index('value="213"'):]
    assert district.index("<details") < district.index('value="7201"') < district.index("</details>")
    data = {"csrf": csrf, "name": "Đợt thử", "starts_on": _future(5), "ends_on": _future(9), "questionnaire": f"{QID}:1"}
    resp = admin.post("/admin/campaigns", data={**data, "units": ["7201", "9999", "x-1"]})
    assert resp.status_code == 400 and "Không có đơn vị mã 9999, x-1" in resp.text and storage.campaigns() == []
    assert admin.post("/admin/campaigns", data={**data, "units": []}).status_code == 400
    assert admin.post("/admin/campaigns", data={**data, "units": ["7201", "215"]}).status_code == 303
    assert storage.campaigns()[0]["units"] == ["215", "7201"]
    cid = storage.campaigns()[0]["id"]
    resp = admin.post(f"/admin/campaigns/{cid}", data={**data, "units": ["7201", "0000"]})
    assert resp.status_code == 400 and "Không có đơn vị mã 0000" in resp.text and storage.campaign(cid)["units"] == ["215", "7201"]


def test_a_users_unit_is_picked_from_the_tree_and_unknown_codes_are_refused(site):
    _, storage, admin, csrf = site
    page = admin.get("/admin/users").text
    assert 'type="radio" id="new-unit-none" name="unit_code" value="" checked' in page
    assert 'type="radio" id="new-unit-7201" name="unit_code" value="7201"' in page  # a form without JS posts this
    select = page[page.index('<select id="new-role" name="role"'):]
    assert '<option value="commune_viewer" selected>' in select[:select.index("</select>")]  # still the least-privileged default
    base = {"csrf": csrf, "password": "một mật khẩu đủ dài", "role": "commune_viewer"}
    resp = admin.post("/admin/users", data={**base, "username": "ma-sai", "unit_code": "9999"})
    assert resp.status_code == 400 and "Không có đơn vị mã 9999" in resp.text
    assert "ma-sai" not in [u["username"] for u in storage.users()]
    assert admin.post("/admin/users", data={**base, "username": "tho-xuong-2", "unit_code": "7201"}).status_code == 303
    user = next(u for u in storage.users() if u["username"] == "tho-xuong-2")
    assert user["unit_code"] == "7201"
    # A row's unit is a grouped list now, not a typed code; an unknown code posted is refused there too.
    assert '<option value="7201" selected>7201' in admin.get("/admin/users").text
    resp = admin.post(f"/admin/users/{user['id']}", data={"csrf": csrf, "role": "commune_viewer", "unit_code": "8888", "active": "1"})
    assert resp.status_code == 400 and "Không có đơn vị mã 8888" in resp.text and storage.user(user["id"]).unit_code == "7201"


# --- the questionnaire form editor --------------------------------------------------------------

def _draft(admin, csrf, version: int = 2, **changes) -> dict:
    doc = {**copy.deepcopy(load_default_questionnaire().to_dict()), "version": version, **changes}
    _paste(admin, csrf, doc)
    return doc


def test_the_form_posted_back_makes_the_same_document_as_the_json_pasted(site):
    _, storage, admin, csrf = site
    pasted = _draft(admin, csrf, 2)
    stored = storage.questionnaire_version(QID, 2)["body"]
    assert stored == pasted
    page = admin.get(f"/admin/questionnaires/{QID}/2/edit")
    assert page.status_code == 200 and '<script src="/static/questionnaire_editor.js">' in page.text
    fields = form_fields(page.text)
    assert fields["q1_show_q"] == "overall" and fields["q1_show_in"] == "1, 2" and fields["q1_o4_grave"] == "1"
    resp = admin.post(f"/admin/questionnaires/{QID}/2/edit", data={**fields, "action": "save"})
    assert resp.status_code == 303, resp.text[:1500]
    assert storage.questionnaire_version(QID, 2)["body"] == pasted  # equal as JSON, optional fields included or left out alike
    assert storage.audit_log()[0]["action"] == "questionnaire.edit"
    # An edit made in the form equals the same edit pasted as JSON (version 3).
    fields["title_vi"] = "Phiếu 2027"
    fields["q2_l0_dislike"] = "yes"
    fields.pop("q1_o6_id"), fields.pop("q1_o6_vi"), fields.pop("q1_o6_en")  # drop the "other" option
    assert admin.post(f"/admin/questionnaires/{QID}/2/edit", data={**fields, "action": "save"}).status_code == 303
    expected = copy.deepcopy(pasted)
    expected["title"]["vi"] = "Phiếu 2027"
    expected["questions"][2]["levels"][0]["dislike"] = True
    expected["questions"][1]["options"] = expected["questions"][1]["options"][:6]
    _paste(admin, csrf, {**expected, "version": 3})
    assert storage.questionnaire_version(QID, 2)["body"] == {**storage.questionnaire_version(QID, 3)["body"], "version": 2}


def test_add_question_posts_back_and_a_new_question_saves(site):
    _, storage, admin, csrf = site
    _draft(admin, csrf, 2)
    fields = form_fields(admin.get(f"/admin/questionnaires/{QID}/2/edit").text)
    more = admin.post(f"/admin/questionnaires/{QID}/2/edit", data={**fields, "action": "add_question"})
    assert more.status_code == 200 and "Câu 9 (mới; để trống nếu không cần)" in more.text
    assert len(storage.questionnaire_version(QID, 2)["body"]["questions"]) == 8  # nothing stored by "add"
    fields = form_fields(more.text)
    assert fields["q8_id"] == ""
    # Saved as it is, the blank question is ignored.
    assert admin.post(f"/admin/questionnaires/{QID}/2/edit", data={**fields, "action": "save"}).status_code == 303
    assert len(storage.questionnaire_version(QID, 2)["body"]["questions"]) == 8
    fields.update({"q8_id": "wait", "q8_kind": "single", "q8_criterion": "friendly_environment", "q8_order": "1.5",
                   "q8_vi": "Ông/Bà chờ bao lâu?", "q8_en": "How long did you wait?",
                   "q8_o0_id": "short", "q8_o0_vi": "Dưới 15 phút", "q8_o0_en": "Under 15 minutes",
                   "q8_o1_id": "long", "q8_o1_vi": "Trên 15 phút", "q8_o1_en": "Over 15 minutes",
                   "q8_l0_vi": "ignored: a choice has options"})
    assert admin.post(f"/admin/questionnaires/{QID}/2/edit", data={**fields, "action": "save"}).status_code == 303
    body = storage.questionnaire_version(QID, 2)["body"]
    assert [q["id"] for q in body["questions"]][:3] == ["overall", "wait", "why"]  # placed by its order field
    assert body["questions"][1] == {"id": "wait", "kind": "single", "criterion": "friendly_environment",
                                    "text": {"vi": "Ông/Bà chờ bao lâu?", "en": "How long did you wait?"},
                                    "options": [{"id": "short", "label": {"vi": "Dưới 15 phút", "en": "Under 15 minutes"}},
                                                {"id": "long", "label": {"vi": "Trên 15 phút", "en": "Over 15 minutes"}}]}


@pytest.mark.parametrize("change, path, place", [
    ({"q0_l4_score": "120"}, "questions[0].levels[4].score", "q0_l4"),
    ({"q2_l2_vi": "", "q2_l2_en": "", "q2_l2_score": "", "q2_l2_satisfied": None,
      "q2_l3_vi": "", "q2_l3_en": "", "q2_l3_score": "", "q2_l3_satisfied": None,
      "q2_l4_vi": "", "q2_l4_en": "", "q2_l4_score": "", "q2_l4_satisfied": None}, "questions[2].levels", "q2"),
    ({"q1_show_q": "nobody"}, "questions[1].show_if.question", "q1"),
    ({"q1_show_in": "1, 9"}, "questions[1].show_if.in", "q1"),
    ({"q0_l2_dislike": "yes", "q0_l2_satisfied": "1"}, "questions[0].levels[2].dislike", "q0_l2"),
    ({"q3_criterion": "made_up"}, "questions[3].criterion", "q3"),
])
def test_invalid_form_input_shows_the_validators_error_and_stores_nothing(site, change, path, place):
    _, storage, admin, csrf = site
    pasted = _draft(admin, csrf, 2)
    fields = form_fields(admin.get(f"/admin/questionnaires/{QID}/2/edit").text)
    for key, value in change.items():
        if value is None:
            fields.pop(key, None)
        else:
            fields[key] = value
    audited = len(storage.audit_log())
    for action in ("save", "check"):
        resp = admin.post(f"/admin/questionnaires/{QID}/2/edit", data={**fields, "action": action})
        assert resp.status_code == 400 and f"Lỗi ở {path}:" in resp.text, resp.text[:2000]
        # Beside its field: the block is marked, its message is inside it, the summary links to it.
        assert f'id="err-{place}"' in resp.text and f'href="#{place}"' in resp.text
        assert 'class="has-error"' in resp.text or "has-error" in resp.text
        # The same document pasted as JSON gets the same message from the same validator.
        assert storage.questionnaire_version(QID, 2)["body"] == pasted and len(storage.audit_log()) == audited
    kept = form_fields(resp.text)  # what was typed stays on the page to fix
    for key, value in change.items():
        if value:
            assert kept.get(key) == value, key


def test_the_same_error_as_the_json_path(site):
    _, storage, admin, csrf = site
    _draft(admin, csrf, 2)
    fields = form_fields(admin.get(f"/admin/questionnaires/{QID}/2/edit").text)
    form = admin.post(f"/admin/questionnaires/{QID}/2/edit", data={**fields, "q0_l4_score": "120", "action": "save"})
    doc = copy.deepcopy(storage.questionnaire_version(QID, 2)["body"])
    doc["questions"][0]["levels"][4]["score"] = 120
    pasted = admin.post(f"/admin/questionnaires/{QID}/2", data={"csrf": csrf, "document": json.dumps(doc)})
    assert pasted.status_code == form.status_code == 400
    assert "questions[0].levels[4].score: must be an integer from 0 to 100" in pasted.text
    assert "Lỗi ở questions[0].levels[4].score: must be an integer from 0 to 100" in form.text


def test_a_published_version_is_read_only_and_offers_a_new_version(site):
    app, storage, admin, csrf = site
    published = storage.questionnaire_version(QID, 1)["body"]
    page = admin.get(f"/admin/questionnaires/{QID}/1/edit")
    assert page.status_code == 200 and f'action="/admin/questionnaires/{QID}/1/copy"' in page.text
    assert 'name="action" value="save"' not in page.text and form_fields(page.text) == {"csrf": csrf}  # every field disabled
    fields = form_fields(page.text.replace(" disabled", ""))
    resp = admin.post(f"/admin/questionnaires/{QID}/1/edit", data={**fields, "title_vi": "Sửa bản đã ban hành", "action": "save"})
    assert resp.status_code == 400 and "đã ban hành nên không thể sửa" in resp.text
    assert storage.questionnaire_version(QID, 1)["body"] == published
    copied = admin.post(f"/admin/questionnaires/{QID}/1/copy", data={"csrf": csrf})
    assert copied.status_code == 303 and copied.headers["location"].startswith(f"/admin/questionnaires/{QID}/2/edit")
    draft = storage.questionnaire_version(QID, 2)
    assert draft["published_at"] is None and draft["body"] == {**published, "version": 2}
    assert 'name="action" value="save"' in admin.get(f"/admin/questionnaires/{QID}/2/edit").text
    assert storage.audit_log()[0]["action"] == "questionnaire.draft"
    # Only the province admin edits: an analyst is refused the editor and its posts.
    analyst, analyst_csrf = login(app, "province-analyst")
    assert analyst.get(f"/admin/questionnaires/{QID}/2/edit").status_code == 403
    assert analyst.post(f"/admin/questionnaires/{QID}/2/edit", data={**fields, "csrf": analyst_csrf}).status_code == 403


# --- the search box in a real browser ------------------------------------------------------------

browser = pytest.mark.skipif(not (Path(shots.CHROMIUM).exists() and (shutil.which("chromedriver") or Path(shots.CHROMEDRIVER).exists())),
                             reason="needs Debian's chromium and chromium-driver (scripts/setup.sh installs them)")


@pytest.mark.browser
@browser
def test_the_search_box_finds_a_commune_and_its_box_is_sent(tmp_path):
    from selenium.webdriver.common.by import By

    held = {}

    def seed(storage):
        shots.seed(storage)
        held["storage"] = storage

    with shots.live_app(tmp_path / "server.sqlite3", seed) as base:  # a browser test: the SQLite file the page server opens
        driver = shots.chromium(1366, 768)
        try:
            shots.sign_in(driver, base)
            driver.get(base + "/admin/questionnaires?on=2024-06-26")  # the 2023 tree: province > districts > communes
            search = driver.find_element(By.ID, "c-units-search")
            assert search.is_displayed()
            box = driver.find_element(By.ID, "c-units-7201")
            assert not box.is_displayed()  # folded inside its district
            search.send_keys("tho xuong")  # without diacritics: still found
            deadline = time.monotonic() + 5
            while not box.is_displayed() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert box.is_displayed()
            assert not driver.find_element(By.ID, "c-units-7246").is_displayed()  # another district's commune is filtered out
            assert "Tìm thấy 1 đơn vị" in driver.find_element(By.ID, "c-units-status").text
            driver.find_element(By.CSS_SELECTOR, 'label[for="c-units-7201"]').click()
            assert box.is_selected()
            driver.find_element(By.ID, "c-name").send_keys("Đợt Thọ Xương")
            driver.find_element(By.ID, "c-starts").send_keys("01/01/2099")
            driver.find_element(By.ID, "c-ends").send_keys("05/01/2099")
            before = driver.find_element(By.TAG_NAME, "html")
            driver.find_element(By.CSS_SELECTOR, 'form[action="/admin/campaigns"] button[type=submit]').click()
            deadline = time.monotonic() + 10
            while "ok=ok_saved" not in driver.current_url and time.monotonic() < deadline:
                time.sleep(0.05)
            assert "ok=ok_saved" in driver.current_url, driver.page_source[:1500]
            del before
            made = next(c for c in held["storage"].campaigns() if c["name"] == "Đợt Thọ Xương")
            assert made["units"] == ["7201"] and made["starts_on"] == "2099-01-01"
            # Ticking a unit covers the units below it: they show ticked and locked, and only that unit is sent.
            # (The edit page shows the tree in force on the campaign's first day: today's, under the province.)
            driver.get(base + f"/admin/campaigns/{made['id']}")
            driver.find_element(By.CSS_SELECTOR, 'label[for="c-units-24"]').click()
            commune = driver.find_element(By.ID, "c-units-7210")
            assert commune.is_selected() and not commune.is_enabled()
            driver.find_element(By.CSS_SELECTOR, f'form[action="/admin/campaigns/{made["id"]}"] button[type=submit]').click()
            deadline = time.monotonic() + 10
            while "ok=ok_saved" not in driver.current_url and time.monotonic() < deadline:
                time.sleep(0.05)
            assert held["storage"].campaign(made["id"])["units"] == ["24", "7201"]  # 7201 is not in today's tree: kept as chosen
        finally:
            driver.quit()
