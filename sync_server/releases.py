"""Kiosk releases on the server (issue 16, remote update): check and keep a kiosk wheel, stage it for
some kiosks or all, name it in their config, serve it to them, keep the outcome they report.

``hailong-server release-add`` and the page ``/admin/releases`` call :func:`add`; both stage with
:func:`stage`. A kiosk's config carries :func:`config_block` (only when a release is staged for it,
so the ETag changes with the staging); the kiosk downloads the wheel from :data:`DOWNLOAD_PATH`
with its token (:func:`for_download`: only a release staged for that kiosk), checks its SHA-256,
installs it beside the running version and reports the outcome in its heartbeat
(:func:`note_report`). The kiosk's side is ``kiosk/updater.py``; docs/install-kiosk.md says how.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from datetime import datetime, timezone

from sync_server.storage import Device, Storage, StorageRefused, User

DOWNLOAD_PATH = "/api/v1/kiosk/releases/{version}/wheel"
OUTCOMES = ("installed", "rolled_back", "failed", "refused")
VERSION_PATTERN = r"^[0-9A-Za-z.+!_-]{1,32}$"
_WHEEL = re.compile(r"^hailong-(?P<version>[0-9A-Za-z.+!_]{1,32})-py3-none-any\.whl$")
_KIOSK_VERSION = re.compile(r"""^__version__\s*=\s*["']([^"']+)["']""", re.M)


class ReleaseRefused(ValueError):
    """A release, a staging or a download was refused; ``reason`` is a stable key (the page shows
    ``release_err_<reason>`` from the catalogue), ``values`` fill it in."""

    def __init__(self, reason: str, **values):
        super().__init__(f"{reason}: {values}" if values else reason)
        self.reason = reason
        self.values = values


def download_path(version: str) -> str:
    return DOWNLOAD_PATH.format(version=version)


def check_wheel(filename: str, content: bytes, *, max_mb: float) -> str:
    """The version of a kiosk wheel, after checking it is one; raises :class:`ReleaseRefused`.

    The kiosk knows its own version from ``kiosk.__version__`` (that is how it tells a trial of
    the new release from the old one), so the wheel's name, its metadata and that line must agree.
    Refusals: ``name``, ``empty``, ``too_big``, ``not_zip``, ``not_kiosk``, ``version_mismatch``.
    """
    match = _WHEEL.match(filename or "")
    if not match:
        raise ReleaseRefused("name", name=(filename or "")[:120])
    version = match.group("version")
    if not content:
        raise ReleaseRefused("empty")
    if len(content) > max_mb * 2**20:
        raise ReleaseRefused("too_big", mb=round(len(content) / 2**20, 1), max_mb=max_mb)
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as wheel:
            names = set(wheel.namelist())
            if not {"kiosk/__init__.py", "kiosk/cli.py", "kiosk/updater.py"} <= names:
                raise ReleaseRefused("not_kiosk")
            metadata = next((n for n in names if n.endswith(".dist-info/METADATA") and n.count("/") == 1), None)
            if metadata is None:
                raise ReleaseRefused("not_kiosk")
            meta = wheel.read(metadata).decode("utf-8", "replace")
            own = _KIOSK_VERSION.search(wheel.read("kiosk/__init__.py").decode("utf-8", "replace"))
    except zipfile.BadZipFile:
        raise ReleaseRefused("not_zip") from None
    fields = dict(line.split(": ", 1) for line in meta.split("\n\n", 1)[0].splitlines() if ": " in line)
    if fields.get("Name", "").lower() != "hailong" or "kiosk" not in re.findall(r"^Provides-Extra: (\S+)", meta, re.M):
        raise ReleaseRefused("not_kiosk")
    found = {"name": version, "metadata": fields.get("Version"), "kiosk": own.group(1) if own else None}
    if len(set(found.values())) != 1:
        raise ReleaseRefused("version_mismatch", **{k: v or "?" for k, v in found.items()})
    return version


def add(storage: Storage, settings, filename: str, content: bytes, *, notes: str | None = None, user: User | None = None,
        ip: str | None = None, now: datetime | None = None) -> dict:
    """Check and keep a kiosk wheel with its SHA-256 (audited ``release.add``); returns the release.

    Refusals (:class:`ReleaseRefused`): those of :func:`check_wheel`, and ``version_taken``.
    """
    version = check_wheel(filename, content, max_mb=settings.release_max_mb)
    now = now or datetime.now(timezone.utc)
    notes = (notes or "").strip()[:2000] or None
    try:
        rid = storage.add_release(version, filename, hashlib.sha256(content).hexdigest(), content, notes, now, user, ip)
    except StorageRefused as exc:
        raise ReleaseRefused(exc.code, version=version) from None
    return storage.release(rid)


def stage(storage: Storage, release_id: int, *, devices: list[str] | None = None, everyone: bool = False,
          unit: str | None = None, scope: set[str] | None = None, user: User | None = None, ip: str | None = None,
          now: datetime | None = None) -> int:
    """Stage a release for kiosks: the ``devices`` named, every kiosk (``everyone``), or those of
    ``unit`` and the units under it; revoked kiosks are left out, and only kiosks in ``scope`` (None:
    the province) count. Audited ``release.stage``; returns how many kiosks.

    Refusals: ``unknown_release``, ``unknown_device`` (an id not enrolled or out of scope),
    ``unknown_unit``, ``no_devices``.
    """
    release = storage.release(release_id)
    if release is None:
        raise ReleaseRefused("unknown_release", release=release_id)
    fleet = {d["id"]: d for d in storage.devices(scope)}
    if everyone:
        chosen, target = [d for d in fleet.values() if not d["revoked_at"]], "all"
    elif unit is not None:
        if storage.unit(unit) is None:
            raise ReleaseRefused("unknown_unit", unit=unit)
        codes = storage.subtree_codes(unit)
        chosen, target = [d for d in fleet.values() if d["unit_code"] in codes and not d["revoked_at"]], f"unit {unit}"
    else:
        unknown = [d for d in devices or () if d not in fleet]
        if unknown:
            raise ReleaseRefused("unknown_device", device=unknown[0][:40])
        chosen, target = [fleet[d] for d in devices or () if not fleet[d]["revoked_at"]], None
    if not chosen:
        raise ReleaseRefused("no_devices")
    return storage.stage_release(release_id, [d["id"] for d in chosen], now or datetime.now(timezone.utc), user, ip, target)


def unstage(storage: Storage, devices: list[str], *, scope: set[str] | None = None, user: User | None = None,
            ip: str | None = None, now: datetime | None = None) -> int:
    """Withdraw what was staged for these kiosks (a kiosk that already switched stays on its release)."""
    fleet = {d["id"] for d in storage.devices(scope)}
    unknown = [d for d in devices if d not in fleet]
    if unknown:
        raise ReleaseRefused("unknown_device", device=unknown[0][:40])
    return storage.unstage_release(devices, now or datetime.now(timezone.utc), user, ip)


def config_block(storage: Storage, device_id: str) -> dict | None:
    """The config's ``release`` block for this kiosk, or None when nothing is staged for it."""
    target = storage.release_targets([device_id]).get(device_id)
    if target is None:
        return None
    return {"id": target["release_id"], "version": target["version"], "sha256": target["sha256"],
            "url": download_path(target["version"]), "filename": target["filename"], "bytes": target["bytes"],
            "staged_at": target["staged_at"]}


