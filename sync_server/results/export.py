"""The official report as XLSX (openpyxl) and CSV, and raw answers as CSV, for one viewer's scope.

XLSX: a summary sheet, one sheet per level (districts, communes), the service points (sites: each
commune's point, each district's one-stop counter, the centre's points) ranked, one by procedure group
(lĩnh vực), the reasons given ("Lý do", with the "Không nêu lý do" row), with ``history=1`` the
predecessors added ("Đơn vị tiền thân", issue 13), officers when the viewer may see them, for a campaign the
recognition list (on the comparable index) with the earlier campaigns' indices and lines to sign, each
question with at how many points it was asked ("Theo câu hỏi"), and citizens' visible comments ("Góp ý",
the hidden ones counted, officer names only for roles that may see officers). Answers whose follow-ups were left count in every figure; their number has its own column.
Headers are Vietnamese (the report goes upward as it is); numbers are real numbers with formats,
not text, so the province can re-sort and sum them in Excel.

Every text cell is written formula-safe (issue 11): an officer id, a unit or option name, a comment
is data, never a formula. The XLSX stores text as plain strings (the value exact, ``data_type`` "s",
control characters Excel cannot hold replaced); the CSVs prefix text that a spreadsheet would read
as a formula (``= + - @``, tab, CR) with a single quote (the OWASP rule), which Excel and LibreOffice
show as text. :func:`csv_cell` and :func:`_xlsx_append` are the only ways cells are written here.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timezone

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from sync_server import comments
from sync_server.accounts import OFFICER_ROLES
from sync_server.days import province_now
from sync_server.results import official, official_privacy
from sync_server.results.model import Score
from sync_server.scopes import answers_in_scope
from sync_server.results.report import NO_REASON, RECOGNITION_STATUS, Report

LEVEL_SHEETS = (("district", "Cấp huyện"), ("commune", "Cấp xã"))
FOLLOWUPS_LEFT = "Phiếu bỏ dở phần hỏi thêm (vẫn tính câu đã trả lời)"  # counted: only the follow-ups were left
UNIT_HEADERS = ["Xếp hạng", "Mã", "Đơn vị", "Thuộc", "Số phiếu tính", "Hài lòng", "Tỷ lệ hài lòng", "Chỉ số hài lòng (0–100)",
                "Cận dưới Wilson 95%", "Cận trên Wilson 95%", "Ghi chú", "Phiếu bị loại (lạm dụng)", FOLLOWUPS_LEFT]
NOT_ENOUGH = "chưa đủ số phiếu"
POINTS_SHEET = "Điểm tiếp nhận"
POINT_HEADERS = ["Xếp hạng", "Mã điểm", "Điểm tiếp nhận", "Mã đơn vị", "Đơn vị", "Cấp", "Thuộc", "Số phiếu tính", "Hài lòng",
                 "Tỷ lệ hài lòng", "Chỉ số hài lòng (0–100)", "Cận dưới Wilson 95%", "Cận trên Wilson 95%", "Ghi chú",
                 "Phiếu bị loại (lạm dụng)", FOLLOWUPS_LEFT]
LEVEL_NAMES = {"province": "Tỉnh", "centre": "Trung tâm Phục vụ hành chính công", "district": "Cấp huyện", "commune": "Cấp xã"}
CSV_LEVELS = {"điểm tiếp nhận": "Điểm tiếp nhận", "lĩnh vực": "Lĩnh vực"}
HEAD_FILL = PatternFill("solid", fgColor="DCE8EF")
# What spreadsheets read as the start of a formula (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    """A CSV cell: text a spreadsheet would take for a formula gets a leading ``'``; None is empty."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _csv_row(writer, values) -> None:
    writer.writerow([csv_cell(v) for v in values])


def _xlsx_append(ws, values) -> None:
    """Append a row; text stays text (openpyxl would store "=…" as a formula and "#N/A" as an error)."""
    ws.append([ILLEGAL_CHARACTERS_RE.sub("\ufffd", v) if isinstance(v, str) else v for v in values])
    if not values:
        return
    for cell in next(ws.iter_rows(min_row=ws.max_row, max_row=ws.max_row, max_col=len(values))):
        if isinstance(cell.value, str):
            cell.data_type = "s"


def _index(value: float | None) -> float | None:
    """An index as the report shows it: one decimal (the cell holds what it shows)."""
    return None if value is None else round(value, 1)


def _share(value: float | None) -> float | None:
    """A share (0–1) as the report shows it: a percent with one decimal, so three decimals of the fraction."""
    return None if value is None else round(value, 3)


def unit_values(row: dict, parent_name: str | None) -> list:
    s: Score = row["score"]
    return [row.get("rank"), row["code"], row["name"], parent_name or "", s.n, s.satisfied,
            _share(s.headline_share), _index(s.index), _share(s.low), _share(s.high),
            "" if row.get("enough", True) else NOT_ENOUGH, s.flagged.get("misuse", 0), s.followups_left]


