"""Issue 14: the QĐ 766 figures on the results pages and as a sheet of the XLSX, the same numbers as
``official --json``; a commune viewer sees the counts of their commune and never a dossier code; a
Chromium screenshot of the card (docs/screens/results_official.png)."""

from __future__ import annotations

import io
import json
import re
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from sync_server.days import local_today
from tests.dossier_world import GOOD_UNIT, generate, register_csv, send_ratings, window_for
from tests.results_world import enrol
from tests.server_web import add_users, login, make_app
from tests.screens import screen_path
from tests.support import server_cli

SCREENSHOT = "results_official.png"  # in tmp_path; docs/screens/ with HAILONG_WRITE_DOCS_SCREENS=1
N = 900


def _vn(value: float, digits: int = 1) -> str:
    return f"{value:.{digits}f}".replace(".", ",")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("official-pages")
    app, storage = make_app(tmp)
    add_users(storage)
    settings = app.state.hailong.settings
    today = local_today(settings)
    dossiers = generate(N, today, seed=3)
    path = tmp / "register.csv"
    path.write_bytes(register_csv(dossiers))
    server_cli(settings.db, "import-dossiers", str(path))
    tokens = {u: enrol(app, storage, u) for u in sorted({d.unit for d in dossiers})}
    send_ratings(app, storage, tokens, dossiers)
    start, end = window_for(today)
    cli = json.loads(server_cli(settings.db, "official", "--json", "--from", start.isoformat(), "--to", end.isoformat()).stdout)
    yield app, storage, dossiers, start, end, cli
    storage.close()


def test_the_results_pages_show_the_766_figures_of_the_json(world):
    app, storage, dossiers, start, end, cli = world
    query = f"from={start:%d/%m/%Y}&to={end:%d/%m/%Y}"
    admin = login(app, "province-admin")[0]
    page = admin.get(f"/results?{query}").text
    card = page[page.index('id="official"'):]
    total = cli["total"]
    assert f"<b>{_vn(total['ratio'])} %</b>" in card and f"<b>{total['dossiers']:,}".replace(",", " ") in card
    assert "Tỷ lệ = 100 % − (% hồ sơ giải quyết trễ hạn" in card and "chưa được xác minh" in card
    by = {u["code"]: u for u in cli["units"] if u["dossiers"]}
    for code, u in by.items():  # every unit with dossiers, its ratio in the table, lowest first
        assert f'/results/units/{code}?' in card and f"<b>{_vn(u['ratio'])} %</b>" in card, code
    ratios = [float(x.replace(",", ".")) for x in re.findall(r'<td class="n"><b>([0-9,]+) %</b></td>', card)]
    assert ratios == sorted(ratios) and len(ratios) >= len(by) - 1
    commune = admin.get(f"/results/units/7201?{query}").text
    mine = commune[commune.index('id="official"'):]
    assert f"<b>{_vn(by['7201']['ratio'])} %</b>" in mine and f"<b>{_vn(by['7201']['points'], 2)}</b>" in mine
    assert "Đối chiếu sổ hồ sơ với hồ sơ được đánh giá" in mine
    # Repeat ratings of a dossier (generated: about 6 % of rated dossiers get a second one) are said, not counted.
    repeats = sum(len([r for r in d.ratings if not r[1]]) - 1 for d in dossiers
                  if d.unit == "7201" and len([r for r in d.ratings if not r[1]]) > 1)
    now = admin.get(f"/results/units/7201?from={end + timedelta(days=31):%d/%m/%Y}&to={end + timedelta(days=31):%d/%m/%Y}").text
    assert repeats and f'id="repeats"><b>{repeats}</b>' in now  # the ratings were sent today


def test_a_commune_viewer_sees_counts_and_never_a_dossier_code(world):
    app, storage, dossiers, start, end, cli = world
    query = f"from={start:%d/%m/%Y}&to={end:%d/%m/%Y}"
    viewer = login(app, "commune-viewer")[0]  # commune 7201
    page = viewer.get(f"/results?{query}").text
    assert 'id="official"' in page
    codes = [d.code for d in dossiers]
    assert not any(c in page or c.lower() in page for c in codes)
    book = viewer.get(f"/results/export.xlsx?{query}").content
    texts = " ".join(str(v) for ws in load_workbook(io.BytesIO(book)) for row in ws.iter_rows(values_only=True) for v in row if v)
    assert not any(c in texts or c.lower() in texts for c in codes)
    raw = viewer.get("/results/answers.csv").text
    assert not any(c in raw or c.lower() in raw for c in codes)
    # A district viewer sees officer results: their answer rows carry officer ids, never a dossier code.
    district = login(app, "district-viewer")[0]
    raw = district.get("/results/answers.csv").text
    assert "officer_id" in raw.splitlines()[0] and not any(c in raw or c.lower() in raw for c in codes)
    page = district.get(f"/results/units/7201?{query}").text
    assert not any(c in page or c.lower() in page for c in codes)


