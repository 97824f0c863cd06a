"""The dossier code (mã hồ sơ) a rating may carry: what both sides accept (issue 14).

The one-stop information system prints it on the receipt (giấy tiếp nhận hồ sơ và hẹn trả kết
quả, Mẫu 01 of Thông tư 03/2025/TT-VPCP), often as a QR code; a scanner, a counter system or the
receipt's phone link brings it to the answer. Codes differ between provinces' systems
("000.00.24.H06-250701-0001", "H24.22-250701-000123"), so the protocol accepts any short printable
code of letters, digits and ``. _ / -``; a unit's own pattern (a setting) narrows it where the
code is read, so a citizen is told at once when a scan is not a receipt.
"""

from __future__ import annotations

import re

DOSSIER_CODE_MAX = 64
DOSSIER_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")


def valid_dossier_code(value: object) -> bool:
    """True for a code the protocol accepts (at most 64 characters, no spaces)."""
    return isinstance(value, str) and DOSSIER_CODE_RE.match(value) is not None


def normalise_dossier_code(value: str) -> str:
    """The code as stored and matched: surrounding white space removed, letters upper-cased
    (receipts and registers differ in case; the code's own characters never do)."""
    return value.strip().upper()


def matches_pattern(code: str, pattern: str | None) -> bool:
    """A unit's pattern (a regular expression, whole match) accepts ``code``; no pattern accepts any
    valid code. A pattern that does not compile accepts any valid code (a setting's typo must not
    stop citizens rating)."""
    if not valid_dossier_code(code):
        return False
    if not pattern:
        return True
    try:
        return re.fullmatch(pattern, code) is not None
    except re.error:
        return True
