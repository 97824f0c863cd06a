"""Portable SQL: the relay's side of store and forward (issue 17, schema step 16).

Answers go up in ``server_seq`` order behind ``upstream_link.sent_seq``: every writer holds the one
write lock (``SQLStorage._write``), so ``server_seq`` is assigned in commit order and nothing can
appear behind the cursor later (contract 12, as the pull feed). Conflicts go up behind
``sent_conflict`` the same way. A record is rebuilt from its columns: the same bytes every time,
so a batch sent again after a crash is answered ``duplicate`` upstream, never doubled.
"""

from __future__ import annotations

import json

from sync_server.storage.areas import RelayArea

_LINK_COLS = ("url, token, device_id, unit_code, enrolled_at, sent_seq, sent_conflict, last_forward_at, last_attempt_at, "
              "last_error, last_error_at, forwarded, config_etag, config_at, lease_owner, mirror_config")
_ANSWER_COLS = ("server_seq, id, seq, unit_code, officer_id, questionnaire_id, questionnaire_version, channel, created_at, "
                "answers, flags, procedure_group, boot_id, mono_ms, dossier_code, placed_ms, clock_suspect, device_id, site_id, "
                "received_at")
# Kiosk config values the upstream decides for a unit (sync_server.kiosk_config).
CONFIG_PREFIXES = ("admin_pin_hash.", "dossier_pattern.")


def rebuilt_record(row) -> dict:
    """The protocol record of a stored answer (optional fields only when they hold a value)."""
    record = {"id": row["id"], "seq": row["seq"], "unit_code": row["unit_code"], "officer_id": row["officer_id"],
              "questionnaire": {"id": row["questionnaire_id"], "version": row["questionnaire_version"]},
              "channel": row["channel"], "created_at": row["created_at"], "answers": json.loads(row["answers"]),
              "flags": json.loads(row["flags"])}
    for key in ("procedure_group", "dossier_code"):
        if row[key] is not None:
            record[key] = row[key]
    if row["boot_id"] is not None and row["mono_ms"] is not None:
        record["boot_id"], record["mono_ms"] = row["boot_id"], row["mono_ms"]
    return record


