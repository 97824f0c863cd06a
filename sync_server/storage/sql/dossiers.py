"""Portable SQL: the dossier register, and the claim that makes one rating count per dossier (issue 14).

A rating carrying a dossier code claims it with ``INSERT … ON CONFLICT (dossier_code) DO NOTHING``
into ``dossier_ratings``, inside the transaction that stores the rating: the primary key decides
which rating counts, so two server processes storing ratings of one dossier at the same moment
still give exactly one (contract 12), whatever the order their transactions run in. Any other
rating of a claimed dossier is marked ``responses.dossier_repeat``; the record's own columns (its
flags among them) stay as sent.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

from hailong_core.timeutil import format_rfc3339
from sync_server.storage.areas import DossiersArea
from sync_server.storage.types import User

#: The flag the fold sees on a repeat rating (:data:`FOLD_FLAGS`); never stored in ``responses.flags``.
REPEAT_FLAG = "dossier_repeat"
#: ``flags`` as the results fold reads them: the stored flags, with :data:`REPEAT_FLAG` first on a
#: repeat rating (JSON text, both back ends), so the fold leaves it out like any flagged answer.
FOLD_FLAGS = (f"CASE WHEN dossier_repeat = 1 THEN '[\"{REPEAT_FLAG}\"' || "
              "CASE WHEN flags = '[]' THEN ']' ELSE ',' || substr(flags, 2) END ELSE flags END")

#: The register's fields an import sets and compares, in storage order.
FIELDS = ("unit_code", "site_id", "counter", "field", "procedure_name", "received_on", "due_on", "returned_on", "status",
          "channel", "complaint")
_COLS = ("code",) + FIELDS + ("source", "imported_at", "updated_at")
_CHUNK = 500  # codes per "IN (...)" lookup, well under SQLite's variable limit

_CLAIM = ("INSERT INTO dossier_ratings (dossier_code, response_id, server_seq, unit_code, channel, placed_ms, claimed_at) "
          "SELECT CAST(? AS TEXT), id, server_seq, unit_code, channel, COALESCE(placed_ms, created_ms), CAST(? AS TEXT) "
          "FROM responses WHERE id = ? "
          "ON CONFLICT (dossier_code) DO NOTHING")
# A repeat: its dossier was claimed by a rating stored before it (server_seq is commit order, across processes).
_MARK = ("UPDATE responses SET dossier_code = ?, dossier_repeat = CASE WHEN EXISTS "
         "(SELECT 1 FROM dossier_ratings d WHERE d.dossier_code = ? AND d.server_seq < responses.server_seq) THEN 1 ELSE 0 END "
         "WHERE id = ?")
_AUDIT = "INSERT INTO audit_log (at, user_id, username, action, target, detail, ip) VALUES (?, ?, ?, ?, ?, ?, NULL)"
# The measure's rows: a dossier, and its counted rating's questionnaire, answers and where it was given.
_MEASURE_FROM = ("d.unit_code, d.site_id, d.counter, d.field, d.received_on, d.due_on, d.returned_on, d.complaint, "
                 "r.questionnaire_id, r.questionnaire_version, r.answers, r.channel AS rating_channel, "
                 "r.site_id AS rating_site_id, v.counter AS rating_counter FROM dossiers d "
                 "LEFT JOIN dossier_ratings c ON c.dossier_code = d.code LEFT JOIN responses r ON r.id = c.response_id "
                 "LEFT JOIN devices v ON v.id = r.device_id")


def _detail(value: dict) -> str:
    # As PeopleArea.audit writes it, so the audit page reads both alike.
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _in(codes: set[str] | None, column: str) -> tuple[str, list]:
    if codes is None:
        return "", []
    codes = sorted(codes)
    if not codes:
        return " AND 1 = 0", []
    return f" AND {column} IN ({','.join('?' * len(codes))})", codes


class SQLDossiers(DossiersArea):
    # --- the claim, inside store_batch's transaction ------------------------------------------------

    @staticmethod
    def _claim_dossiers(c, marks: list[tuple[str, str, bool]], received_at: str) -> None:
        """``marks``: ``(response id, code, may claim)`` of responses this transaction stored. In the order
        they were stored (server_seq: a batch's rows on PostgreSQL go in by time), each that may claims
        its code unless one did before; then each keeps its code, and is a repeat when its dossier was
        claimed by a rating stored before it."""
        seqs: dict[str, int] = {}
        for start in range(0, len(marks), _CHUNK):
            chunk = [m[0] for m in marks[start:start + _CHUNK]]
            seqs.update((r[0], r[1]) for r in c.execute(
                f"SELECT id, server_seq FROM responses WHERE id IN ({','.join('?' * len(chunk))})", chunk))
        ordered = sorted(marks, key=lambda m: seqs[m[0]])
        claims = [(code, received_at, rid) for rid, code, may in ordered if may]
        if claims:
            c.executemany(_CLAIM, claims)
        c.executemany(_MARK, [(code, code, rid) for rid, code, _ in ordered])

    # --- the register -------------------------------------------------------------------------------

    def import_dossiers(self, rows: list[dict], source: str, now: datetime, user: User | None = None,
                        via: str | None = None) -> tuple[int, int, int]:
        stamp = format_rfc3339(now)
        who = (user.id if user else None, user.username if user else None)

        def tx(c) -> tuple[int, int, int]:
            stored = self._by_code(c, [r["code"] for r in rows])
            added, changed, audits = [], [], []
            for row in rows:
                new = tuple(row.get(f) for f in FIELDS)
                old = stored.get(row["code"])
                if old is None:
                    added.append((row["code"], *new, source, stamp, stamp))
                    continue
                before = tuple(old[f] for f in FIELDS)
                if before == new:
                    continue
                changed.append((*new, source, stamp, row["code"]))
                diff = {f: [a, b] for f, a, b in zip(FIELDS, before, new) if a != b}
                audits.append((stamp, *who, "dossier.update", row["code"], _detail({"changes": diff, "source": source})))
            if added:
                c.executemany(f"INSERT INTO dossiers ({', '.join(_COLS)}) VALUES ({', '.join('?' * len(_COLS))})", added)
            if changed:
                sets = ", ".join(f"{f} = ?" for f in FIELDS + ("source", "updated_at"))
                c.executemany(f"UPDATE dossiers SET {sets} WHERE code = ?", changed)
            counts = (len(added), len(changed), len(rows) - len(added) - len(changed))
            audits.append((stamp, *who, "dossiers.import", source,
                           _detail({"added": counts[0], "updated": counts[1], "unchanged": counts[2], "via": via})))
            c.executemany(_AUDIT, audits)
            return counts
        return self._write(tx)

    def _by_code(self, c, codes: list[str]) -> dict[str, dict]:
        out: dict[str, dict] = {}
        for start in range(0, len(codes), _CHUNK):
            chunk = codes[start:start + _CHUNK]
            rows = c.execute(f"SELECT {', '.join(_COLS)} FROM dossiers WHERE code IN ({','.join('?' * len(chunk))})", chunk)
            out.update((r["code"], dict(r)) for r in rows)
        return out

    def dossiers_by_code(self, codes: list[str]) -> dict[str, dict]:
        return self._by_code(self._conn(), list(codes))

    def dossier_count(self) -> int:
        return self._conn().execute("SELECT COUNT(*) FROM dossiers").fetchone()[0]

    # --- what the official measure reads -----------------------------------------------------------

    def dossier_measure_rows(self, returned_from: str, returned_before: str, due_from: str, due_to: str,
                             unit_codes: set[str] | None = None) -> list[dict]:
        where, params = _in(unit_codes, "d.unit_code")
        conn = self._conn()
        # Two queries, each on its own index: returned in the window; not returned and due in it.
        # ``due_on`` may carry a time: "<= due_to" compares the day, so the upper bound is the next day.
        returned = conn.execute(f"SELECT {_MEASURE_FROM} WHERE d.returned_on >= ? AND d.returned_on < ?{where}",
                                [returned_from, returned_before, *params]).fetchall()
        open_ = conn.execute(f"SELECT {_MEASURE_FROM} WHERE d.returned_on IS NULL AND d.due_on >= ? AND d.due_on < ?{where}",
                             [due_from, _next_text(due_to), *params]).fetchall()
        return [dict(r) for r in returned] + [dict(r) for r in open_]

    def dossier_rating_counts(self, ms_from: int, ms_to: int, max_seq: int | None = None,
                              unit_codes: set[str] | None = None) -> list[tuple]:
        where, params = _in(unit_codes, "c.unit_code")
        if max_seq is not None:
            where += " AND c.server_seq <= ?"
            params.append(max_seq)
        rows = self._conn().execute(
            "SELECT c.unit_code, c.channel, CASE WHEN d.code IS NULL THEN 0 ELSE 1 END AS in_register, COUNT(*) "
            "FROM dossier_ratings c LEFT JOIN dossiers d ON d.code = c.dossier_code "
            f"WHERE c.placed_ms >= ? AND c.placed_ms < ?{where} "
            "GROUP BY c.unit_code, c.channel, CASE WHEN d.code IS NULL THEN 0 ELSE 1 END", [ms_from, ms_to, *params]).fetchall()
        return [tuple(r) for r in rows]


def _next_text(day: str) -> str:
    """The ISO day after ``day`` (text in, text out)."""
    return (date.fromisoformat(day) + timedelta(days=1)).isoformat()


__all__ = ["SQLDossiers", "REPEAT_FLAG", "FOLD_FLAGS", "FIELDS"]