def point_values(row: dict, parent_name: str | None) -> list:
    """One service point's line (``Report.points``): rank, site, its unit, the counts as for a unit."""
    s: Score = row["score"]
    return [row.get("rank"), row["site_id"], row["name"] + (" (đã đóng)" if row.get("closed") else ""), row["code"],
            row["unit_name"], LEVEL_NAMES.get(row["level"], row["level"]), parent_name or "", s.n, s.satisfied, _share(s.headline_share),
            _index(s.index), _share(s.low), _share(s.high),
            "" if row.get("enough", True) else NOT_ENOUGH, s.flagged.get("misuse", 0), s.followups_left]


def report_rows(report: Report, focus: str) -> list[tuple[str, list[dict]]]:
    """``(level, ranked rows)`` for the levels under (and including) the focus unit."""
    out = [("focus", [dict(report.unit_row(focus), rank=None, enough=True)])]
    level = report.tree.units[focus]["level"]
    if level == "province":
        tops = [r for r in report.children(focus) if r["level"] in ("district", "centre")]
        out.append(("district", report.ranked(tops)))
    if level in ("province", "district"):
        out.append(("commune", report.ranked(report.level_rows("commune", focus))))
    return out


def _criteria(report: Report, rows: list[dict]) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for row in rows:
        for c in row["score"].criteria:
            seen.setdefault(c["id"], c["label"].vi if c["label"] else c["id"])
    return list(seen.items())


NAME_HEADERS = ("Đơn vị", "Cán bộ", "Điểm tiếp nhận", "Xã, phường, thị trấn", "Lĩnh vực thủ tục", "Câu hỏi", "Lý do", "Thuộc")


def number_format(header: str) -> str | None:
    """The format of a column, by its header: shares and Wilson bounds as percents with one decimal,
    indices with one decimal, points with two, counts as whole numbers. Excel and LibreOffice show the
    decimal mark of the reader's locale (a comma in Vietnamese)."""
    if header.startswith(("Tỷ lệ", "Cận dưới", "Cận trên")):
        return "0.0%"
    if header.startswith("Chỉ số"):
        return "0.0"
    if header == "Điểm":
        return "0.00"
    if header.startswith(("Số ", "Hài lòng", "Phiếu", "Trễ", "Đánh giá", "Có phản", "Không hài", "Hồ sơ", "Trong đó")):
        return "#,##0"
    return None


def print_layout(ws, *, one_page: bool = False, title_rows: str | None = "1:1") -> None:
    """A4 landscape, the columns fitted to the page's width (``one_page``: the whole sheet on one page),
    the header row repeated on every printed page, the page number in the footer."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, (1 if one_page else 0)
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_margins.left = ws.page_margins.right = 0.5
    ws.page_margins.top = ws.page_margins.bottom = 0.6
    if title_rows:
        ws.print_title_rows = title_rows
    ws.oddFooter.center.text = "Trang &P / &N"


def _province_name(report: Report) -> str:
    root = report.tree.root()
    return report.tree.units[root]["name"] if root else ""


def frame_texts(report: Report, day: datetime) -> dict:
    """The texts of an administrative document's frame (settings ``report_*``; the province's name in
    force on the report's last day where they are empty), for the XLSX and the printed pages alike."""
    settings = report.settings
    province = _province_name(report)
    place = settings.report_place or province.replace("Thành phố ", "").replace("Tỉnh ", "")
    left, _, right = settings.report_signers.partition("|")
    return {"parent": settings.report_issuer_parent or (f"UBND {province.upper()}" if province else ""),
            "issuer": settings.report_issuer, "nation": "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
            "motto": "Độc lập - Tự do - Hạnh phúc", "number": f"Số: {settings.report_number}",
            "place_date": f"{place}, ngày {day:%d} tháng {day:%m} năm {day:%Y}",
            "signers": (left.strip(), right.strip())}


def document_frame(ws, report: Report, title: str, subtitle: str, day: datetime, *, columns: int) -> None:
    """The frame of an administrative document (Nghị định 30/2020/NĐ-CP's layout): the issuing body and
    its parent on the left, the national name and motto on the right, the number, the place and date,
    the title (rows 1 to 6)."""
    f = frame_texts(report, day)
    half = max(1, columns // 2)
    rows = [((f["parent"], False), (f["nation"], True)), ((f["issuer"], True), (f["motto"], True)),
            ((f["number"], False), (f["place_date"], False))]
    for i, ((left, left_bold), (right, right_bold)) in enumerate(rows, 1):
        ws.cell(i, 1, left).font = Font(bold=left_bold)
        ws.cell(i, half + 1, right).font = Font(bold=right_bold, italic=(i == 3), underline="single" if i == 2 else None)
        ws.merge_cells(start_row=i, start_column=1, end_row=i, end_column=half)
        ws.merge_cells(start_row=i, start_column=half + 1, end_row=i, end_column=columns)
        for col in (1, half + 1):
            ws.cell(i, col).alignment = Alignment(horizontal="center", vertical="center")
    ws.cell(5, 1, title).font = Font(bold=True, size=13)
    ws.cell(6, 1, subtitle).font = Font(italic=True)
    for r in (5, 6):
        ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=columns)
        ws.cell(r, 1).alignment = Alignment(horizontal="center", wrap_text=True)
    ws.row_dimensions[5].height = 36


