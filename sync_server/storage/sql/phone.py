"""Portable SQL: the phone (QR) channel's own tables (migration 3).

Portable SQL only: ``?`` placeholders, ``ON CONFLICT``, ``RETURNING``, epoch-ms integers.
"""

from __future__ import annotations

import secrets

from sync_server.storage.areas import PhoneArea

SECRET_KEY = "phone_secret"
# A submission's outcome while it is being handled, by kind; settled to ``stored`` (answer),
# ``stored_token`` (answer bound to a dossier token), ``comment``, or a ``refused_*`` / ``failed``.
PENDING = {"answer": "pending", "token": "pending_token", "comment": "pending_comment"}


class SQLPhone(PhoneArea):
    def phone_secret(self) -> str:
        found = self.get_config(SECRET_KEY)
        if found:
            return found
        candidate = '"' + secrets.token_hex(32) + '"'  # server_config holds JSON text
        # Two processes starting at once: the first insert wins and both read it back.
        self._write(lambda c: c.execute("INSERT INTO server_config (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                                        (SECRET_KEY, candidate)))
        return self.get_config(SECRET_KEY)

    def next_phone_seq(self, unit_code: str) -> int:
        return self._write(lambda c: c.execute(
            "INSERT INTO phone_seq (unit_code, last) VALUES (?, 1) "
            "ON CONFLICT (unit_code) DO UPDATE SET last = phone_seq.last + 1 RETURNING last", (unit_code,)).fetchone()[0])

    def note_phone_submission(self, unit_code: str, browser_hash: str | None, ip_hash: str | None, day: str,
                              at_ms: int, since_ms: int, kind: str = "answer") -> tuple[int, int, int, int]:
        pending = PENDING[kind]

        def tx(c) -> tuple[int, int, int, int]:
            # Counted and inserted in one write transaction: writers are serialised across processes,
            # so two submissions can never both see the same count (contract 12).
            same_browser = 0
            if browser_hash:
                same_browser = c.execute("SELECT COUNT(*) FROM phone_submissions WHERE browser_hash = ? AND unit_code = ? "
                                         "AND day = ? AND outcome IN ('stored', 'stored_token')",
                                         (browser_hash, unit_code, day)).fetchone()[0]
            same_ip = same_ip_day = 0
            if ip_hash:
                same_ip = c.execute("SELECT COUNT(*) FROM phone_submissions WHERE ip_hash = ? AND at_ms > ?",
                                    (ip_hash, since_ms)).fetchone()[0]
                if kind == "answer":
                    # Answers in flight count too, so the cap holds for submissions racing each other.
                    same_ip_day = c.execute("SELECT COUNT(*) FROM phone_submissions WHERE unit_code = ? AND ip_hash = ? "
                                            "AND day = ? AND outcome IN ('pending', 'stored')",
                                            (unit_code, ip_hash, day)).fetchone()[0]
            row_id = c.execute("INSERT INTO phone_submissions (unit_code, browser_hash, ip_hash, day, at_ms, outcome) "
                               "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                               (unit_code, browser_hash, ip_hash, day, at_ms, pending)).fetchone()[0]
            return row_id, same_browser, same_ip, same_ip_day
        return self._write(tx)

    def settle_phone_submission(self, row_id: int, outcome: str, response_id: str | None) -> None:
        self._write(lambda c: c.execute("UPDATE phone_submissions SET outcome = ?, response_id = ? WHERE id = ?",
                                        (outcome, response_id, row_id)))

    def add_dossier_tokens(self, unit_code: str, token_hashes: list[str], expires_ms: int, created_at: str) -> None:
        self._write(lambda c: c.executemany(
            "INSERT INTO phone_tokens (token_hash, unit_code, created_at, expires_ms) VALUES (?, ?, ?, ?)",
            [(h, unit_code, created_at, expires_ms) for h in token_hashes]))

    def dossier_token(self, token_hash: str) -> dict | None:
        row = self._conn().execute("SELECT unit_code, expires_ms, used_ms, response_id FROM phone_tokens WHERE token_hash = ?",
                                   (token_hash,)).fetchone()
        return dict(row) if row else None

    def redeem_dossier_token(self, token_hash: str, unit_code: str, response_id: str, now_ms: int) -> str:
        def tx(c) -> str:
            row = c.execute("SELECT unit_code, expires_ms, used_ms FROM phone_tokens WHERE token_hash = ?", (token_hash,)).fetchone()
            if row is None:
                return "unknown"
            if row["used_ms"] is not None:
                return "used"
            if row["expires_ms"] <= now_ms:
                return "expired"
            if row["unit_code"] != unit_code:
                return "other_unit"
            done = c.execute("UPDATE phone_tokens SET used_ms = ?, response_id = ? WHERE token_hash = ? AND used_ms IS NULL "
                             "RETURNING token_hash", (now_ms, response_id, token_hash)).fetchone()
            return "ok" if done else "used"
        return self._write(tx)

    def add_phone_comment(self, response_id: str, unit_code: str, comment: str, now_ms: int) -> bool:
        return self._write(lambda c: c.execute(
            "INSERT INTO phone_comments (response_id, unit_code, comment, created_ms) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (response_id) DO NOTHING RETURNING id", (response_id, unit_code, comment, now_ms)).fetchone() is not None)

    def phone_comment(self, response_id: str) -> dict | None:
        row = self._conn().execute("SELECT response_id, unit_code, comment, created_ms FROM phone_comments WHERE response_id = ?",
                                   (response_id,)).fetchone()
        return dict(row) if row else None

    def phone_comments(self, unit_codes: set[str] | None = None, limit: int = 200) -> list[dict]:
        # Linked = the answer has arrived and belongs to the same point (a kiosk may sync hours later).
        rows = self._conn().execute(
            "SELECT pc.response_id, pc.unit_code, pc.comment, pc.created_ms, "
            "CASE WHEN r.id IS NULL THEN 0 ELSE 1 END AS linked FROM phone_comments pc "
            "LEFT JOIN responses r ON r.id = pc.response_id AND r.unit_code = pc.unit_code "
            "ORDER BY pc.created_ms DESC, pc.id DESC").fetchall()
        out = [dict(r) for r in rows if unit_codes is None or r["unit_code"] in unit_codes]
        return out[:limit]

    def response_brief(self, response_id: str) -> dict | None:
        row = self._conn().execute("SELECT unit_code, created_ms, channel FROM responses WHERE id = ?", (response_id,)).fetchone()
        return dict(row) if row else None

    def add_phone_contact(self, response_id: str, unit_code: str, phone: str, now_ms: int) -> None:
        self._write(lambda c: c.execute("INSERT INTO phone_contacts (response_id, unit_code, phone, created_ms) VALUES (?, ?, ?, ?)",
                                        (response_id, unit_code, phone, now_ms)))

    def phone_contacts(self, unit_codes: set[str] | None = None) -> list[dict]:
        rows = self._conn().execute("SELECT response_id, unit_code, phone, created_ms FROM phone_contacts "
                                    "ORDER BY created_ms DESC, id DESC").fetchall()
        return [dict(r) for r in rows if unit_codes is None or r["unit_code"] in unit_codes]

    def purge_phone_data(self, contacts_before_ms: int, submissions_before_ms: int,
                         orphans_before_ms: int | None = None) -> dict[str, int]:
        def tx(c) -> dict[str, int]:
            contacts = c.execute("DELETE FROM phone_contacts WHERE created_ms < ? RETURNING id", (contacts_before_ms,)).fetchall()
            subs = c.execute("DELETE FROM phone_submissions WHERE at_ms < ? RETURNING id", (submissions_before_ms,)).fetchall()
            orphans = [] if orphans_before_ms is None else c.execute(
                "DELETE FROM phone_comments WHERE created_ms < ? AND NOT EXISTS "
                "(SELECT 1 FROM responses r WHERE r.id = phone_comments.response_id) RETURNING id", (orphans_before_ms,)).fetchall()
            return {"contacts": len(contacts), "submissions": len(subs), "orphan_comments": len(orphans)}
        return self._write(tx)