def test_the_xlsx_has_the_766_sheet_with_the_same_numbers(world):
    app, storage, dossiers, start, end, cli = world
    admin = login(app, "province-admin")[0]
    book = load_workbook(io.BytesIO(admin.get(f"/results/export.xlsx?from={start:%d/%m/%Y}&to={end:%d/%m/%Y}").content))
    ws = book["QĐ 766"]
    rows = list(ws.iter_rows(values_only=True))
    header = rows[0]
    assert header[:3] == ("Mã", "Đơn vị", "Số hồ sơ") and "Tỷ lệ hài lòng (QĐ 766)" in header
    by = {r[0]: dict(zip(header, r)) for r in rows[1:] if r and r[0]}
    for u in cli["units"]:
        if u["dossiers"]:
            line = by[u["code"]]
            assert (line["Số hồ sơ"], line["Trễ hạn"], line["Hồ sơ được đánh giá"]) == (u["dossiers"], u["late"], u["rated"])
            assert round(line["Tỷ lệ hài lòng (QĐ 766)"] * 100, 1) == u["ratio"] and line["Điểm"] == pytest.approx(u["points"], abs=0.01)
    total = next(dict(zip(header, r)) for r in rows[1:] if r and r[1] == "Cộng")
    assert total["Số hồ sơ"] == cli["total"]["dossiers"]
    assert ws.cell(row=2, column=12).number_format == "0.0%"
    notes = " ".join(str(r[1]) for r in rows if r and not r[0] and r[1] and r[1] != "Cộng")
    assert "Chỉ tính phiếu gắn mã hồ sơ" in notes and "Pmax" in notes


def test_screenshot_of_the_766_card(world, tmp_path):
    from tools import server_screenshots as shots

    if not (Path(shots.CHROMIUM).exists() and (shutil.which("chromedriver") or Path(shots.CHROMEDRIVER).exists())):
        pytest.skip("needs Debian's chromium and chromium-driver")
    from selenium.webdriver.common.by import By

    app, storage, dossiers, start, end, cli = world
    db = storage.url if hasattr(storage, "url") else storage.path
    def admin_only(s) -> None:
        from datetime import datetime, timezone

        from sync_server import accounts
        s.add_user(shots.ADMIN, accounts.hash_secret(shots.ADMIN_PASSWORD), "province_admin", None, datetime.now(timezone.utc))

    with shots.live_app(db, seed_fn=admin_only) as base:
        driver = shots.chromium(1366, 768)
        try:
            shots.sign_in(driver, base)
            # A commune's card, its breakdowns by field and month opened (they start folded).
            driver.get(f"{base}/results/units/{GOOD_UNIT}?from={start:%d/%m/%Y}&to={end:%d/%m/%Y}#official")
            card = driver.find_element(By.ID, "official")
            for summary in card.find_elements(By.CSS_SELECTOR, "details.official-part > summary"):
                summary.click()
            good = next(u for u in cli["units"] if u["code"] == GOOD_UNIT)
            assert "QĐ 766" in card.text and _vn(good["ratio"]) in card.text
            assert "Theo lĩnh vực" in card.text and "Hộ tịch" in card.text and "Theo tháng" in card.text
            # 1366 wide as every screenshot; tall enough for the opened card (an element shot is cut at the window).
            driver.set_window_size(1366, max(768, card.size["height"] + 260))
            driver.execute_script("arguments[0].scrollIntoView()", card)
            shot = screen_path(tmp_path, SCREENSHOT)
            card.screenshot(str(shot))
            assert shot.stat().st_size > 10_000
        finally:
            driver.quit()


def test_the_register_upload_page(tmp_path):
    """Province admin uploads; a bad row refuses the whole file with its line number; the analyst reads;
    a commune viewer is refused; the same use case as ``import-dossiers``."""
    app, storage = make_app(tmp_path)
    add_users(storage)
    today = local_today(app.state.hailong.settings)
    good = register_csv(generate(40, today, seed=9))
    admin, csrf = login(app, "province-admin")
    page = admin.get("/admin/dossiers")
    assert page.status_code == 200 and "Nhập sổ hồ sơ" in page.text and 'for="dos-file"' in page.text
    done = admin.post("/admin/dossiers", data={"csrf": csrf}, files={"file": ("so-ho-so-thang-10.csv", good, "text/csv")})
    assert done.status_code == 200 and "Đã nhập sổ hồ sơ so-ho-so-thang-10.csv" in done.text
    assert storage.dossier_count() == 40 and "so-ho-so-thang-10.csv" in done.text.split("Các lần nhập gần đây")[1]
    again = admin.post("/admin/dossiers", data={"csrf": csrf}, files={"file": ("lai.csv", good, "text/csv")})
    assert again.status_code == 200 and storage.dossier_count() == 40  # nothing twice
    lines = good.decode("utf-8").split("\r\n")
    cells = lines[5].split(",")
    lines[5] = ",".join([cells[0], "99999", *cells[2:]])  # an unknown unit on line 6
    bad = "\r\n".join(lines).encode("utf-8") + b"H24.NEW-1,7201,,,\xc4\x91\xc3\xa2y-kh\xc3\xb4ng-ph\xe1\xba\xa3i-ng\xc3\xa0y,,,,\r\n"
    refused = admin.post("/admin/dossiers", data={"csrf": csrf}, files={"file": ("sai.csv", bad, "text/csv")})
    assert refused.status_code == 400 and "Chưa nhập tệp sai.csv: chưa lưu dòng nào" in refused.text
    table = refused.text[refused.text.index('id="problems"'):]
    assert '<td class="n">6</td><td>unit_code</td>' in table and f'<td class="n">{len(lines)}</td>' in table
    assert storage.dossier_count() == 40
    wrong_mapping = admin.post("/admin/dossiers", data={"csrf": csrf, "mapping": "{not json"},
                               files={"file": ("x.csv", good, "text/csv")})
    assert wrong_mapping.status_code == 400 and "Bảng đối chiếu cột chưa đúng" in wrong_mapping.text
    assert admin.post("/admin/dossiers", files={"file": ("x.csv", good, "text/csv")}).status_code == 403  # no CSRF token
    analyst = login(app, "province-analyst")[0]
    seen = analyst.get("/admin/dossiers")
    assert seen.status_code == 200 and 'for="dos-file"' not in seen.text
    viewer, vcsrf = login(app, "commune-viewer")
    assert viewer.get("/admin/dossiers").status_code == 403
    assert viewer.post("/admin/dossiers", data={"csrf": vcsrf}, files={"file": ("x.csv", good, "text/csv")}).status_code == 403
    storage.close()