def signature_block(ws, settings, *, columns: int) -> None:
    """Two signature titles under the table: who drew it up (left) and the head of the office (right)."""
    left, _, right = settings.report_signers.partition("|")
    half = max(1, columns // 2)
    row = ws.max_row + 2  # one blank line above
    for r, (a, b, bold) in enumerate(((left.strip(), right.strip(), True),
                                      ("(Ký, ghi rõ họ tên)", "(Ký, ghi rõ họ tên, đóng dấu)", False)), row):
        ws.cell(r, 1, a).font = Font(bold=bold, italic=not bold)
        ws.cell(r, half + 1, b).font = Font(bold=bold, italic=not bold)
        ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=half)
        ws.merge_cells(start_row=r, start_column=half + 1, end_row=r, end_column=columns)
        for col in (1, half + 1):
            ws.cell(r, col).alignment = Alignment(horizontal="center")
    ws.row_dimensions[row + 2].height = 60  # room to sign


def _sheet(wb: Workbook, title: str, headers: list[str], rows: list[list]) -> None:
    ws = wb.create_sheet(title)
    _xlsx_append(ws, headers)
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = HEAD_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for values in rows:
        _xlsx_append(ws, values)
    for i, h in enumerate(headers, 1):
        ws.column_dimensions[get_column_letter(i)].width = 34 if h in NAME_HEADERS else max(8, min(16, len(h) + 2))
        fmt = number_format(h)
        if fmt:
            for (cell,) in ws.iter_rows(min_row=2, min_col=i, max_col=i):
                if isinstance(cell.value, (int, float)):
                    cell.number_format = fmt
    ws.row_dimensions[1].height = 48
    ws.freeze_panes = "A2"
    print_layout(ws)


HISTORY_LABEL = "Gồm số liệu các đơn vị trước sắp xếp"
HISTORY_SHEET = "Đơn vị tiền thân"
HISTORY_HEADERS = ["Mã", "Đơn vị", "Từ ngày", "Đến ngày", "Số phiếu tính", "Hài lòng", "Tỷ lệ hài lòng", "Chỉ số hài lòng (0–100)",
                   "Cộng vào số liệu", "Ghi chú"]


def history_values(focus: str, history: dict) -> list[list]:
    """``Report.history`` as sheet rows: the unit's own line, each predecessor (a partial one shown
    whole, not added), the old units added through the units below, the total."""
    def counts(s: Score) -> list:
        return [s.n, s.satisfied, _share(s.headline_share), _index(s.index)]
    rows = [[focus, "Của chính đơn vị (cơ cấu hiện hành)", "", ""] + counts(history["own"]) + ["có", ""]]
    for p in history["rows"]:
        note = ""
        if p["partial"]:
            note = "một phần: phiếu không tách được theo phần, hiển thị nguyên vẹn, không cộng"
            if p["also_names"]:
                note += "; cũng sáp nhập vào: " + ", ".join(p["also_names"])
        rows.append([p["code"], p["name"], p["valid_from"], p["valid_to"] or ""] + counts(p["score"])
                    + ["có" if p["counted"] else "không", note])
    if history["below"]:
        rows.append(["", f"Các đơn vị cũ khác, cộng qua đơn vị trực thuộc ({history['below']['units']} đơn vị)", "", ""]
                    + counts(history["below"]["score"]) + ["có", ""])
    rows.append(["", "Cộng (gồm các đơn vị trước sắp xếp)", "", ""] + counts(history["total"]) + ["", ""])
    return rows


GROUP_HEADERS = ["Lĩnh vực thủ tục", "Mã lĩnh vực", "Số phiếu tính", "Hài lòng", "Tỷ lệ hài lòng", "Chỉ số hài lòng (0–100)",
                 "Cận dưới Wilson 95%", "Cận trên Wilson 95%", "Ghi chú"]


def group_values(row: dict, min_answers: int) -> list:
    """One procedure group's line (``Report.procedure_groups``): the sheet's and the CSV's columns."""
    s: Score = row["score"]
    return [row["label"]["vi"], row["code"] or "", s.n, s.satisfied, _share(s.headline_share),
            _index(s.index), _share(s.low), _share(s.high),
            "" if s.n >= min_answers else NOT_ENOUGH]


REASON_HEADERS = ["Câu hỏi", "Lý do", "Mã lý do", "Số phiếu"]


def reason_values(reasons: list[dict]) -> list[list]:
    """``Report.reasons`` as sheet rows: each question's options chosen, then "Không nêu lý do"."""
    rows = []
    for r in reasons:
        question = r["text"].vi
        rows.extend([question, o["label"].vi if o["label"] else o["id"], o["id"], o["n"]] for o in r["options"])
        if r["no_reason"] is not None:
            rows.append([question, NO_REASON.vi, "", r["no_reason"]])
    return rows


