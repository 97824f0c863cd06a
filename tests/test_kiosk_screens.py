"""The kiosk's screens on real panels: sizes in millimetres, large text, the thank-you that serves,
the grave-reason confirmation, progress, and the idle-reset warning. Real widgets, offscreen."""

import copy
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from hailong_core.questionnaire import QuestionnaireError, load_default_questionnaire, parse_questionnaire  # noqa: E402
from kiosk import settings as kiosk_settings  # noqa: E402
from kiosk.ui import style  # noqa: E402
from kiosk.ui.questions import FollowUpScreen  # noqa: E402
from kiosk.ui.screens import QR_MM, ThankYouScreen  # noqa: E402
from kiosk.ui.screenshots import measure, panel_dpi  # noqa: E402
from kiosk.ui.start import PHOTO_MM, StartScreen  # noqa: E402
from kiosk.ui.strings import tr  # noqa: E402
from kiosk.ui.widgets import ResetBanner  # noqa: E402

LEFT = Qt.MouseButton.LeftButton
SIZES = ((1280, 800), (800, 1280), (1920, 1080))
UNIT = "Trung tâm phục vụ hành chính công phường Bắc Giang — Quầy 3"
SESSION = {"officer_id": "cb-01", "name": "Nguyễn Thị Hoa", "signed_in_at": "2031-03-03T09:00:00+07:00", "counter": "3"}
OFFICER = {"id": "cb-01", "name": "Nguyễn Thị Hoa", "title": "Công chức Tư pháp – Hộ tịch"}
LINK = "https://hailong.bacgiang.gov.vn/s/7201?r=0f5c2a4e-8d0b-4c1e-9a57-3b2f6d1e7a90"


@pytest.fixture(scope="module")
def questionnaire():
    return load_default_questionnaire()


def on_panel(qtbot, screen, size):
    """``screen`` as the whole window of the panel that ``size`` stands for (see screenshots.PANELS)."""
    qtbot.addWidget(screen)
    style.set_display(screen, screen_dpi=panel_dpi(size)[0])
    screen.resize(*size)
    screen.show()
    qtbot.waitExposed(screen)
    return screen


def settled(qtbot, screen):
    """Once the new faces or chips are shown and laid out (Qt does both on the next event loop round)."""
    qtbot.waitUntil(lambda: all(w.isVisible() for w in screen.faces() + (screen.chips() if hasattr(screen, "chips") else [])),
                    timeout=2000)
    for _ in range(3):  # nested layouts settle one level per round of posted layout requests
        screen.layout().activate()
        QApplication.processEvents()
    return screen


def large(qtbot, screen, on: bool) -> dict:
    screen.set_text_scale(style.LARGE_TEXT if on else 1.0)
    settled(qtbot, screen)
    return measure(screen)


# --- millimetres -----------------------------------------------------------------------------------

def test_px_per_mm_follows_the_settings_then_the_screen(qtbot):
    screen = StartScreen()
    qtbot.addWidget(screen)
    style.set_display(screen, screen_dpi=149.45)
    assert style.display_dpi(screen) == (149.45, "setting screen_dpi")
    assert style.min_touch_px(screen) == 89  # 15 mm at 149.45 ppi, rounded up
    style.set_display(screen, screen_diagonal_in=10.1)
    dpi, source = style.display_dpi(screen)
    assert source == "setting screen_diagonal_in" and dpi > 0
    style.set_display(screen)  # neither: the screen's own report (offscreen says 100 ppi), else 96
    assert style.display_dpi(screen)[1] in ("screen report", "fallback")
    assert style.mm(screen, 25.4) == pytest.approx(style.display_dpi(screen)[0])


