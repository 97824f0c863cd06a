"""Portable SQL: questionnaire versions, campaigns, province-wide config values."""

from __future__ import annotations

import json

from datetime import date, datetime

from hailong_core.timeutil import format_rfc3339
from sync_server.storage.areas import SurveysArea
from sync_server.storage.types import StorageRefused, User

DEFAULT_QUESTIONNAIRE_ID = "bg-friendly-gov"
_AUDIT = "INSERT INTO audit_log (at, user_id, username, action, target, detail, ip) VALUES (?, ?, ?, ?, ?, ?, ?)"


class SQLSurveys(SurveysArea):
    def questionnaires(self) -> dict[tuple[str, int], dict]:
        rows = self._conn().execute("SELECT id, version, body FROM questionnaires WHERE published_at IS NOT NULL").fetchall()
        return {(r["id"], r["version"]): json.loads(r["body"]) for r in rows}

    def questionnaire_versions(self) -> list[dict]:
        rows = self._conn().execute("SELECT id, version, body, created_at, published_at FROM questionnaires "
                                    "ORDER BY id, version DESC").fetchall()
        out = []
        for r in rows:
            body = json.loads(r["body"])
            out.append({"id": r["id"], "version": r["version"], "title": body.get("title") or {},
                        "questions": len(body.get("questions") or []), "created_at": r["created_at"],
                        "published_at": r["published_at"]})
        return out

    def questionnaire_version(self, qid: str, version: int) -> dict | None:
        row = self._conn().execute("SELECT id, version, body, created_at, published_at FROM questionnaires WHERE id = ? AND version = ?",
                                   (qid, version)).fetchone()
        if row is None:
            return None
        out = dict(row)
        out["body"] = json.loads(out["body"])
        return out

    def save_questionnaire_draft(self, doc: dict, now: datetime) -> None:
        body = json.dumps(doc, ensure_ascii=False)

        def tx(c) -> None:
            row = c.execute("SELECT published_at FROM questionnaires WHERE id = ? AND version = ?", (doc["id"], doc["version"])).fetchone()
            if row is not None and row["published_at"] is not None:
                raise StorageRefused("questionnaire_published",
                                     f"{doc['id']} version {doc['version']} is published and cannot change; save it as a new version")
            if row is None:
                c.execute("INSERT INTO questionnaires (id, version, body, published_at, created_at) VALUES (?, ?, ?, NULL, ?)",
                          (doc["id"], doc["version"], body, format_rfc3339(now)))
            else:
                c.execute("UPDATE questionnaires SET body = ? WHERE id = ? AND version = ? AND published_at IS NULL",
                          (body, doc["id"], doc["version"]))
        self._write(tx)

    def publish_questionnaire(self, qid: str, version: int, now: datetime) -> None:
        def tx(c) -> None:
            row = c.execute("SELECT published_at FROM questionnaires WHERE id = ? AND version = ?", (qid, version)).fetchone()
            if row is None:
                raise StorageRefused("not_found", f"no questionnaire {qid} version {version}")
            if row["published_at"] is None:
                c.execute("UPDATE questionnaires SET published_at = ? WHERE id = ? AND version = ?", (format_rfc3339(now), qid, version))
        self._write(tx)

    def _ancestors(self, conn, code: str) -> list[str]:
        chain: list[str] = []
        while code is not None and code not in chain:
            chain.append(code)
            row = conn.execute("SELECT parent_code FROM units WHERE code = ?", (code,)).fetchone()
            code = row["parent_code"] if row else None
        return chain

    def active_questionnaire(self, unit_code: str, day: str | None = None) -> dict:
        day = day or date.today().isoformat()
        conn = self._conn()
        chain = self._ancestors(conn, unit_code)
        marks = ",".join("?" * len(chain))
        row = conn.execute(
            "SELECT q.body FROM campaigns c JOIN campaign_units cu ON cu.campaign_id = c.id "
            "JOIN questionnaires q ON q.id = c.questionnaire_id AND q.version = c.questionnaire_version "
            f"WHERE cu.unit_code IN ({marks}) AND c.starts_on <= ? AND c.ends_on >= ? AND q.published_at IS NOT NULL "
            "ORDER BY c.starts_on DESC, c.id DESC LIMIT 1", (*chain, day, day)).fetchone()
        if row is None:
            default = self.get_config("default_questionnaire", DEFAULT_QUESTIONNAIRE_ID)
            row = conn.execute("SELECT body FROM questionnaires WHERE published_at IS NOT NULL "
                               "ORDER BY CASE WHEN id = ? THEN 0 ELSE 1 END, version DESC, published_at DESC LIMIT 1",
                               (default,)).fetchone()
        return json.loads(row["body"])

    def campaigns(self) -> list[dict]:
        conn = self._conn()
        rows = [dict(r) for r in conn.execute("SELECT id, name, starts_on, ends_on, questionnaire_id, questionnaire_version, created_at "
                                              "FROM campaigns ORDER BY starts_on DESC, id DESC")]
        covered: dict[int, list[str]] = {}
        for r in conn.execute("SELECT campaign_id, unit_code FROM campaign_units ORDER BY unit_code"):
            covered.setdefault(r["campaign_id"], []).append(r["unit_code"])
        for r in rows:
            r["units"] = covered.get(r["id"], [])
        return rows

    def campaign(self, campaign_id: int) -> dict | None:
        return next((c for c in self.campaigns() if c["id"] == campaign_id), None)

    def add_campaign(self, name: str, starts_on: str, ends_on: str, qid: str, version: int, unit_codes: list[str],
                     now: datetime) -> int:
        def tx(c) -> int:
            row = c.execute("SELECT published_at FROM questionnaires WHERE id = ? AND version = ?", (qid, version)).fetchone()
            if row is None or row["published_at"] is None:
                raise StorageRefused("questionnaire_not_published", f"{qid} version {version} is not a published questionnaire")
            cid = c.execute("INSERT INTO campaigns (name, starts_on, ends_on, questionnaire_id, questionnaire_version, created_at) "
                            "VALUES (?, ?, ?, ?, ?, ?) RETURNING id", (name, starts_on, ends_on, qid, version, format_rfc3339(now))).fetchone()[0]
            c.executemany("INSERT INTO campaign_units (campaign_id, unit_code) VALUES (?, ?)", [(cid, u) for u in sorted(set(unit_codes))])
            return cid
        return self._write(tx)

    def update_campaign(self, campaign_id: int, name: str, starts_on: str, ends_on: str, qid: str, version: int,
                        unit_codes: list[str], today: str, now: datetime, user: User | None, ip: str | None = None) -> dict:
        units = sorted(set(unit_codes))

        def tx(c) -> dict:
            row = c.execute("SELECT id, name, starts_on, ends_on, questionnaire_id, questionnaire_version FROM campaigns WHERE id = ?",
                            (campaign_id,)).fetchone()
            if row is None:
                raise StorageRefused("not_found", f"no campaign {campaign_id}")
            before = dict(row)
            # Checked here, inside the write, so two admins (or a midnight) cannot slip an edit past the start.
            if before["starts_on"] <= today:
                raise StorageRefused("campaign_started", f"the campaign started on {before['starts_on']}: it can no longer change")
            q = c.execute("SELECT published_at FROM questionnaires WHERE id = ? AND version = ?", (qid, version)).fetchone()
            if q is None or q["published_at"] is None:
                raise StorageRefused("questionnaire_not_published", f"{qid} version {version} is not a published questionnaire")
            before["units"] = [r["unit_code"] for r in c.execute(
                "SELECT unit_code FROM campaign_units WHERE campaign_id = ? ORDER BY unit_code", (campaign_id,))]
            c.execute("UPDATE campaigns SET name = ?, starts_on = ?, ends_on = ?, questionnaire_id = ?, questionnaire_version = ? "
                      "WHERE id = ?", (name, starts_on, ends_on, qid, version, campaign_id))
            c.execute("DELETE FROM campaign_units WHERE campaign_id = ?", (campaign_id,))
            c.executemany("INSERT INTO campaign_units (campaign_id, unit_code) VALUES (?, ?)", [(campaign_id, u) for u in units])
            after = {"name": name, "starts_on": starts_on, "ends_on": ends_on, "questionnaire_id": qid,
                     "questionnaire_version": version, "units": units}
            changed = {k: {"from": before[k], "to": v} for k, v in after.items() if before[k] != v}
            c.execute(_AUDIT, (format_rfc3339(now), user.id if user else None, user.username if user else None, "campaign.edit",
                               str(campaign_id), json.dumps({"name": name, "changed": changed}, ensure_ascii=False, sort_keys=True), ip))
            return before
        return self._write(tx)

    def delete_campaign(self, campaign_id: int) -> bool:
        def tx(c) -> bool:
            c.execute("DELETE FROM campaign_units WHERE campaign_id = ?", (campaign_id,))
            return c.execute("DELETE FROM campaigns WHERE id = ?", (campaign_id,)).rowcount == 1
        return self._write(tx)

    def get_config(self, key: str, default=None):
        row = self._conn().execute("SELECT value FROM server_config WHERE key = ?", (key,)).fetchone()
        return json.loads(row["value"]) if row else default

    def set_config(self, key: str, value) -> None:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
        self._write(lambda c: c.execute("INSERT INTO server_config (key, value) VALUES (?, ?) "
                                        "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, text)))