def xlsx(report: Report, focus: str, *, officers: list[dict] | None = None, recognition: list[dict] | None = None,
         groups: list[dict] | None = None, reasons: list[dict] | None = None, points: list[dict] | None = None,
         history: dict | None = None, title: str = "", official_measure=None, questions: list[dict] | None = None,
         comment_list=None, comment_officers: bool = False) -> bytes:
    wb = Workbook()
    summary = wb.active
    summary.title = "Tổng hợp"
    focus_row = report.unit_row(focus)
    s = focus_row["score"]
    w = report.window
    structure = report.structure()
    made = province_now(report.settings)
    document_frame(summary, report, "BÁO CÁO KẾT QUẢ KHẢO SÁT SỰ HÀI LÒNG CỦA NGƯỜI DÂN, DOANH NGHIỆP",
                   f"{title or focus_row['name']} · {w.start:%d/%m/%Y} – {w.end:%d/%m/%Y}", made, columns=4)
    summary.append([])
    lines = [("Đơn vị", f"{focus_row['name']} ({focus})"),
             ("Thời gian", f"{w.start:%d/%m/%Y} – {w.end:%d/%m/%Y}"),
             ("Đợt khảo sát", w.campaign["name"] if w.campaign else ""),
             ("Kênh", report.filters.channel or "kiosk + QR"),
             ("Số phiếu tính", s.n), ("Tỷ lệ hài lòng", _share(s.headline_share)), ("Chỉ số hài lòng (0–100)", _index(s.index)),
             (COMPARABLE_HEADER, _index(s.comparable_index)),
             ("Phiếu bị loại (lạm dụng)", s.flagged.get("misuse", 0)),
             (FOLLOWUPS_LEFT, s.followups_left),
             ("Tính cả phiếu lạm dụng", "có" if report.filters.include_misuse else "không"),
             (HISTORY_LABEL, "có" if report.filters.history else "không"),
             ("Cơ cấu đơn vị", structure["text"].vi if structure else f"Theo cơ cấu đơn vị hành chính ngày {w.end:%d/%m/%Y}"),
             ("Số phiếu tối thiểu để xếp hạng", report.settings.report_min_answers),
             ("Ngưỡng công nhận: chỉ số", report.settings.recognition_min_index),
             ("Ngưỡng công nhận: số phiếu", report.settings.recognition_min_answers),
             ("Lập lúc", f"{made:%d/%m/%Y %H:%M} (giờ {report.settings.time_zone})")]
    for k, v in lines:
        _xlsx_append(summary, [k, v])
        row = summary.max_row
        summary.cell(row, 1).font = Font(bold=True)
        summary.cell(row, 1).alignment = Alignment(wrap_text=True, vertical="top")
        summary.cell(row, 2).alignment = Alignment(wrap_text=True, vertical="top", horizontal="left")
        summary.merge_cells(start_row=row, start_column=2, end_row=row, end_column=4)
        if len(k) > 36 or len(str(v)) > 90:  # LibreOffice keeps a row's height: give a wrapped line its second line
            summary.row_dimensions[row].height = 30
        fmt = number_format(k)
        if fmt and isinstance(v, (int, float)):
            summary.cell(row, 2).number_format = fmt
    summary.append([])
    _xlsx_append(summary, ["Tiêu chí", "Chỉ số (0–100)", "Tỷ lệ hài lòng"])
    for i, cell in enumerate(summary[summary.max_row][:3]):
        cell.font, cell.fill = Font(bold=True), HEAD_FILL
        cell.alignment = Alignment(horizontal="right" if i else "left")
    for c in s.criteria:
        _xlsx_append(summary, [c["label"].vi if c["label"] else c["id"], _index(c["index"]), _share(c["share"])])
        summary.cell(summary.max_row, 2).number_format = "0.0"
        summary.cell(summary.max_row, 3).number_format = "0.0%"
    signature_block(summary, report.settings, columns=4)
    for letter, width in (("A", 38), ("B", 34), ("C", 26), ("D", 30)):
        summary.column_dimensions[letter].width = width
    print_layout(summary, one_page=True, title_rows=None)
    names = report.tree.units
    for level, rows in report_rows(report, focus)[1:]:
        sheet_title = dict(LEVEL_SHEETS)[level]
        crit = _criteria(report, rows)
        values = []
        for row in rows:
            by = {c["id"]: c["index"] for c in row["score"].criteria}
            parent = names.get(row["parent_code"], {}).get("name")
            values.append(unit_values(row, parent) + [None if by.get(cid) is None else round(by[cid], 2) for cid, _ in crit])
        _sheet(wb, sheet_title, UNIT_HEADERS + [f"Tiêu chí: {label}" for _, label in crit], values)
    if points is not None:
        _sheet(wb, POINTS_SHEET, POINT_HEADERS,
               [point_values(p, names.get(p["parent_code"], {}).get("name")) for p in points])
    if history is not None:
        _sheet(wb, HISTORY_SHEET, HISTORY_HEADERS, history_values(focus, history))
    if official_measure is not None:
        official_sheet(wb, official_measure)
        official_detail_sheet(wb, official_measure)
    if questions is not None:
        labels = {c["id"]: c["label"].vi if c["label"] else c["id"] for c in s.criteria}
        _sheet(wb, QUESTIONS_SHEET, QUESTION_HEADERS, question_values(questions, labels))
    if groups is not None:
        _sheet(wb, "Theo lĩnh vực", GROUP_HEADERS, [group_values(g, report.settings.report_min_answers) for g in groups])
    if reasons is not None:
        _sheet(wb, "Lý do", REASON_HEADERS, reason_values(reasons))
    if officers is not None:
        _sheet(wb, "Cán bộ", ["Xếp hạng", "Trên tổng số", "Mã", "Cán bộ", "Đơn vị", "Số phiếu tính", "Hài lòng", "Tỷ lệ hài lòng",
                              "Chỉ số hài lòng (0–100)", "Cận dưới Wilson 95%", "Cận trên Wilson 95%", "Ghi chú"],
               [[o["rank"], o["of"], o["code"], o["name"], names.get(o["unit_code"], {}).get("name", o["unit_code"]), o["score"].n,
                 o["score"].satisfied, _share(o["score"].headline_share), _index(o["score"].index),
                 _share(o["score"].low), _share(o["score"].high), "" if o["enough"] else NOT_ENOUGH] for o in officers])
    if recognition is not None:
        recognition_sheet(wb, report, recognition)
    if comment_list is not None:
        comments_sheet(wb, comment_list, officers=comment_officers)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