def test_screen_dpi_settings_are_validated(tmp_path):
    assert kiosk_settings.load(tmp_path, screen_dpi=149.5).screen_dpi == 149.5
    assert kiosk_settings.load(tmp_path).screen_dpi is None and kiosk_settings.load(tmp_path).screen_diagonal_in is None
    with pytest.raises(ValueError, match="screen_dpi"):
        kiosk_settings.load(tmp_path, screen_dpi=5)
    with pytest.raises(ValueError, match="screen_diagonal_in"):
        kiosk_settings.load(tmp_path, screen_diagonal_in=500)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_start_screen_targets_and_faces_in_mm(qtbot, questionnaire, size):
    screen = on_panel(qtbot, StartScreen(), size)
    screen.set_content(UNIT, questionnaire.overall)
    screen.set_officer(SESSION, None, officer=OFFICER)
    normal = large(qtbot, screen, False)
    assert normal["target"][0] >= style.MIN_TOUCH_MM, normal["target"]
    assert normal["text"][0] >= style.MIN_CAP_MM, normal["text"]
    assert normal["photo"][0] >= PHOTO_MM - 0.2
    assert screen.height() == size[1]  # nothing pushed the window past the panel
    big = large(qtbot, screen, True)
    assert big["target"][0] >= style.MIN_TOUCH_MM, big["target"]
    assert big["face"][0] >= 25.0, big["face"]
    assert big["face"][0] > normal["face"][0], (normal["face"], big["face"])  # large text grows the faces too
    assert big["text"][0] > normal["text"][0]
    assert screen.height() == size[1]
    # Every face stays inside the window.
    for face in screen.faces():
        corner = face.mapTo(screen, QPoint(face.width(), face.height()))
        assert corner.x() <= size[0] and corner.y() <= size[1]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_follow_up_targets_in_mm_and_large_faces(qtbot, questionnaire, size):
    screen = on_panel(qtbot, FollowUpScreen(), size)
    screen.set_question(UNIT, questionnaire.question("why"), last=False, step=1, total=2)
    for on in (False, True):
        m = large(qtbot, screen, on)
        assert m["target"][0] >= style.MIN_TOUCH_MM, (on, m["target"])
        assert all(chip.mapTo(screen, QPoint(0, chip.height())).y() <= size[1] for chip in screen.chips())
    screen.set_question(UNIT, questionnaire.question("responsibility"), last=True, step=2, total=2)
    normal = large(qtbot, screen, False)
    big = large(qtbot, screen, True)
    assert normal["target"][0] >= style.MIN_TOUCH_MM and big["target"][0] >= style.MIN_TOUCH_MM
    assert big["face"][0] >= 25.0 and big["face"][0] > normal["face"][0]


def test_portrait_faces_use_the_height_in_two_rows(qtbot, questionnaire):
    screen = on_panel(qtbot, StartScreen(), (800, 1280))
    screen.set_content(UNIT, questionnaire.overall)
    settled(qtbot, screen)
    rows = sorted({face.mapTo(screen, QPoint(0, 0)).y() for face in screen.faces()})
    assert len(rows) == 2  # 3 + 2
    assert style.cap_height_mm(screen, screen.faces()[0].label_font()) >= 3.0  # the words under the faces


def test_face_card_border_contrast_is_at_least_3_to_1():
    def luminance(hex_colour: str) -> float:
        channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    from kiosk.ui.faces import CARD_BORDER

    for against in (style.BACKGROUND, style.WHITE):
        lighter, darker = sorted((luminance(CARD_BORDER.name()), luminance(against)), reverse=True)
        assert (lighter + 0.05) / (darker + 0.05) >= 3.0


# --- officer strip ---------------------------------------------------------------------------------

def test_duty_strip_shows_title_and_counter_and_a_small_officer_icon(qtbot, questionnaire):
    screen = on_panel(qtbot, StartScreen(), (1280, 800))
    screen.set_content(UNIT, questionnaire.overall)
    screen.set_officer(SESSION, None, officer=OFFICER)
    settled(qtbot, screen)
    duty = screen.duty
    assert duty.officer_label.text() == "Nguyễn Thị Hoa"
    assert duty.title_label.text() == OFFICER["title"] and duty.title_label.isVisible()
    assert duty.counter_label.text() == "Quầy 3"
    button = duty.officer_button
    assert style.to_mm(button, min(button.width(), button.height())) >= style.MIN_TOUCH_MM
    assert button.width() < duty.vi_button.width()  # an icon, not the biggest button on the screen
    with qtbot.waitSignal(screen.sig_officer_pressed, timeout=1000):
        qtbot.mouseClick(button, LEFT)
    screen.set_officer(None)
    assert duty.officer_label.text() == tr("no_officer") and not duty.avatar.isVisible()
    assert not duty.counter_label.isVisible() and not duty.title_label.isVisible()


# --- thank-you and apology -------------------------------------------------------------------------

def test_a_tap_on_the_qr_does_not_dismiss_but_elsewhere_does(qtbot):
    screen = on_panel(qtbot, ThankYouScreen(), (1280, 800))
    screen.set_thanks(LINK, apology=False, hotline=None)
    assert screen.qr.isVisible()
    assert style.to_mm(screen.qr, screen.qr.width()) >= max(30.0, QR_MM - 0.2)
    with qtbot.assertNotEmitted(screen.sig_tapped):
        qtbot.mouseClick(screen.qr, LEFT)
        qtbot.mouseClick(screen.qr, LEFT, pos=QPoint(3, 3))
    with qtbot.waitSignal(screen.sig_tapped, timeout=1000):
        qtbot.mouseClick(screen, LEFT, pos=QPoint(40, 40))


