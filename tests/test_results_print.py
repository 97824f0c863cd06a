"""Issue 15, "The XLSX an office hands upward": printed as an office prints it (LibreOffice headless to
PDF), each sheet fits its width on A4 landscape and the summary is one page with its labels beside
their values, inside the document frame and with its signature block; numbers are stored rounded as
they are shown; "Lập lúc" is the province's local time. Real database, real app, real LibreOffice."""

from __future__ import annotations

import io
import re
import shutil
import os
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests.results_world import enrol, upload
from tests.server_web import add_users, login, make_app

VI_ENV = {**os.environ, "LC_ALL": "vi_VN.UTF-8", "LANG": "vi_VN.UTF-8"}
pytestmark = pytest.mark.skipif(not (shutil.which("soffice") and shutil.which("pdftotext") and shutil.which("pdfinfo")),
                                reason="needs LibreOffice Calc and poppler-utils (scripts/setup.sh installs them)")


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("print")
    app, storage = make_app(tmp, report_min_answers=3)
    add_users(storage)
    levels = [5, 4, 4, 2, 5, 3, 1, 4, 5, 5, 4]
    for i, unit in enumerate(("7201", "7204", "7246", "7207", "213")):
        token = enrol(app, storage, unit)
        upload(app, token, unit, [({"overall": v}, []) for v in levels[i:] + levels[:i]])
    admin = login(app, "province-admin")[0]
    content = admin.get("/results/export.xlsx").content
    storage.close()
    return content, tmp


def _pdf(content: bytes, tmp: Path, keep: list[str], name: str) -> tuple[str, list[str]]:
    """The workbook with only the ``keep`` sheets, printed to PDF: (pdfinfo, text of each page)."""
    wb = load_workbook(io.BytesIO(content))
    for title in wb.sheetnames:
        if title not in keep:
            del wb[title]
    path = tmp / f"{name}.xlsx"
    wb.save(path)
    # A Vietnamese office's LibreOffice (or Excel): the locale decides the decimal mark the formats show.
    subprocess.run(["soffice", f"-env:UserInstallation=file://{tmp / 'lo'}", "--headless", "--convert-to", "pdf",
                    "--outdir", str(tmp), str(path)], check=True, capture_output=True, timeout=180, env=VI_ENV)
    pdf = tmp / f"{name}.pdf"
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return info, text.split("\f")


def _a4_landscape(info: str) -> None:
    w, h = (float(v) * 25.4 / 72 for v in re.search(r"Page size:\s+([0-9.]+) x ([0-9.]+) pts", info).groups())
    assert abs(w - 297) < 2 and abs(h - 210) < 2, info


def test_the_summary_prints_on_one_page_inside_the_document_frame(book):
    content, tmp = book
    info, pages = _pdf(content, tmp, ["Tổng hợp"], "summary")
    _a4_landscape(info)
    assert re.search(r"Pages:\s+1\b", info), info
    page = pages[0]
    for text in ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc", "TRUNG TÂM PHỤC VỤ HÀNH CHÍNH CÔNG",
                 "Số: /BC-TTPVHCC", "BÁO CÁO KẾT QUẢ KHẢO SÁT SỰ HÀI LÒNG", "NGƯỜI LẬP BIỂU", "THỦ TRƯỞNG ĐƠN VỊ"):
        assert text in page, text
    # Each label and its value on the same printed line.
    line = next(x for x in page.splitlines() if "Số phiếu tính" in x)
    assert re.search(r"Số phiếu tính\s+55\b", line), line
    # One decimal, with the Vietnamese decimal comma: 40 of 55 satisfied is 72,7 %.
    assert re.search(r"Tỷ lệ hài lòng\s+72,7\s?%", page), page