def test_a_units_own_receipt_pattern_from_the_admin_page_reaches_the_phone_link(tmp_path):
    app, storage = make_app(tmp_path)
    add_users(storage)
    admin, csrf = login(app, "province-admin")
    bad = admin.post("/admin/dossiers/pattern", data={"csrf": csrf, "unit_code": "7201", "pattern": "H24-(unclosed"})
    assert bad.status_code == 400 and "Mẫu chưa đúng cú pháp" in bad.text
    assert admin.post("/admin/dossiers/pattern", data={"csrf": csrf, "unit_code": "0000", "pattern": "X"}).status_code == 400
    ok = admin.post("/admin/dossiers/pattern", data={"csrf": csrf, "unit_code": "7201", "pattern": r"TX-[0-9]{4}"})
    assert ok.status_code == 200 and "Đã lưu: Phường Thọ Xương dùng mẫu TX-[0-9]{4}" in ok.text
    phone = admin.get("/s/7201?d=TX-1234").text
    assert "hồ sơ số TX-1234" in phone
    assert "không đúng mẫu mã" in admin.get("/s/7201?d=H24-1234").text  # another unit's code is not this unit's
    assert "hồ sơ số H24-1234" in admin.get("/s/7204?d=H24-1234").text  # the others keep the province's (any)
    reset = admin.post("/admin/dossiers/pattern", data={"csrf": csrf, "unit_code": "7201", "pattern": "", "reset": "1"})
    assert reset.status_code == 200 and "hồ sơ số H24-1234" in admin.get("/s/7201?d=H24-1234").text
    assert {"dossier_pattern.set"} <= {e["action"] for e in storage.audit_log(10)}
    analyst, acsrf = login(app, "province-analyst")
    assert analyst.post("/admin/dossiers/pattern", data={"csrf": acsrf, "unit_code": "7201", "pattern": "X"}).status_code == 403
    storage.close()


def test_the_766_sheet_prints_on_one_a4_landscape_width(world, tmp_path):
    """The XLSX sheet as an office prints it: LibreOffice headless to PDF, A4 landscape, the columns on
    one page's width; the page as an image (docs/screens/xlsx_official.png)."""
    import subprocess

    if not shutil.which("soffice") or not shutil.which("pdftoppm"):
        pytest.skip("needs LibreOffice Calc and poppler-utils (scripts/setup.sh installs them)")
    app, storage, dossiers, start, end, cli = world
    admin = login(app, "province-admin")[0]
    book = load_workbook(io.BytesIO(admin.get(f"/results/export.xlsx?from={start:%d/%m/%Y}&to={end:%d/%m/%Y}").content))
    for name in book.sheetnames:
        if name != "QĐ 766":
            del book[name]
    path = tmp_path / "qd766.xlsx"
    book.save(path)
    profile = tmp_path / "lo-profile"
    subprocess.run(["soffice", f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", "pdf", "--outdir",
                    str(tmp_path), str(path)], check=True, capture_output=True, timeout=120)
    pdf = tmp_path / "qd766.pdf"
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    size = re.search(r"Page size:\s+([0-9.]+) x ([0-9.]+) pts", info)
    width_mm, height_mm = (float(v) * 25.4 / 72 for v in size.groups())
    assert abs(width_mm - 297) < 2 and abs(height_mm - 210) < 2, info  # A4 landscape
    assert re.search(r"Pages:\s+1\b", info), info  # a few units: one page, every column on it
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "Tỷ lệ hài lòng" in text and "Điểm" in text and "Cộng" in text
    subprocess.run(["pdftoppm", "-png", "-r", "110", "-singlefile", str(pdf), str(tmp_path / "page")], check=True)
    shutil.copy(tmp_path / "page.png", screen_path(tmp_path, "xlsx_official.png"))