RECOGNITION_SHEET = "Công nhận"
COMPARABLE_HEADER = "Chỉ số so sánh được (0–100)"
#: The one sentence that says what recognition judges on (the page says it too; docs/results.md).
COMPARABLE_BASIS = ("Chỉ số so sánh được: trung bình điểm (0–100) của câu hỏi chung về mức độ hài lòng, câu mọi kiosk và "
                    "phiếu điện thoại đều hỏi; không gồm các câu hỏi theo tiêu chí, vì chỉ một số kiosk hỏi các câu đó.")
QUESTIONS_SHEET = "Theo câu hỏi"
QUESTION_HEADERS = ["Câu hỏi", "Tiêu chí", "Số phiếu trả lời", "Chỉ số (0–100)", "Tỷ lệ hài lòng", "Số điểm có hỏi",
                    "Trên số điểm có phiếu", "So sánh được giữa các điểm"]


def question_values(rows: list[dict], criteria: dict[str, str]) -> list[list]:
    """``Report.question_coverage`` as sheet rows: each question's n where asked, and at how many points."""
    out = []
    for q in rows:
        label = (q["label"].vi if q["label"] else q["id"]) + (" (câu hỏi chung)" if q["headline"] else "")
        out.append([label, criteria.get(q["criterion"], q["criterion"]), q["answers"], _index(q["index"]), _share(q["share"]),
                    q["points"], q["of"], "có" if q["comparable"] else "không: chỉ hỏi ở một số điểm"])
    return out


COMMENTS_SHEET = "Góp ý"
COMMENT_SOURCES = {"form": "Phiếu điện thoại (QR)", "link": "Góp ý sau đánh giá tại kiosk"}


def comment_values(found, *, officers: bool) -> tuple[list[str], list[list]]:
    """The headers and rows of the "Góp ý" sheet from :func:`sync_server.comments.export_comments`; the
    officer's name only for a viewer who may see officers."""
    headers = ["Thời gian", "Mã đơn vị", "Đơn vị", "Điểm tiếp nhận", "Nguồn", "Mức đánh giá"] + (["Cán bộ"] if officers else []) + ["Nội dung"]
    rows = []
    for c in found.items:
        rows.append([c.at, c.unit_code, c.unit_name or c.unit_code, c.site_name or "", COMMENT_SOURCES.get(c.source, c.source),
                     c.level_label or "chưa có phiếu đánh giá"] + ([c.officer_name or ""] if officers else []) + [c.text])
    return headers, rows


def comments_sheet(wb: Workbook, found, *, officers: bool) -> None:
    """Citizens' visible comments of the window, newest first; the hidden ones counted under the table."""
    headers, rows = comment_values(found, officers=officers)
    _sheet(wb, COMMENTS_SHEET, headers, rows)
    ws = wb[COMMENTS_SHEET]
    ws.column_dimensions[get_column_letter(len(headers))].width = 60
    for (cell,) in ws.iter_rows(min_row=2, min_col=len(headers), max_col=len(headers)):
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws.append([])
    _xlsx_append(ws, [f"Ý kiến đã ẩn (không đưa vào bảng): {found.hidden}"])