def test_numbers_are_stored_as_shown_and_the_time_is_the_provinces(book):
    content, tmp = book
    wb = load_workbook(io.BytesIO(content))
    summary = {r[0]: r[1] for r in wb["Tổng hợp"].iter_rows(values_only=True) if r and r[0]}
    assert summary["Chỉ số hài lòng (0–100)"] == round(summary["Chỉ số hài lòng (0–100)"], 1)
    assert summary["Tỷ lệ hài lòng"] == round(summary["Tỷ lệ hài lòng"], 3)
    made = datetime.strptime(summary["Lập lúc"][:16], "%d/%m/%Y %H:%M")
    local = datetime.now(timezone(timedelta(hours=7))).replace(tzinfo=None)
    assert abs((local - made).total_seconds()) < 600 and "Asia/Ho_Chi_Minh" in summary["Lập lúc"]
    communes = wb["Cấp xã"]
    header = [c.value for c in communes[1]]
    col = header.index("Chỉ số hài lòng (0–100)") + 1
    values = [communes.cell(r, col) for r in range(2, communes.max_row + 1) if communes.cell(r, col).value is not None]
    assert values and all(c.value == round(c.value, 1) and c.number_format == "0.0" for c in values)
    share = communes.cell(2, header.index("Cận dưới Wilson 95%") + 1)
    assert share.number_format == "0.0%" and share.value == round(share.value, 3)
    assert communes.freeze_panes == "A2" and communes.print_title_rows == "$1:$1"


def test_every_sheet_fits_its_width_on_a4_landscape(book):
    content, tmp = book
    wb = load_workbook(io.BytesIO(content))
    for i, title in enumerate(wb.sheetnames):
        if title == "Tổng hợp":
            continue
        info, pages = _pdf(content, tmp, [title], f"sheet{i}")  # ASCII names: LibreOffice's locale is not the system's
        _a4_landscape(info)
        header = [c.value for c in wb[title][1] if c.value]
        # The last column's header is on the first page: nothing was cut to a second page to the right.
        last = header[-1].split()[0]
        assert last in pages[0], (title, last)
        n_pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
        rows = wb[title].max_row
        assert n_pages <= max(1, rows // 20 + 1), (title, n_pages, rows)  # pages follow rows, never columns


def test_the_csv_opens_in_vietnamese_excel_and_the_machine_form_stays_plain(tmp_path):
    import csv

    app, storage = make_app(tmp_path, report_min_answers=3)
    add_users(storage)
    token = enrol(app, storage, "7201")
    upload(app, token, "7201", [({"overall": v}, []) for v in (5, 4, 4, 2, 5, 1, 4)])
    admin = login(app, "province-admin")[0]
    raw = admin.get("/results/export.csv?unit=213").content
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads UTF-8
    text = raw.decode("utf-8-sig")
    header = text.splitlines()[0]
    assert header.split(";")[:4] == ["Cấp", "Xếp hạng", "Mã", "Đơn vị"] and "," not in header.replace("(0–100)", "")
    rows = list(csv.DictReader(text.splitlines(), delimiter=";"))
    assert {r["Cấp"] for r in rows} >= {"Cấp huyện", "Cấp xã", "Điểm tiếp nhận"}
    [ward] = [r for r in rows if r["Mã"] == "7201" and r["Cấp"] == "Cấp xã"]
    assert ward["Số phiếu tính"] == "7" and ward["Tỷ lệ hài lòng"] == "71,4%"  # 5 of 7 satisfied
    assert re.fullmatch(r"\d+,\d", ward["Chỉ số hài lòng (0–100)"])
    assert re.fullmatch(r"\d+,\d%", ward["Cận dưới Wilson 95%"])
    machine = admin.get("/results/export.csv?unit=213&format=machine").content
    assert not machine.startswith(b"\xef\xbb\xbf")
    plain = list(csv.DictReader(machine.decode("utf-8").splitlines()))
    [ward] = [r for r in plain if r["Mã"] == "7201" and r["Cấp"] == "commune"]
    assert ward["Tỷ lệ hài lòng"] == "0.714" and re.fullmatch(r"\d+\.\d", ward["Chỉ số hài lòng (0–100)"])
    storage.close()
