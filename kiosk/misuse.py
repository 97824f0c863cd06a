"""Misuse rules: cool-down and bursts. Presses are always stored; these rules only add flags.

The exact rules (applied by :meth:`kiosk.store.Store.begin_response` inside the transaction that
stores the tap, so two taps can never both miss each other):

- **Cool-down** (flag ``cooldown``): a tap made less than ``cooldown_s`` seconds after the last
  change to the previous answer (its tap, a follow-up, or its finish/skip/idle finalisation)
  is flagged. A clock that stepped back (a negative gap) is not counted as a cool-down press.
- **Burst** (flag ``burst``): when a tap makes the number of taps with a tap time inside the last
  ``burst_window_s`` seconds (this one included) reach ``burst_count`` or more, the tap is flagged
  and so are the other taps of that window that can still change: drafts, and pending rows no
  sync batch has carried yet. **The first answer of a run stays counted**: the earliest tap of the
  window is spared when no tap came in the ``burst_window_s`` before it (the genuine citizen served
  just before someone began mashing); a run that goes on longer than the window spares nothing
  more, so a robot mashing for ten minutes gets at most one answer counted. A row a batch carried may already be on the server, where its
  content hash is fixed, so it is never rewritten: a run that began before a sync is flagged from
  the first still-unsent answer on. Every later tap while the window still holds
  ``burst_count`` taps is flagged too.

Flagged answers are kept and sent like any other (contract 8); reports leave them out by default.

Defaults (issue 12): ``cooldown_s`` 1.5 s. Double-taps no longer reach a second screen (the window
ignores taps for ``input_guard_s`` after every screen change), so the cool-down only has to catch
a second answer given at once; a couple rating 2 s apart are two people, and 5 s flagged the
second of them. ``bench/kiosk_replay.py`` measures the false-flag rate of genuine citizens.
"""

from __future__ import annotations

from dataclasses import dataclass

from hailong_core.config import kiosk_settings


@dataclass(frozen=True)
class MisuseRules:
    cooldown_s: float = 1.5
    burst_count: int = 5
    burst_window_s: float = 60.0

    @classmethod
    def from_config(cls, config: dict | None) -> "MisuseRules":
        """The rules from the kiosk config's settings (defaults for anything missing)."""
        s = kiosk_settings(config)
        return cls(float(s["cooldown_s"]), int(s["burst_count"]), float(s["burst_window_s"]))

    def is_cooldown(self, last_change_ts: float | None, now_ts: float) -> bool:
        """True when a tap at ``now_ts`` falls inside the cool-down after ``last_change_ts``."""
        if last_change_ts is None or self.cooldown_s <= 0:
            return False
        return 0 <= now_ts - last_change_ts < self.cooldown_s

    def is_burst(self, taps_in_window: int) -> bool:
        """True when ``taps_in_window`` (this tap included) makes a burst."""
        return self.burst_count > 0 and taps_in_window >= self.burst_count
