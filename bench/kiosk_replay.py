"""1,000 citizens with human timings through the real kiosk window: does the stored data say what
they meant?

Run: ``python -m bench.kiosk_replay [--citizens N] [--seed S]``. Qt offscreen, the real window and
the real store in a temp folder; time is virtual (one clock drives the store, the window's
province clock and its tap guard, and the bench fires the idle and thank-you timers when virtual
time reaches them), so a day of a counter replays in about a minute. Each citizen:

- arrives after the previous one (exponential gaps, mean 90 s, at least 5 s); if the thank-you
  is still up they tap it away first; reaction times 0.5–3 s before every tap;
- taps a face (60 % very satisfied, 20 % satisfied, 8 % neutral, 7 % dissatisfied, 5 % very
  dissatisfied); 10 % double-tap it (the second tap 100–400 ms later, same spot);
- after a face with follow-ups, 15 % walk away (the idle timeout ends it); the others choose one
  or two reasons (confirming a grave one when asked) and press Done;
- 10 % come as a couple: the partner taps the thank-you away 1 s after and a face 2 s after.

After citizen 500 a robot (a child, a prankster) taps random spots every 150–400 ms for 10 minutes.

Figures (goals from issue 12): ``unintended_reasons`` (0), ``headline_counted_share`` of the
headlines given (1.0), ``genuine_flagged_share`` (≤ 0.01), ``robot_counted_per_cooldown`` (the
most robot answers counted within any cool-down span, ≤ 1). The baseline is the same replay, same
seed, with the rules before issue 12: no tap guard, a 5 s cool-down, and walk-aways left out.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import figure  # noqa: E402

ICT = timezone(timedelta(hours=7))
LEVELS = [5, 4, 3, 2, 1]
LEVEL_WEIGHTS = [60, 20, 8, 7, 5]
IDLE_S = 30.0
THANKS_S = 15.0


class Virtual:
    """The one clock of the replay (epoch seconds)."""

    def __init__(self, start: datetime):
        self.t = start.timestamp()

    def local(self) -> datetime:
        return datetime.fromtimestamp(self.t, ICT)

    def utc(self) -> datetime:
        return datetime.fromtimestamp(self.t, timezone.utc)


class Replay:
    def __init__(self, folder: Path, *, guard_s: float, cooldown_s: float, seed: int):
        from PySide6.QtWidgets import QApplication

        from hailong_core.questionnaire import load_default_questionnaire
        from kiosk import settings as kiosk_settings
        from kiosk.clock import ProvinceClock
        from kiosk.store import Store

        self.app = QApplication.instance() or QApplication([])
        self.rng = random.Random(seed)
        self.v = Virtual(datetime(2026, 12, 1, 7, 30, tzinfo=ICT))
        self.store = Store(folder / "kiosk.sqlite3", clock=self.v.local)
        config = {"unit": {"code": "7201", "name": "UBND phường Bắc Giang", "level": "commune", "parent_code": None},
                  "officers": [], "questionnaire": load_default_questionnaire().to_dict(),
                  "settings": {"cooldown_s": cooldown_s, "idle_timeout_s": IDLE_S, "burst_count": 5, "burst_window_s": 60.0,
                               "public_base_url": "https://hailong.bacninh.gov.vn", "hotline": "0204 3 854 999"}}
        self.store.set_meta(unit_code="7201", config=config)
        # Real timers are pushed out of reach: the replay fires them on virtual time.
        settings = kiosk_settings.load(folder, thank_you_s=120, idle_timeout_s=100_000, tick_s=100_000, input_guard_s=guard_s)
        from kiosk.ui.main_window import KioskWindow

        self.win = KioskWindow(self.store, settings, clock=ProvinceClock(lambda: self.store.get_meta("config"), now=self.v.utc),
                               monotonic=lambda: self.v.t)
        # No sync worker: nothing syncs in the replay.
        self.win.resize(1280, 800)
        self.win.show()
        self.settle()
        self.cooldown_s = cooldown_s
        self.actor = "nobody"
        self.owner: dict[str, str] = {}
        self.intended: dict[str, set] = {}
        self.last_activity = self.v.t
        # The window's idle countdown restarts on a screen change and on a follow-up change, as here;
        # a tap on nothing (or on a card's dimmed surround) does not keep the screen alive.
        self.win.sig_screen_changed.connect(self._on_screen)
        self.win.sig_answer_updated.connect(self._on_screen)
        self.win.sig_answer_started.connect(self._on_answer)
        self.win.sig_rating_saved.connect(self._on_answer)

    # --- plumbing -----------------------------------------------------------------------------

    def settle(self) -> None:
        self.app.processEvents()

    def _on_screen(self, _name: str) -> None:
        self.last_activity = self.v.t

    def _on_answer(self, rid: str) -> None:
        self.owner.setdefault(rid, self.actor)

    def deadline(self) -> float | None:
        w = self.win
        current = w.current_screen()
        if current in (w.start_screen, w.after_hours_screen):
            return None
        if current in (w.thanks_screen, w.error_screen):
            return self.last_activity + THANKS_S
        return self.last_activity + IDLE_S

    def advance(self, seconds: float) -> None:
        """Let virtual time pass, firing the window's timers when they fall due."""
        target = self.v.t + seconds
        while True:
            due = self.deadline()
            if due is None or due > target:
                break
            self.v.t = max(self.v.t, due)
            w = self.win
            if w.current_screen() in (w.thanks_screen, w.error_screen):
                w.show_start()
            else:
                w._on_idle()
            self.settle()
        self.v.t = target

    def tap(self, point) -> None:
        from PySide6.QtCore import Qt
        from PySide6.QtTest import QTest

        QTest.mouseClick(self.win.windowHandle(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, point)
        self.settle()

    def centre(self, widget):
        return widget.mapTo(self.win, widget.rect().center())

    def react(self) -> None:
        self.advance(self.rng.uniform(0.5, 3.0))

    def dismiss_thanks(self) -> None:
        """Tap the thank-you away, away from its QR code."""
        from PySide6.QtCore import QPoint

        w = self.win
        qr = getattr(w.thanks_screen, "qr", None)
        for fx, fy in ((0.5, 0.12), (0.15, 0.5), (0.5, 0.9), (0.85, 0.12)):
            p = QPoint(int(w.width() * fx), int(w.height() * fy))
            hit = w.childAt(p)
            if qr is None or hit is None or not (hit is qr or qr.isAncestorOf(hit)):
                self.tap(p)
                return

    # --- people -------------------------------------------------------------------------------

    def citizen(self, who: str, *, level: int | None = None, first_delay: float | None = None) -> None:
        w, rng = self.win, self.rng
        self.actor = who
        if w.current_screen() in (w.thanks_screen, w.error_screen):
            self.advance(first_delay if first_delay is not None else rng.uniform(0.5, 3.0))
            self.dismiss_thanks()
            first_delay = None
        self.advance(first_delay if first_delay is not None else rng.uniform(0.5, 3.0))
        if w.current_screen() not in (w.start_screen, w.after_hours_screen):
            w.show_start()  # a screen the robot left: the citizen would tap Back; not what is measured
            self.settle()
        level = level or rng.choices(LEVELS, LEVEL_WEIGHTS)[0]
        screen = w.current_screen()
        face = next(f for f in screen.faces() if f.value == level)
        point = self.centre(face)
        before = set(self.owner)
        self.tap(point)
        if rng.random() < 0.10:
            self.advance(rng.uniform(0.1, 0.4))
            self.tap(point)
        new = [rid for rid in self.owner if rid not in before]
        rid = new[0] if new else None
        if rid is None:
            return
        self.intended[rid] = set()
        if w.current_screen() is not w.followup_screen:
            return
        if rng.random() < 0.15:
            self.advance(IDLE_S + 5)  # walks away: the idle timeout ends it
            return
        chips = w.followup_screen.chips()
        if chips:
            for c in rng.sample(chips, rng.randint(1, min(2, len(chips)))):
                self.react()
                self.tap(self.centre(c))
                confirm = self.grave_confirm()
                if confirm is not None:
                    self.react()
                    self.tap(self.centre(confirm))
                if c.isChecked():
                    self.intended[rid].add(c.option_id)
        self.react()
        done = w.followup_screen.done_button
        if w.current_screen() is w.followup_screen and done.isVisible():
            self.tap(self.centre(done))

    def grave_confirm(self):
        from PySide6.QtWidgets import QAbstractButton

        b = self.win.followup_screen.findChild(QAbstractButton, "grave_yes")
        return b if b is not None and b.isVisible() else None

    def robot(self, seconds: float) -> None:
        from PySide6.QtCore import QPoint

        self.actor = "robot"
        end = self.v.t + seconds
        while self.v.t < end:
            self.advance(self.rng.uniform(0.15, 0.4))
            self.tap(QPoint(self.rng.randrange(self.win.width()), self.rng.randrange(self.win.height())))
        self.actor = "nobody"

    # --- the day ------------------------------------------------------------------------------

    def run(self, citizens: int) -> dict:
        rng = self.rng
        for i in range(citizens):
            self.citizen(f"c{i}")
            if rng.random() < 0.10:  # a couple: the partner rates 2 s after
                self.advance(1.0)
                if self.win.current_screen() in (self.win.thanks_screen, self.win.error_screen):
                    self.actor = f"p{i}"
                    self.dismiss_thanks()
                self.citizen(f"p{i}", first_delay=1.0)
            if i == citizens // 2:
                self.advance(20)
                self.robot(600)
            self.advance(5 + rng.expovariate(1 / 90))
        self.advance(IDLE_S + THANKS_S)
        return self.figures()

    def figures(self) -> dict:
        from hailong_core.response import FLAG_INCOMPLETE, MISUSE_FLAGS

        rows = self.store.read(lambda c: [json.loads(r[0]) for r in c.execute("SELECT record FROM responses WHERE seq > 0")])
        by_id = {r["id"]: r for r in rows}
        genuine = [by_id[rid] for rid, who in self.owner.items() if who[0] in "cp" and rid in by_id]
        unintended = sum(len(set(r["answers"].get("why") or []) - self.intended.get(r["id"], set())) for r in genuine)
        extra = len([r for r in rows if self.owner.get(r["id"], "robot")[0] in "cp"]) - len(genuine)
        misuse = lambda r: bool(MISUSE_FLAGS.intersection(r["flags"]))  # noqa: E731
        counted_now = sum(1 for r in genuine if not misuse(r))
        counted_old = sum(1 for r in genuine if not misuse(r) and FLAG_INCOMPLETE not in r["flags"])
        robot = sorted(datetime.fromisoformat(r["created_at"]).timestamp() for rid, r in by_id.items()
                       if self.owner.get(rid) == "robot" and not misuse(r))
        per_cooldown = 0
        for i, t in enumerate(robot):
            per_cooldown = max(per_cooldown, sum(1 for u in robot[i:] if u - t < max(self.cooldown_s, 1e-9)))
        robot_all = sum(1 for who in self.owner.values() if who == "robot")
        return {"citizens_answers": len(genuine), "unintended_reasons": unintended + max(0, extra),
                "headline_counted_share": counted_now / max(1, len(genuine)),
                "headline_counted_share_old_rule": counted_old / max(1, len(genuine)),
                "genuine_flagged_share": sum(1 for r in genuine if misuse(r)) / max(1, len(genuine)),
                "robot_answers": robot_all, "robot_counted": len(robot), "robot_counted_per_cooldown": per_cooldown,
                "taps_ignored": self.win.tap_guard.ignored}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--citizens", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=12)
    args = ap.parse_args(argv)
    results = {}
    for name, guard, cooldown in (("now", 0.6, 1.5), ("before", 0.0, 5.0)):
        with tempfile.TemporaryDirectory() as tmp:
            replay = Replay(Path(tmp), guard_s=guard, cooldown_s=cooldown, seed=args.seed)
            results[name] = replay.run(args.citizens)
            replay.win.close()
            replay.store.close()
    now, before = results["now"], results["before"]
    figure("citizen_answers", now["citizens_answers"], "answers")
    figure("unintended_reasons", now["unintended_reasons"], "reasons")
    figure("unintended_reasons_before", before["unintended_reasons"], "reasons")
    figure("headline_counted_share", round(now['headline_counted_share'], 4), "share")
    figure("headline_counted_share_before", round(before['headline_counted_share_old_rule'], 4), "share")
    figure("genuine_flagged_share", round(now['genuine_flagged_share'], 4), "share")
    figure("genuine_flagged_share_before", round(before['genuine_flagged_share'], 4), "share")
    figure("robot_answers", now["robot_answers"], "answers")
    figure("robot_counted", now["robot_counted"], "answers")
    figure("robot_counted_per_cooldown", now["robot_counted_per_cooldown"], "answers")
    figure("robot_counted_before", before["robot_counted"], "answers")
    figure("taps_ignored", now["taps_ignored"], "taps")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
