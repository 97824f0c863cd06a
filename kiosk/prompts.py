"""The kiosk's copy of the province's recorded prompts (no Qt), kept in step with the config.

The config's ``prompts`` list names each recording (``name``, ``lang``, ``sha256``, ``bytes``,
``path``). :func:`refresh` downloads what is missing or changed with the kiosk's token, checks
size and SHA-256 before an atomic rename into ``prompts/<name>.<lang>.wav``, and removes files the
list no longer names. ``prompts/index.json`` remembers the hash of each file it placed, so a
round with nothing new reads no audio.

The sync client calls :func:`refresh` on every config fetch, changed or not: a download that
failed is tried again next round, even though the config itself is unchanged (304). Nothing here
fails a sync round; errors are logged and kept in the store (``prompts_status``, ``last_error``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hailong_core.prompts import NAMES, LANG_RE, WavError, check_wav

log = logging.getLogger(__name__)

FOLDER = "prompts"
INDEX = "index.json"
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
MAX_BYTES = 64 * 1024 * 1024  # a bound on what one entry may claim, whatever the server says
CHUNK = 64 * 1024


class PromptFetchError(Exception):
    """One recording could not be fetched or did not match its entry."""


@dataclass
class RefreshReport:
    fetched: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def folder(store) -> Path:
    """The prompts folder beside the kiosk's database (the data folder, unless ``db_path`` moved it)."""
    return Path(store.path).parent / FOLDER


def file_name(name: str, lang: str) -> str:
    return f"{name}.{lang}.wav"


def _entries(config: dict | None) -> tuple[dict[str, dict], dict[str, str]]:
    """``({file name: entry}, {what: why refused})`` of the config's prompts list."""
    good: dict[str, dict] = {}
    bad: dict[str, str] = {}
    for raw in (config or {}).get("prompts") or []:
        if not isinstance(raw, dict):
            bad[repr(raw)[:40]] = "not an object"
            continue
        name, lang, sha, size, path = (raw.get(k) for k in ("name", "lang", "sha256", "bytes", "path"))
        what = f"{name}.{lang}"
        if name not in NAMES:
            continue  # a prompt a newer server knows and this kiosk does not: not an error
        if not (isinstance(lang, str) and LANG_RE.match(lang) and isinstance(sha, str) and _SHA_RE.match(sha)
                and isinstance(size, int) and 0 < size <= MAX_BYTES and isinstance(path, str) and path.startswith("/")):
            bad[what] = "incomplete entry"
            continue
        good[file_name(name, lang)] = {"name": name, "lang": lang, "sha256": sha, "bytes": size, "path": path}
    return good, bad


def _read_index(where: Path) -> dict[str, str]:
    try:
        data = json.loads((where / INDEX).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)} if isinstance(data, dict) else {}


def _write_index(where: Path, index: dict[str, str]) -> None:
    part = where / (INDEX + ".part")
    part.write_text(json.dumps(index, sort_keys=True, indent=1), encoding="utf-8")
    os.replace(part, where / INDEX)


def _in_place(where: Path, fname: str, entry: dict, index: dict[str, str]) -> bool:
    path = where / fname
    try:
        size = path.stat().st_size
    except OSError:
        return False
    return size == entry["bytes"] and index.get(fname) == entry["sha256"]


def _download(api, entry: dict, dest: Path) -> None:
    """Fetch one recording into ``dest`` atomically, or raise (nothing left behind)."""
    part = dest.with_name("." + dest.name + ".part")
    try:
        # The client's own request path: its token, timeouts, TLS check, and its auth/5xx/portal errors.
        resp = api._request("GET", entry["path"], stream=True)
        try:
            if resp.status_code != 200:
                raise PromptFetchError(f"HTTP {resp.status_code}")
            digest = hashlib.sha256()
            got = 0
            with open(part, "wb") as fh:
                for chunk in resp.iter_content(CHUNK):
                    got += len(chunk)
                    if got > entry["bytes"]:
                        raise PromptFetchError(f"larger than the {entry['bytes']} bytes the config names")
                    digest.update(chunk)
                    fh.write(chunk)
                fh.flush()
                os.fsync(fh.fileno())
        finally:
            resp.close()
        if got != entry["bytes"]:
            raise PromptFetchError(f"{got} bytes, the config names {entry['bytes']}")
        if digest.hexdigest() != entry["sha256"]:
            raise PromptFetchError("SHA-256 differs from the config's (changed on the server meanwhile?)")
        try:
            check_wav(part.read_bytes())
        except WavError as exc:
            raise PromptFetchError(f"not a playable WAV: {exc}") from None
        os.replace(part, dest)
    finally:
        part.unlink(missing_ok=True)


def sync_folder(api, config: dict | None, where: Path) -> RefreshReport:
    """Make ``where`` hold exactly the recordings ``config`` lists; per-entry failures are reported, not raised.

    ``api`` is a :class:`kiosk.sync.ServerApi` (its session, token and timeouts).
    """
    report = RefreshReport()
    wanted, report.failed = _entries(config)
    if not wanted and not where.is_dir():
        return report  # nothing recorded, nothing to remove
    where.mkdir(parents=True, exist_ok=True)
    index = _read_index(where)
    for fname, entry in wanted.items():
        if _in_place(where, fname, entry, index):
            report.kept.append(fname)
            continue
        try:
            _download(api, entry, where / fname)
        except Exception as exc:  # noqa: BLE001 - one recording must not stop the others (or the sync)
            report.failed[fname] = f"{exc.__class__.__name__}: {exc}"
            index.pop(fname, None)
            continue
        index[fname] = entry["sha256"]
        report.fetched.append(fname)
    for path in where.iterdir():
        if path.name == INDEX or path.name in wanted or not path.is_file():
            continue
        path.unlink(missing_ok=True)  # no longer listed, a stale .part, or anything else
        if path.suffix == ".wav":
            report.removed.append(path.name)
    _write_index(where, {k: v for k, v in index.items() if k in wanted})
    return report


def refresh(api, store, config: dict | None) -> RefreshReport | None:
    """The sync client's call after a config fetch (``config`` None: unchanged, the stored one
    counts). Never raises; the outcome is kept in the store's ``prompts_status``."""
    try:
        if config is None:
            config = store.get_meta("config")
        if config is None:
            return None
        report = sync_folder(api, config, folder(store))
    except Exception as exc:  # noqa: BLE001 - the sync round goes on without the prompts
        log.exception("prompts: refresh failed")
        _keep(store, {"error": f"{exc.__class__.__name__}: {exc}"})
        return None
    if report.fetched or report.removed:
        log.info("prompts: fetched %s, removed %s", report.fetched, report.removed)
    status: dict[str, Any] = {"count": len(report.fetched) + len(report.kept), "failed": report.failed}
    if report.failed:
        status["error"] = "; ".join(f"{k}: {v}" for k, v in sorted(report.failed.items()))
        log.warning("prompts: %s", status["error"])
    _keep(store, status)
    return report


def _keep(store, status: dict) -> None:
    try:
        before = store.get_meta("prompts_status") or {}
        if before == status:
            return
        store.set_meta(prompts_status=status)
        # A failure that persists is noted once, not every round.
        if status.get("error") and status["error"] != before.get("error"):
            store.note_error(f"prompts: {status['error']}"[:1000])
    except Exception:  # noqa: BLE001 - a full disk must not turn into a failed sync round
        log.exception("prompts: could not record the outcome")