def recognition_sheet(wb: Workbook, report: Report, rows: list[dict]) -> None:
    """The friendly-government recognition list as a document to sign: the frame (issuer, national
    name, number, place and date, title), the thresholds, one line per commune by result (passed, not
    passed, not enough answers) with its reason, the counts, the signature blocks."""
    ws = wb.create_sheet(RECOGNITION_SHEET)
    campaign = report.window.campaign
    earlier = [t["campaign"]["name"] for t in rows[0]["trend"]] if rows else []
    headers = (["STT", "Mã", "Xã, phường, thị trấn", "Thuộc", "Số phiếu tính", COMPARABLE_HEADER, "Kết quả", "Lý do",
                "Phiếu điện thoại không có mã hồ sơ", "Trong đó được tính"] + [f"Chỉ số {name}" for name in earlier])
    columns = len(headers)
    document_frame(ws, report, "DANH SÁCH XÃ, PHƯỜNG ĐƯỢC CÔNG NHẬN \"CHÍNH QUYỀN THÂN THIỆN\"",
                   f"{campaign['name'] if campaign else ''} ({report.window.start:%d/%m/%Y} – {report.window.end:%d/%m/%Y})",
                   province_now(report.settings), columns=columns)
    s = report.settings
    _xlsx_append(ws, [f"Ngưỡng công nhận: chỉ số từ {s.recognition_min_index:g} và ít nhất {s.recognition_min_answers} phiếu tính. "
                      f"Đạt: {sum(r['passes'] for r in rows)} / {len(rows)}; chưa đủ số phiếu để đánh giá: "
                      f"{sum(r['status'] == 'not_enough' for r in rows)}."])
    ws.merge_cells(start_row=ws.max_row, start_column=1, end_row=ws.max_row, end_column=columns)
    _xlsx_append(ws, [COMPARABLE_BASIS])
    ws.merge_cells(start_row=ws.max_row, start_column=1, end_row=ws.max_row, end_column=columns)
    ws.cell(ws.max_row, 1).alignment = Alignment(wrap_text=True, vertical="top")
    ws.row_dimensions[ws.max_row].height = 30
    ws.append([])
    header_row = ws.max_row + 1
    _xlsx_append(ws, headers)
    for cell in ws[header_row]:
        cell.font, cell.fill = Font(bold=True), HEAD_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws.row_dimensions[header_row].height = 45
    for i, r in enumerate(rows, 1):
        _xlsx_append(ws, [i, r["code"], r["name"], r["parent"] or "", r["score"].n, _index(r["score"].comparable_index),
                          RECOGNITION_STATUS[r["status"]].vi, r["reason"].vi, r.get("phone_without_token", 0),
                          r.get("phone_counted", 0)] + [_index(t["index"]) for t in r["trend"]])
        row = ws.max_row
        ws.cell(row, 6).number_format = "0.0"
        for col in range(11, columns + 1):
            ws.cell(row, col).number_format = "0.0"
    for i, h in enumerate(headers, 1):
        ws.column_dimensions[get_column_letter(i)].width = {1: 6, 2: 8, 3: 28, 4: 24, 7: 16, 8: 34}.get(i, 12)
    signature_block(ws, s, columns=columns)
    ws.freeze_panes = ws.cell(header_row + 1, 1).coordinate
    print_layout(ws, title_rows=f"{header_row}:{header_row}")


OFFICIAL_SHEET = "QĐ 766"
OFFICIAL_HEADERS = ["Mã", "Đơn vị", "Số hồ sơ", "Trễ hạn", "Tỷ lệ trễ hạn", "Đánh giá không hài lòng", "Có phản ánh, kiến nghị",
                    "Không hài lòng hoặc có PAKN", "Tỷ lệ không hài lòng hoặc có PAKN", "Hồ sơ được đánh giá",
                    "Tỷ lệ hồ sơ được đánh giá", "Tỷ lệ hài lòng (QĐ 766)", "Điểm"]


def official_values(code: str, name: str, f, m) -> list:
    """One line of the QĐ 766 sheet: counts, shares as fractions (formatted as percent), the points. A figure
    hidden for this viewer (``official_privacy``) says "ít hơn k" where it rests on ratings."""
    share = (lambda n: n / f.dossiers) if f.dossiers else (lambda n: None)
    points = f.points(m.points_max, m.full_ratio)
    if f.hidden:
        fewer = _fewer(m)
        return [code, name, f.dossiers, f.late, share(f.late), fewer, f.complaints, fewer, fewer, fewer, fewer, fewer, fewer]
    return [code, name, f.dossiers, f.late, share(f.late), f.dislikes, f.complaints, f.disliked_or_complained,
            share(f.disliked_or_complained), f.rated, share(f.rated), None if f.ratio is None else round(f.ratio / 100, 4),
            None if points is None else round(points, 2)]


def _fewer(m) -> str:
    return f"ít hơn {m.min_cell}"


def official_sheet(wb: Workbook, m) -> None:
    """The QĐ 766 item 5.4 per unit with dossiers in the window (sync_server.results.official), the total,
    then the rule, its settings and the notes (nothing before 1 July 2025; Pmax unverified)."""
    rows = [official_values(u.code, u.name, u.figures, m) for u in m.units if u.figures.dossiers]
    rows.append(official_values("", "Cộng", m.total.figures, m))
    _sheet(wb, OFFICIAL_SHEET, OFFICIAL_HEADERS, rows)
    ws = wb[OFFICIAL_SHEET]
    for (cell,) in ws.iter_rows(min_row=2, min_col=12, max_col=12):
        cell.font = Font(bold=True)
    # Narrow number columns under wrapped headers, so the sheet fits an A4 page's width in print.
    ws.row_dimensions[1].height = 45
    for i, header in enumerate(OFFICIAL_HEADERS, 1):
        letter = get_column_letter(i)
        ws.column_dimensions[letter].width = {1: 8, 2: 30}.get(i, 12.5)
        ws.cell(row=1, column=i).alignment = Alignment(wrap_text=True, vertical="top", horizontal="center" if i > 2 else "left")
        if header == "Điểm":
            for (cell,) in ws.iter_rows(min_row=2, min_col=i, max_col=i):
                cell.number_format = "0.00"
    ws.append([])
    window = f"{m.date_from:%d/%m/%Y} – {m.date_to:%d/%m/%Y}"
    last = get_column_letter(len(OFFICIAL_HEADERS))
    for line in (f"Kỳ: {window}" + (f" (tính từ {m.measured_from:%d/%m/%Y})" if m.measured_from and m.measured_from != m.date_from else ""),
                 f"Tỷ lệ = 100 % − (% hồ sơ trễ hạn + % hồ sơ không hài lòng hoặc có PAKN); từ {m.full_ratio:g} % đạt "
                 f"{m.points_max:g} điểm, dưới đó điểm = tỷ lệ × {m.points_max:g} ÷ {m.full_ratio:g} %.",
                 "Chỉ tính phiếu gắn mã hồ sơ; mỗi hồ sơ một phiếu (phiếu nhận trước).",
                 f"Phiếu không gắn mã hồ sơ (không tính): {sum(m.total.without_dossier.values())}; "
                 f"phiếu có mã không có trong sổ hồ sơ: {sum(m.total.not_in_register.values())}.",
                 *([OFFICIAL_MIN_CELL_NOTE.format(k=m.min_cell)] if m.min_cell else []),
                 *m.notes):
        _xlsx_append(ws, ["", line])
        row = ws.max_row
        ws.merge_cells(f"B{row}:{last}{row}")  # the note stays inside the printed width
        ws.cell(row=row, column=2).alignment = Alignment(wrap_text=True, vertical="top")