def test_the_tap_acts_on_release(qtbot):
    screen = on_panel(qtbot, ThankYouScreen(), (1280, 800))
    screen.set_link(None)
    with qtbot.assertNotEmitted(screen.sig_tapped):
        qtbot.mousePress(screen, LEFT, pos=QPoint(40, 40))
    with qtbot.waitSignal(screen.sig_tapped, timeout=1000):
        qtbot.mouseRelease(screen, LEFT, pos=QPoint(40, 40))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_apology_with_the_hotline_and_the_qr(qtbot, size):
    screen = on_panel(qtbot, ThankYouScreen(), size)
    screen.set_thanks(LINK, apology=True, hotline="0204 3 855 888")
    assert screen.title_label.text() == tr("apology_title")
    assert "thành thật xin lỗi" in screen.title_label.text() and "Ông/Bà" in screen.title_label.text()
    assert screen.hotline_label.isVisible()
    assert screen.hotline_label.text() == "Đường dây nóng: 0204 3 855 888"
    assert style.cap_height_mm(screen, screen.hotline_label.font()) >= 4.5  # large type
    assert screen.qr.isVisible() and screen.qr.text == LINK
    assert style.to_mm(screen.qr, screen.qr.width()) >= 30.0

    screen.set_thanks(None, apology=True, hotline=None)
    assert screen.title_label.text() == tr("apology_title")
    assert not screen.hotline_label.isVisible() and not screen.qr.isVisible()

    screen.set_thanks(LINK, apology=False, hotline="0204 3 855 888")  # a satisfied citizen: no hotline
    assert screen.title_label.text() == tr("thanks_title") and not screen.hotline_label.isVisible()
    screen.set_lang("en")
    screen.set_thanks(LINK, apology=True, hotline="0204 3 855 888")
    assert screen.title_label.text() == tr("apology_title", "en") and screen.hotline_label.text() == "Hotline: 0204 3 855 888"


def test_set_link_is_the_plain_thank_you(qtbot):
    screen = on_panel(qtbot, ThankYouScreen(), (1280, 800))
    screen.set_thanks(LINK, apology=True, hotline="1900")
    screen.set_link(LINK)
    assert screen.title_label.text() == tr("thanks_title") and screen.qr.isVisible() and not screen.hotline_label.isVisible()
    screen.set_link(None)
    assert not screen.qr.isVisible()


# --- follow-ups: progress and grave reasons --------------------------------------------------------

def test_progress_shows_only_with_more_than_one_follow_up(qtbot, questionnaire):
    screen = on_panel(qtbot, FollowUpScreen(), (1280, 800))
    screen.set_question(UNIT, questionnaire.question("why"), last=False, step=2, total=3)
    assert screen.progress_label.isVisible() and screen.progress_label.text() == "Câu 2/3"
    screen.set_lang("en")
    assert screen.progress_label.text() == "Question 2 of 3"
    screen.set_question(UNIT, questionnaire.question("why"), last=True, step=1, total=1)
    assert not screen.progress_label.isVisible()
    screen.set_question(UNIT, questionnaire.question("why"), last=True)  # the old call: no progress
    assert not screen.progress_label.isVisible()


def grave_chip(screen):
    return next(c for c in screen.chips() if c.option_id == "harassment")


def followup(qtbot, question, size=(1280, 800), **kwargs):
    """A follow-up screen whose grave confirmation reads a scripted clock (taps come "later")."""
    screen = on_panel(qtbot, FollowUpScreen(), size)
    now = [1000.0]
    screen.confirm.monotonic = lambda: now[0]
    screen.set_question(UNIT, question, **kwargs)
    settled(qtbot, screen)
    return screen, now


def test_the_default_questionnaire_marks_harassment_grave(questionnaire):
    grave = {o.id for o in questionnaire.question("why").options if o.grave}
    assert grave == {"harassment"}
    assert questionnaire.to_dict()["questions"][1]["options"][4]["grave"] is True


def test_grave_must_be_a_boolean(questionnaire):
    doc = questionnaire.to_dict()
    bad = copy.deepcopy(doc)
    bad["questions"][1]["options"][0]["grave"] = "yes"
    with pytest.raises(QuestionnaireError) as refused:
        parse_questionnaire(bad)
    assert refused.value.path == "questions[1].options[0].grave"
    good = copy.deepcopy(doc)
    good["questions"][1]["options"][0]["grave"] = False
    assert not parse_questionnaire(good).question("why").options[0].grave