def for_download(storage: Storage, device: Device, version: str) -> tuple[dict, bytes]:
    """``(release, content)`` of the release staged for ``device`` if its version is ``version``.

    Refusals: ``unknown_release`` (no release of that version), ``not_staged`` (not for this kiosk).
    """
    target = storage.release_targets([device.id]).get(device.id)
    if target is None or target["version"] != version:
        if not any(r["version"] == version for r in storage.releases()):
            raise ReleaseRefused("unknown_release", release=version)
        raise ReleaseRefused("not_staged", release=version)
    content = storage.release_content(target["release_id"])
    if content is None:  # removed between the two reads
        raise ReleaseRefused("unknown_release", release=version)
    return storage.release(target["release_id"]), content


def note_report(storage: Storage, device: Device, report: dict, now: datetime | None = None) -> bool:
    """Keep the outcome a heartbeat reported (``update`` field) on the kiosk's staged release.

    A report about another release than the one staged now (staged anew meanwhile) is dropped.
    """
    release_id = report.get("release_id")
    if report.get("outcome") not in OUTCOMES or not isinstance(release_id, int):
        return False
    return storage.note_release_outcome(device.id, release_id, report["outcome"], report.get("reason"), report.get("at"),
                                        report.get("seconds"), now or datetime.now(timezone.utc))