OFFICIAL_MIN_CELL_NOTE = ("Số liệu dựa trên ít hơn {k} hồ sơ được đánh giá (và số liệu có thể suy ra từ tổng) ghi "
                          "“ít hơn {k}”, để bảo vệ người đánh giá (cài đặt official_min_cell).")
OFFICIAL_DETAIL_SHEET = "QĐ 766 chi tiết"
OFFICIAL_DETAIL_HEADERS = ["Mã", "Đơn vị", "Theo", "Nhóm", "Số hồ sơ", "Trễ hạn", "Tỷ lệ trễ hạn", "Không hài lòng hoặc có PAKN",
                           "Tỷ lệ không hài lòng hoặc có PAKN", "Hồ sơ được đánh giá", "Tỷ lệ hồ sơ được đánh giá",
                           "Tỷ lệ hài lòng (QĐ 766)", "Điểm"]


def official_detail_values(m) -> list[list]:
    """The QĐ 766 figures of each unit with dossiers by site, field and month, then the reconciliation of the
    register against the dossiers rated per site and counter; hidden figures as on the main sheet."""
    def line(u, by: str, group: str, f) -> list:
        v = official_values(u.code, u.name, f, m)
        return [u.code, u.name, by, group, *v[2:5], *v[7:]]

    def order(value) -> tuple:
        return (value is None, value if value is not None else "")
    rows = []
    for u in m.units:
        if not u.figures.dossiers:
            continue
        rows += [line(u, "Điểm tiếp nhận", m.sites.get(k, str(k)) if k is not None else "Không ghi", f)
                 for k, f in sorted(u.by_site.items(), key=lambda kv: order(kv[0])) if any(u.by_site)]  # none named: no lines
        rows += [line(u, "Lĩnh vực", k or "Không ghi", f) for k, f in sorted(u.by_field.items(), key=lambda kv: order(kv[0]))]
        rows += [line(u, "Tháng", f"{k[5:7]}/{k[:4]}", f) for k, f in sorted(u.by_month.items())]
        for (site, counter), f in sorted(u.by_counter.items(), key=lambda kv: (order(kv[0][0]), order(kv[0][1]))):
            where = f"{m.sites.get(site, str(site)) if site is not None else 'Không ghi điểm'} · quầy {counter or 'không ghi'}"
            share = None if f.hidden or not f.dossiers else f.rated / f.dossiers
            rows.append([u.code, u.name, "Đối chiếu theo quầy", where, f.dossiers, None, None, None, None,
                         _fewer(m) if f.hidden else f.rated, _fewer(m) if f.hidden else share, None, None])
    return rows


def official_detail_sheet(wb: Workbook, m) -> None:
    """"QĐ 766 chi tiết": per unit by site, field, month, and the register against the dossiers rated per counter."""
    _sheet(wb, OFFICIAL_DETAIL_SHEET, OFFICIAL_DETAIL_HEADERS, official_detail_values(m))
    ws = wb[OFFICIAL_DETAIL_SHEET]
    ws.row_dimensions[1].height = 45
    for i, header in enumerate(OFFICIAL_DETAIL_HEADERS, 1):
        ws.column_dimensions[get_column_letter(i)].width = {1: 8, 2: 24, 3: 14, 4: 24}.get(i, 11)
        ws.cell(row=1, column=i).alignment = Alignment(wrap_text=True, vertical="top", horizontal="center" if i > 4 else "left")
        if header == "Điểm":
            for (cell,) in ws.iter_rows(min_row=2, min_col=i, max_col=i):
                cell.number_format = "0.00"
    if m.min_cell:
        ws.append([])
        _xlsx_append(ws, ["", OFFICIAL_MIN_CELL_NOTE.format(k=m.min_cell)])


def _vi_cell(value, header: str):
    """A CSV cell for Excel in a Vietnamese locale: decimal comma; shares and Wilson bounds as percents
    ("72,7%"), which Excel reads as numbers; whole numbers as they are."""
    if isinstance(value, bool) or not isinstance(value, float):
        return value
    fmt = number_format(header)
    if fmt == "0.0%":
        return f"{value * 100:.1f}%".replace(".", ",")
    digits = 2 if fmt == "0.00" else 1
    return f"{value:.{digits}f}".replace(".", ",")