class SQLRelay(RelayArea):
    def upstream_link(self) -> dict | None:
        row = self._conn().execute(f"SELECT {_LINK_COLS} FROM upstream_link WHERE id = 1").fetchone()
        return dict(row) if row else None

    def link_upstream(self, url: str, token: str, device_id: str, unit_code: str, now: str, mirror_config: bool = True) -> None:
        def tx(c) -> None:
            c.execute("DELETE FROM upstream_link")
            c.execute("INSERT INTO upstream_link (id, url, token, device_id, unit_code, enrolled_at, mirror_config) "
                      "VALUES (1, ?, ?, ?, ?, ?, ?)", (url, token, device_id, unit_code, now, 1 if mirror_config else 0))
            c.execute("DELETE FROM upstream_refused")
        self._write(tx)

    def take_forward_lease(self, owner: str, now_ms: int, ttl_ms: int, stale_owner: str | None = None) -> bool:
        return self._write(lambda c: c.execute(
            "UPDATE upstream_link SET lease_owner = ?, lease_ms = ? WHERE id = 1 AND "
            "(lease_owner IS NULL OR lease_owner = ? OR lease_owner = ? OR lease_ms IS NULL OR lease_ms < ?)",
            (owner, now_ms + ttl_ms, owner, stale_owner or owner, now_ms)).rowcount) == 1

    def unsent(self, limit: int) -> tuple[list[dict], list[dict]]:
        conn = self._conn()
        link = conn.execute("SELECT sent_seq, sent_conflict FROM upstream_link WHERE id = 1").fetchone()
        if link is None:
            return [], []
        answers = [{"server_seq": r["server_seq"], "record": rebuilt_record(r), "device_id": r["device_id"],
                    "placed_ms": r["placed_ms"], "clock_suspect": bool(r["clock_suspect"]), "site_id": r["site_id"],
                    "received_at": r["received_at"]}
                   for r in conn.execute(f"SELECT {_ANSWER_COLS} FROM responses WHERE server_seq > ? ORDER BY server_seq LIMIT ?",
                                         (link["sent_seq"], int(limit)))]
        conflicts: list[dict] = []
        if len(answers) < limit:
            for r in conn.execute("SELECT id, response_id, device_id, record, received_at FROM response_conflicts WHERE id > ? "
                                  "ORDER BY id LIMIT ?", (link["sent_conflict"], int(limit) - len(answers))):
                conflicts.append({"conflict_id": r["id"], "record": json.loads(r["record"]), "device_id": r["device_id"],
                                  "received_at": r["received_at"]})
        return answers, conflicts

    def mark_forwarded(self, last_seq: int | None, last_conflict: int | None, refused: list[tuple[str, str, str, str]],
                       sent: int, now: str, device_id: str | None = None) -> None:
        def tx(c) -> None:
            row = c.execute("SELECT sent_seq, sent_conflict, device_id FROM upstream_link WHERE id = 1").fetchone()
            if row is None or (device_id is not None and row["device_id"] != device_id):
                return  # linked anew meanwhile (enroll-upstream): the new upstream gets everything from the start
            if refused:
                c.executemany("INSERT INTO upstream_refused (response_id, kind, code, message, at) VALUES (?, ?, ?, ?, ?) "
                              "ON CONFLICT (response_id, kind) DO UPDATE SET code = excluded.code, message = excluded.message, "
                              "at = excluded.at", [(*r, now) for r in refused])
            seq = max(row["sent_seq"], last_seq if last_seq is not None else 0)
            conflict = max(row["sent_conflict"], last_conflict if last_conflict is not None else 0)
            c.execute("UPDATE upstream_link SET sent_seq = ?, sent_conflict = ?, forwarded = forwarded + ?, last_forward_at = ?, "
                      "last_attempt_at = ?, last_error = NULL WHERE id = 1", (seq, conflict, sent, now, now))
        self._write(tx)

    def note_upstream_error(self, message: str | None, now: str) -> None:
        if message is None:  # the upstream answered again: the error is over (when it was is kept)
            self._write(lambda c: c.execute("UPDATE upstream_link SET last_error = NULL, last_attempt_at = ? WHERE id = 1", (now,)))
            return
        self._write(lambda c: c.execute("UPDATE upstream_link SET last_error = ?, last_error_at = ?, last_attempt_at = ? WHERE id = 1",
                                        (message, now, now)))

    def upstream_pending(self) -> int:
        conn = self._conn()
        link = conn.execute("SELECT sent_seq, sent_conflict FROM upstream_link WHERE id = 1").fetchone()
        if link is None:
            return 0
        answers = conn.execute("SELECT COUNT(*) FROM responses WHERE server_seq > ?", (link["sent_seq"],)).fetchone()[0]
        conflicts = conn.execute("SELECT COUNT(*) FROM response_conflicts WHERE id > ?", (link["sent_conflict"],)).fetchone()[0]
        return int(answers) + int(conflicts)

    def oldest_unsent_at(self) -> str | None:
        conn = self._conn()
        row = conn.execute("SELECT r.received_at FROM responses r, upstream_link l WHERE l.id = 1 AND r.server_seq > l.sent_seq "
                           "ORDER BY r.server_seq LIMIT 1").fetchone()
        return row[0] if row else None

    def upstream_kept_aside(self, limit: int = 200) -> list[dict]:
        rows = self._conn().execute(
            "SELECT f.response_id, f.kind, f.code, f.message, f.at, r.unit_code, r.channel, r.received_at, r.device_id "
            "FROM upstream_refused f LEFT JOIN responses r ON r.id = f.response_id ORDER BY f.at DESC, f.response_id LIMIT ?",
            (int(limit),)).fetchall()
        return [dict(r) for r in rows]

    def upstream_kept_aside_count(self) -> int:
        return int(self._conn().execute("SELECT COUNT(*) FROM upstream_refused").fetchone()[0])

    def relay_officers(self, unit_codes: set[str]) -> list[dict]:
        rows = self._conn().execute("SELECT id, unit_code, name, title, photo, pin_hash, active, procedure_group, site_id "
                                    "FROM officers ORDER BY id").fetchall()
        return [dict(r) | {"active": bool(r["active"])} for r in rows if r["unit_code"] in unit_codes]

    def apply_upstream_config(self, doc: dict, etag: str | None, now: str) -> dict:
        def tx(c) -> dict:
            known_units = {r[0] for r in c.execute("SELECT code FROM units")}
            added = 0
            for q in doc.get("questionnaires", ()):
                added += c.execute("INSERT INTO questionnaires (id, version, body, published_at, created_at) VALUES (?, ?, ?, ?, ?) "
                                   "ON CONFLICT (id, version) DO NOTHING",
                                   (q["id"], int(q["version"]), json.dumps(q["body"], ensure_ascii=False), q["published_at"],
                                    q["published_at"])).rowcount
            published = {(r[0], r[1]) for r in c.execute("SELECT id, version FROM questionnaires WHERE published_at IS NOT NULL")}
            c.execute("DELETE FROM campaign_units")
            c.execute("DELETE FROM campaigns")
            campaigns = 0
            for k in doc.get("campaigns", ()):
                if (k["questionnaire_id"], int(k["questionnaire_version"])) not in published:
                    continue
                c.execute("INSERT INTO campaigns (id, name, starts_on, ends_on, questionnaire_id, questionnaire_version, created_at) "
                          "VALUES (?, ?, ?, ?, ?, ?, ?)", (int(k["id"]), k["name"], k["starts_on"], k["ends_on"], k["questionnaire_id"],
                                                           int(k["questionnaire_version"]), k["created_at"]))
                c.executemany("INSERT INTO campaign_units (campaign_id, unit_code) VALUES (?, ?)",
                              [(int(k["id"]), u) for u in sorted(set(k["units"])) if u in known_units])
                campaigns += 1
            officers = doc.get("officers", [])
            seen = [o["id"] for o in officers if o["unit_code"] in known_units]
            for o in officers:
                if o["unit_code"] not in known_units:
                    continue
                c.execute("INSERT INTO officers (id, unit_code, name, title, photo, pin_hash, active, procedure_group, site_id, "
                          "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                          "unit_code = excluded.unit_code, name = excluded.name, title = excluded.title, photo = excluded.photo, "
                          "pin_hash = excluded.pin_hash, active = excluded.active, procedure_group = excluded.procedure_group, "
                          "site_id = excluded.site_id, updated_at = excluded.updated_at",
                          (o["id"], o["unit_code"], o["name"], o.get("title"), o.get("photo"), o.get("pin_hash"),
                           1 if o.get("active", True) else 0, o.get("procedure_group"), o.get("site_id"), now, now))
            gone = [r[0] for r in c.execute("SELECT id FROM officers WHERE active = 1") if r[0] not in set(seen)]
            c.executemany("UPDATE officers SET active = 0, updated_at = ? WHERE id = ?", [(now, i) for i in gone])
            sites = self._mirror_sites(c, doc.get("sites"), known_units, now)
            if sites:
                self._ids_were_given(c, "sites")
            for key, value in (doc.get("config") or {}).items():
                if not key.startswith(CONFIG_PREFIXES) and key != "default_questionnaire":
                    continue
                if value is None:
                    c.execute("DELETE FROM server_config WHERE key = ?", (key,))
                else:
                    c.execute("INSERT INTO server_config (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                              (key, json.dumps(value, ensure_ascii=False, sort_keys=True)))
            c.execute("UPDATE upstream_link SET config_etag = ?, config_at = ? WHERE id = 1", (etag, now))
            return {"questionnaires_added": added, "campaigns": campaigns, "officers": len(seen), "officers_deactivated": len(gone),
                    "sites": sites}
        return self._write(tx)

    def _ids_were_given(self, c, table: str) -> None:
        """Rows were inserted with explicit ids (a back end whose ids come from a sequence moves it on)."""

    @staticmethod
    def _mirror_sites(c, sites: list[dict] | None, known_units: set[str], now: str) -> int:
        """The upstream's sites of the relay's units, with the upstream's ids (an answer's ``site_id``
        then means the same point at both ends). A site of those units the upstream does not have
        (the relay's own seed under another id) is closed here and moved out of the way of the
        (unit, version, position) key; its answers keep it. Counters not listed upstream are closed."""
        if sites is None:
            return 0
        units = {s["unit_code"] for s in sites if s["unit_code"] in known_units}
        ids = {int(s["id"]) for s in sites}
        for row in c.execute("SELECT id, unit_code FROM sites").fetchall():
            if row["unit_code"] in units and row["id"] not in ids:
                c.execute("UPDATE sites SET closed_at = COALESCE(closed_at, ?), position = ? WHERE id = ?", (now, -row["id"], row["id"]))
        mirrored = 0
        for s in sites:
            if s["unit_code"] not in known_units:
                continue
            sid = int(s["id"])
            other = c.execute("SELECT unit_code FROM sites WHERE id = ?", (sid,)).fetchone()
            if other is not None and other["unit_code"] != s["unit_code"]:
                continue  # the id names another unit's site here: left as it is (relay-made site; not mirrored)
            c.execute("UPDATE sites SET position = -id, closed_at = COALESCE(closed_at, ?) WHERE unit_code = ? AND "
                      "unit_valid_from = ? AND position = ? AND id <> ?", (now, s["unit_code"], s["unit_valid_from"], s["position"], sid))
            hours = json.dumps(s["office_hours"], ensure_ascii=False, sort_keys=True) if s.get("office_hours") else None
            values = (s["unit_code"], s["unit_valid_from"], s["position"], s["name"], s.get("address"), hours, s.get("hotline"),
                      s.get("public_base_url"), s["created_at"], s.get("closed_at"))
            if other is None:
                c.execute("INSERT INTO sites (id, unit_code, unit_valid_from, position, name, address, office_hours, hotline, "
                          "public_base_url, created_at, closed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (sid, *values))
            else:
                c.execute("UPDATE sites SET unit_code = ?, unit_valid_from = ?, position = ?, name = ?, address = ?, office_hours = ?, "
                          "hotline = ?, public_base_url = ?, created_at = ?, closed_at = ? WHERE id = ?", (*values, sid))
            listed = {k["code"] for k in s.get("counters", ())}
            for k in s.get("counters", ()):
                c.execute("INSERT INTO counters (site_id, code, name) VALUES (?, ?, ?) ON CONFLICT (site_id, code) DO UPDATE SET "
                          "name = excluded.name, closed_at = NULL", (sid, k["code"], k["name"]))
            for row in c.execute("SELECT code FROM counters WHERE site_id = ? AND closed_at IS NULL", (sid,)).fetchall():
                if row["code"] not in listed:
                    c.execute("UPDATE counters SET closed_at = ? WHERE site_id = ? AND code = ?", (now, sid, row["code"]))
            mirrored += 1
        return mirrored

