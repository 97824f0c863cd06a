"""Voice prompts on the server (issue 12): check and keep the province's recordings, list them for kiosks.

The admin page (``/admin/prompts``) calls :func:`upload` and :func:`delete`; the config carries
:func:`config_entries`; kiosks download each recording from :data:`DOWNLOAD_PATH` with their token.
Recordings must be WAV files of 16-bit PCM (:func:`hailong_core.prompts.check_wav`), at most
``prompt_max_kb`` KiB. See ``docs/voice.md``.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from urllib.parse import urlencode

from hailong_core.prompts import LANG_RE, NAMES, WavError, check_wav
from sync_server.storage import Storage, User

DOWNLOAD_PATH = "/api/v1/kiosk/prompt"


class PromptRefused(ValueError):
    """An upload or deletion was refused; ``reason`` is a stable key (the page shows its message
    from the catalogue, ``prompt_err_<reason>``), ``values`` fill it in."""

    def __init__(self, reason: str, **values):
        super().__init__(reason)
        self.reason = reason
        self.values = values


def download_path(name: str, lang: str) -> str:
    return f"{DOWNLOAD_PATH}?{urlencode({'name': name, 'lang': lang})}"


def config_entries(storage: Storage) -> list[dict]:
    """The config's ``prompts`` list: ``name, lang, sha256, bytes, duration_ms, path`` of each recording."""
    return [{"name": p["name"], "lang": p["lang"], "sha256": p["sha256"], "bytes": p["bytes"],
             "duration_ms": p["duration_ms"], "path": download_path(p["name"], p["lang"])} for p in storage.prompts()]


def check_key(name: str, lang: str) -> tuple[str, str]:
    """``(name, lang)`` trimmed and checked, or :class:`PromptRefused` (``name`` or ``lang``)."""
    name, typed = (name or "").strip(), (lang or "").strip()
    if name not in NAMES:
        raise PromptRefused("name", name=name, names=", ".join(NAMES))
    if not LANG_RE.match(typed.lower()):
        raise PromptRefused("lang", lang=typed)
    return name, typed.lower()


def upload(storage: Storage, name: str, lang: str, content: bytes, *, max_kb: int, user: User | None,
           ip: str | None = None, now: datetime | None = None) -> dict:
    """Check and store one recording (replacing the one of that name and language); audited.

    Refusals (:class:`PromptRefused`): ``name``, ``lang``, ``empty``, ``too_big``, and the
    :class:`~hailong_core.prompts.WavError` reasons ``not_wav``, ``not_pcm16``, ``channels``,
    ``rate``, ``truncated``.
    """
    name, lang = check_key(name, lang)
    if not content:
        raise PromptRefused("empty")
    if len(content) > max_kb * 1024:
        raise PromptRefused("too_big", kb=(len(content) + 1023) // 1024, max_kb=max_kb)
    try:
        info = check_wav(content)
    except WavError as exc:
        raise PromptRefused(exc.reason, detail=exc.detail) from None
    now = now or datetime.now(timezone.utc)
    sha = hashlib.sha256(content).hexdigest()
    replaced = storage.put_prompt(name, lang, content, sha, info.duration_ms, now, user.username if user else None)
    detail = {"name": name, "lang": lang, "bytes": len(content), "sha256": sha, "duration_ms": info.duration_ms,
              "replaced": replaced}
    storage.audit(now, user, "prompt.upload", f"{name}.{lang}", detail, ip)
    return detail


def delete(storage: Storage, name: str, lang: str, *, user: User | None, ip: str | None = None,
           now: datetime | None = None) -> None:
    """Remove one recording (kiosks then fall back to the Vietnamese one or the generated voice); audited."""
    name, lang = check_key(name, lang)
    if not storage.delete_prompt(name, lang):
        raise PromptRefused("unknown", name=name, lang=lang)
    now = now or datetime.now(timezone.utc)
    storage.audit(now, user, "prompt.delete", f"{name}.{lang}", None, ip)