def report_csv(report: Report, focus: str, *, machine: bool = False) -> str:
    """One table: every unit of the report (focus first, then each level), the same columns as the XLSX,
    then every service point of the focus's subtree (``Cấp`` = ``điểm tiếp nhận``: ``Mã`` its unit's
    code, ``Tên`` the site, the parent column its unit; ranked among the points), then the focus unit by
    procedure group (``Cấp`` = ``lĩnh vực``).

    By default for Excel in a Vietnamese locale (issue 15): UTF-8 with a BOM, ``;`` between cells,
    decimal commas, shares as percents, ``Cấp`` in Vietnamese. ``machine``: the plain form for programs
    (no BOM, ``,``, decimal points, shares as fractions, ``Cấp`` as codes: province, district, commune, …);
    the same rounding as shown either way."""
    out = io.StringIO()
    w = csv.writer(out, delimiter="," if machine else ";")
    headers = ["Cấp"] + UNIT_HEADERS

    def row(level: str, values: list) -> None:
        label = level if machine else LEVEL_NAMES.get(level, CSV_LEVELS.get(level, level))
        cells = [label] + values
        _csv_row(w, cells if machine else [_vi_cell(v, h) for v, h in zip(cells, headers)])

    _csv_row(w, headers)
    names = report.tree.units
    for level, rows in report_rows(report, focus):
        for r in rows:
            row(r["level"], unit_values(r, names.get(r["parent_code"], {}).get("name")))
    for p in report.points(focus):
        name = p["name"] + (" (đã đóng)" if p["closed"] else "")
        row("điểm tiếp nhận", unit_values(dict(p, name=name), p["unit_name"]))
    # The focus unit by procedure group, in the same columns: Cấp "lĩnh vực", Mã the group's code.
    focus_name = names[focus]["name"]
    for g in report.procedure_groups(focus):
        r = {"code": g["code"] or "", "name": g["label"]["vi"], "score": g["score"], "rank": None,
             "enough": g["score"].n >= report.settings.report_min_answers}
        row("lĩnh vực", unit_values(r, focus_name))
    return out.getvalue() if machine else "\ufeff" + out.getvalue()  # a BOM, so Excel opens the Vietnamese text as UTF-8


ANSWER_HEADERS = ["server_seq", "id", "unit_code", "officer_id", "questionnaire_id", "questionnaire_version", "channel",
                  "seq", "created_at", "received_at", "clock_suspect", "flags", "answers", "procedure_group", "site_id"]


def answers_csv_chunks(storage, scope: set[str] | None, page: int = 5000, *, officers: bool = True,
                       days: tuple[str, str] | None = None):
    """Raw answers within scope, in server order, as CSV text chunks (streamed); with ``days`` (first and
    last ISO day, inclusive), only the answers given on those days by the device's own date (its
    ``created_at`` carries the province's offset).

    ``officers=False`` (a role without officer results) drops the ``officer_id`` column: who served
    whom is personnel evaluation, and a blank column would read as "no officer signed in".
    """
    import orjson

    headers = [h for h in ANSWER_HEADERS if officers or h != "officer_id"]
    buf = io.StringIO()
    w = csv.writer(buf)
    _csv_row(w, headers)
    yield "\ufeff" + buf.getvalue()
    since = 0
    while True:
        rows, last = answers_in_scope(storage, scope, since, page)
        if last is None:
            return
        buf = io.StringIO()
        w = csv.writer(buf)
        for a in rows:
            if days is not None and not days[0] <= a["created_at"][:10] <= days[1]:
                continue
            values = [a["server_seq"], a["id"], a["unit_code"], a["officer_id"], a["questionnaire_id"],
                      a["questionnaire_version"], a["channel"], a["seq"], a["created_at"], a["received_at"],
                      int(a["clock_suspect"]), " ".join(a["flags"]), orjson.dumps(a["answers"]).decode(), a["procedure_group"],
                      a["site_id"]]
            if not officers:
                del values[3]
            _csv_row(w, values)
        yield buf.getvalue()
        since = last


def build_xlsx(state, report: Report, focus: str, role: str | None) -> bytes:
    """The full report of ``focus`` as XLSX (shared by the page, the CLI and the benchmark)."""
    officers = report.officers(focus) if role in OFFICER_ROLES else None
    recognition = None
    if report.window.campaign is not None:
        recognition = report.recognition(report.window.campaign, report.earlier_campaigns(state, report.window.campaign))
    try:
        measured = official_privacy.measure_for(state.storage, state.settings, report.window.start, report.window.end,
                                                None if focus == report.tree.root() else focus, role, refresh=False)
    except official.OfficialError:
        measured = None
    found = comments.export_comments(state.storage, state.settings, state.questionnaires(), role=role or "", scope=report.scope,
                                     day_from=report.window.start, day_to=report.window.end,
                                     unit=None if focus == report.tree.root() else focus)
    return xlsx(report, focus, officers=officers, recognition=recognition, groups=report.procedure_groups(focus),
                reasons=report.reasons(focus), points=report.points(focus),
                history=report.history(focus) if report.filters.history else None, official_measure=measured,
                questions=report.question_coverage(focus), comment_list=found, comment_officers=role in OFFICER_ROLES)
