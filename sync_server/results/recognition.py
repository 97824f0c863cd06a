"""How much phone answers without a dossier token weigh in friendly-government recognition
(contract 13: one phone cannot set a commune's recognition).

A commune's counted answers split in two: **V**, the answers a visit vouches for (kiosk answers,
and phone answers bound to a single-use dossier token from a receipt), which always count in full;
and **T**, phone (QR) answers without a token, which anyone with a phone may send. The setting
``recognition_phone_without_token`` decides T's weight:

- ``count``: like any answer (the results pages always count them so);
- ``exclude``: not at all;
- ``cap`` (default): together at most ``recognition_phone_share`` (s) of what the commune is
  judged on: ``m = min(P, floor(s / (1 − s) × nV))`` of T's P headline answers count, each of
  T's counts weighed ``m / P`` (no answer is picked, so the order of arrival does not matter).
  Whatever T holds, the index stays within ``[(1 − s) × I_V, I_V + s × (100 − I_V)]``.
"""

from __future__ import annotations

import math

from sync_server.days import DAY_MS
from sync_server.results.fold import Fold
from sync_server.results.model import Score, Tally, score
from sync_server.results.rollups import question_kinds


def token_tallies(storage, window, offset_ms: int, unit_codes: set[str] | None) -> dict[tuple[str, int], Tally]:
    """Per stored unit code and site (0: none recorded): the counts of its phone answers bound to a
    dossier token, in the window (the site tells which version of a reused code they belong to)."""
    lo = window.day_from * DAY_MS - offset_ms - DAY_MS  # a day's margin either side; days are checked below
    hi = (window.day_to + 2) * DAY_MS - offset_ms
    fold = Fold(offset_ms, question_kinds(storage))
    for r in storage.token_phone_rows(lo, hi, unit_codes):
        try:
            fold.add(r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13])
        except (ValueError, TypeError, OverflowError, KeyError):
            continue  # unreadable rows count nowhere (sync_server.results.rollups says which)
    out: dict[tuple[str, int], Tally] = {}
    for (day, unit, site, _channel, qid, ver, question, fc), counts in fold.day.items():
        if window.day_from <= day <= window.day_to:
            out.setdefault((unit, site), Tally()).add((qid, ver, question, fc), counts)
    return out


def _combine(parts: list[tuple[Tally, float]]) -> Tally:
    out = Tally()
    for tally, weight in parts:
        for key, values in tally.counts.items():
            out.add(key, [v * weight for v in values] if weight != 1 else values)
    return out


def _minus(a: Tally | None, b: Tally) -> Tally:
    out = Tally()
    if a is not None:
        for key, values in a.counts.items():
            taken = b.counts.get(key)
            out.add(key, [v - (taken[i] if taken else 0) for i, v in enumerate(values)])
    return out


def weigh(channels: dict[str, Tally], tokens: Tally, book, filters, mode: str, share: float) -> tuple[Score, int, int]:
    """``(score for recognition, P tokenless phone answers, m of them counted)`` from a commune's
    tallies per channel and the tally of its token-bound phone answers."""
    untokened = _minus(channels.get("qr"), tokens)
    vouched = Tally()
    for channel, tally in channels.items():
        if channel != "qr":
            vouched.merge(tally)
    vouched.merge(tokens)
    p = score(untokened, book, filters).n
    if mode == "count" or p == 0:
        return score(_combine([(vouched, 1), (untokened, 1)]), book, filters), p, p
    n_v = score(vouched, book, filters).n
    m = 0 if mode == "exclude" else min(p, math.floor(share / (1 - share) * n_v + 1e-9))
    out = score(_combine([(vouched, 1), (untokened, m / p)]) if m else vouched, book, filters)
    out.n = n_v + m  # the weights add up to m headline answers exactly; say so without float dust
    return out, p, m
