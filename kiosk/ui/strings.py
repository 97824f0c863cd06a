"""Every user-visible string of the kiosk, in Vietnamese and English, in one place.

Vietnamese is the default; the English toggle comes later. Questionnaire texts (the question and
the level labels) are not here: they come with the questionnaire data from the province.
"""

from __future__ import annotations

DEFAULT_LANG = "vi"

STRINGS: dict[str, dict[str, str]] = {
    "vi": {
        "window_title": "Hài Lòng — Đánh giá sự hài lòng",
        "unit_fallback": "Bộ phận tiếp nhận và trả kết quả",
        "tap_hint": "Xin mời chạm vào một khuôn mặt",
        "thanks_title": "Cảm ơn Ông/Bà!",
        "thanks_body": "Ý kiến của Ông/Bà đã được ghi nhận.",
        "thanks_footer": "Ý kiến được ghi nhận ẩn danh, giúp chúng tôi phục vụ tốt hơn.",
        "error_title": "Xin lỗi, tạm thời không ghi nhận được ý kiến của Ông/Bà.",
        "error_body": "Xin Ông/Bà vui lòng báo cán bộ tại quầy. Chúng tôi rất tiếc vì sự bất tiện này.",
    },
    "en": {
        "window_title": "Hài Lòng — Satisfaction survey",
        "unit_fallback": "One-stop service counter",
        "tap_hint": "Please tap a face",
        "thanks_title": "Thank you!",
        "thanks_body": "Your feedback has been recorded.",
        "thanks_footer": "Feedback is anonymous and helps us serve you better.",
        "error_title": "Sorry, we cannot record your feedback right now.",
        "error_body": "Please tell the officer at the counter. We apologise for the inconvenience.",
    },
}


def tr(key: str, lang: str = DEFAULT_LANG) -> str:
    """The string ``key`` in ``lang``, falling back to Vietnamese (never a bare key on screen)."""
    return STRINGS.get(lang, {}).get(key) or STRINGS[DEFAULT_LANG][key]