def test_a_grave_reason_needs_the_second_step(qtbot, questionnaire):
    screen, now = followup(qtbot, questionnaire.question("why"), last=False)
    chip = grave_chip(screen)
    with qtbot.assertNotEmitted(screen.sig_selection_changed):
        qtbot.mouseClick(chip, LEFT)
    assert not chip.isChecked()
    now[0] += 1.0
    assert screen.confirming() == "harassment" and screen.confirm.isVisible()
    question = screen.confirm.question_label.text()
    assert question == f"Ông/Bà xác nhận phản ánh: «{chip.text()}»?"
    for button in (screen.confirm_yes_button, screen.confirm_no_button):
        assert button.isVisible() and style.to_mm(button, min(button.width(), button.height())) >= style.MIN_TOUCH_MM
    assert screen.confirm_yes_button.text() == "Xác nhận" and screen.confirm_no_button.text() == "Không"

    # [Không]: nothing chosen, nothing reported.
    with qtbot.assertNotEmitted(screen.sig_selection_changed):
        qtbot.mouseClick(screen.confirm_no_button, LEFT)
    assert not chip.isChecked() and not screen.confirm.isVisible() and screen.confirming() is None

    # Again, and [Xác nhận]: ticked, and reported like any chip.
    qtbot.mouseClick(chip, LEFT)
    now[0] += 1.0
    with qtbot.waitSignal(screen.sig_selection_changed, timeout=1000) as changed:
        qtbot.mouseClick(screen.confirm_yes_button, LEFT)
    assert chip.isChecked() and changed.args[0] == ["harassment"] and not screen.confirm.isVisible()

    # Unticking needs no confirmation.
    with qtbot.waitSignal(screen.sig_selection_changed, timeout=1000) as changed:
        qtbot.mouseClick(chip, LEFT)
    assert not chip.isChecked() and changed.args[0] == [] and not screen.confirm.isVisible()

    # Ordinary chips tick at once.
    with qtbot.waitSignal(screen.sig_selection_changed, timeout=1000) as changed:
        qtbot.mouseClick(next(c for c in screen.chips() if c.option_id == "waited_long"), LEFT)
    assert changed.args[0] == ["waited_long"]


def test_a_grave_single_choice_answers_only_after_confirmation(qtbot, questionnaire):
    doc = copy.deepcopy(questionnaire.to_dict())
    doc["questions"][1]["kind"] = "single"
    screen, now = followup(qtbot, parse_questionnaire(doc).question("why"), last=True)
    with qtbot.assertNotEmitted(screen.sig_answered):
        qtbot.mouseClick(grave_chip(screen), LEFT)
    now[0] += 1.0
    with qtbot.waitSignal(screen.sig_answered, timeout=1000) as answered:
        qtbot.mouseClick(screen.confirm_yes_button, LEFT)
    assert answered.args[0] == "harassment"


def test_a_double_tap_on_a_grave_chip_confirms_nothing(qtbot, questionnaire):
    screen, now = followup(qtbot, questionnaire.question("why"), last=False)
    qtbot.mouseClick(grave_chip(screen), LEFT)
    now[0] += 0.2  # the second finger of a double-tap, wherever it lands
    with qtbot.assertNotEmitted(screen.sig_selection_changed):
        qtbot.mouseClick(screen.confirm_yes_button, LEFT)
        qtbot.mouseClick(screen.confirm, LEFT, pos=QPoint(5, 5))
    assert screen.confirming() == "harassment" and not grave_chip(screen).isChecked()


def test_a_tap_beside_the_confirmation_is_a_no(qtbot, questionnaire):
    screen, now = followup(qtbot, questionnaire.question("why"), last=False)
    qtbot.mouseClick(grave_chip(screen), LEFT)
    now[0] += 1.0
    with qtbot.assertNotEmitted(screen.sig_skip):
        qtbot.mouseClick(screen.confirm, LEFT, pos=QPoint(5, screen.height() - 5))  # over "Bỏ qua"
    assert not screen.confirm.isVisible() and not grave_chip(screen).isChecked()


# --- idle-reset warning ----------------------------------------------------------------------------

def test_reset_banner_counts_down_and_reports_a_tap(qtbot):
    window = StartScreen()
    on_panel(qtbot, window, (1280, 800))
    banner = ResetBanner(window)
    banner.show_seconds(8)
    assert banner.isVisible()
    assert banner.label.text() == "Màn hình sẽ trở về trang đầu sau 8 giây. Chạm để tiếp tục."
    assert banner.geometry().bottom() == window.height() - 1 and banner.width() == window.width()
    assert style.to_mm(banner, banner.height()) >= style.MIN_TOUCH_MM
    banner.show_seconds(3, "en")
    assert "3 seconds" in banner.label.text()
    with qtbot.waitSignal(banner.sig_tapped, timeout=1000):
        qtbot.mouseClick(banner, LEFT)
    window.resize(800, 1280)
    assert banner.geometry().bottom() == 1279 and banner.width() == 800
