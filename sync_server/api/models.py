"""Pydantic models of protocol v1: the text of the OpenAPI document, and parsing of small bodies.

The upload itself is parsed and checked by hand (``sync_server.ingest``), item by item, because a
bad item must be rejected alone rather than fail the whole batch; its models here document it.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator, model_validator


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


class Strict(BaseModel):
    """Unknown fields refused by name; no NUL characters in text (PostgreSQL cannot store them,
    and no client of ours sends them), so both back ends answer the same 422."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data):
        if _has_nul(data):
            raise ValueError("text must not contain NUL characters")
        return data


UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
# JSON Schema's way to say "both or neither" (OpenAPI 3.1), so the document says what the server checks.
BOOT_STAMP_TOGETHER = {"dependentRequired": {"boot_id": ["mono_ms"], "mono_ms": ["boot_id"]}}
BOOT_ID_DOC = "The kiosk's boot id (a lowercase UUID: Linux's boot_id, else one per app start); sent with mono_ms, never alone."


def _mono_ms(what: str):
    return Field(default=None, ge=0, lt=2**53, description=f"The kiosk's monotonic clock in milliseconds {what} "
                 "(CLOCK_MONOTONIC: never set, counts from boot); sent with boot_id, never alone.")


class BootStamped(Strict):
    """Bodies that may carry the kiosk's boot stamp: ``boot_id`` and ``mono_ms`` come together.

    Typed ``str``/``int`` with a default of None, not ``| None``: absent when unknown, never null.
    """

    model_config = ConfigDict(extra="forbid", json_schema_extra=BOOT_STAMP_TOGETHER)

    @field_validator("mono_ms", mode="before", check_fields=False)
    @classmethod
    def _integral(cls, value):
        # JSON Schema's "integer" is by value (5.0 is one); true, "5" and 5.5 are not.
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if type(value) is not int:
            raise ValueError("mono_ms must be an integer")
        return value

    @model_validator(mode="after")
    def _together(self):
        if (self.boot_id is None) != (self.mono_ms is None):
            raise ValueError("boot_id and mono_ms come together")
        return self


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable error code from the catalogue, e.g. `batch_too_large`.")
    message: str = Field(description="What went wrong, for people.")


class ErrorBody(BaseModel):
    error: ErrorDetail


class EnrollIn(Strict):
    code: str = Field(min_length=1, max_length=64, description="The single-use enrolment code printed by `hailong-server enroll-code`.")
    name: str | None = Field(default=None, max_length=100, description="A label for this kiosk, e.g. 'Quầy 2'.")


class EnrollOut(BaseModel):
    device_id: str
    token: str = Field(description="Bearer token for every later call; shown once.")
    unit_code: str
    server_time: str
    name: str | None = Field(None, description="The kiosk's name (label) as the server keeps it; shown on the kiosk's admin screen.")
    site_id: int | None = Field(None, description="The site (điểm tiếp nhận) it was enrolled to (issue 13).")
    counter: str | None = Field(None, description="Its counter (quầy) at that site, when the code named one.")
    kind: str = Field("kiosk", description="`kiosk`, or `relay` for an office's sync server enrolled with a relay code (issue 17).")


class QuestionnaireRef(Strict):
    id: str
    version: int


class ResponseRecord(Strict):
    # Documentation only: records are checked by hand (hailong_core.response.check_record), item by item.
    model_config = ConfigDict(extra="forbid", json_schema_extra=BOOT_STAMP_TOGETHER)

    id: str = Field(description="UUIDv7 born on the device with the answer; a retry resends it.")
    seq: int = Field(gt=0, description="The device's sequence number.")
    unit_code: str = Field(description="Must be the unit the device's token belongs to.")
    officer_id: str | None = None
    procedure_group: str | None = Field(None, description="Field of the errand (lĩnh vực thủ tục), a short lowercase code "
                                        "from the province's catalogue; absent or null when not known.")
    dossier_code: str = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$",
                              description="The dossier code (mã hồ sơ) from the citizen's receipt, when the rating was tied to "
                              "one (scanner, counter system, the receipt's phone link); absent otherwise, never null. "
                              "Matched case-insensitively. One rating counts per dossier: the first the server receives; "
                              "a later one is kept and flagged. Never shown beside a rating to anyone who sees officers "
                              "(docs/dossiers.md).")
    questionnaire: QuestionnaireRef
    channel: Literal["kiosk", "qr"]
    created_at: str = Field(description="Device time, RFC 3339 with its UTC offset.")
    answers: dict[str, Union[int, str, list[str]]] = Field(description="{question id: level number 1..N | option id | [option ids] | text}")
    flags: list[str] = Field(default_factory=list, description="e.g. incomplete, cooldown, burst, after_hours")
    boot_id: str = Field(None, pattern=UUID_PATTERN, description=BOOT_ID_DOC + " Absent (not null) on records made before it existed.")
    mono_ms: StrictInt = _mono_ms("when the answer was given; with an anchor of the same boot the server places "
                                  "the answer by it and flags a created_at that differs by more than the clock tolerance")


class UploadIn(BootStamped):
    responses: list[ResponseRecord]
    device_time: str | None = Field(default=None, description="The device's clock when sending; used to flag devices whose clock is off.")
    boot_id: str = Field(None, pattern=UUID_PATTERN, description=BOOT_ID_DOC)
    mono_ms: int = _mono_ms("when sending: the server's receipt time minus it anchors this boot's clock")


class ItemError(BaseModel):
    code: str
    message: str
    field: str | None = None


class ItemResult(BaseModel):
    id: str | None = Field(description="The item's id, or null when the item had no valid id.")
    status: Literal["accepted", "duplicate", "conflict", "rejected"]
    error: ItemError | None = None


class UploadOut(BaseModel):
    results: list[ItemResult] = Field(description="One result per item, in the order sent.")
    server_time: str


CheckName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
_BIG = 2**62  # bytes and counts: far beyond any disk, and inside both back ends' integers


class SelfTestSummary(Strict):
    """The kiosk's self-test as its last runs left it (``hailong-kiosk self-test``, and the light checks it re-runs)."""

    at: str | None = Field(None, max_length=40, description="When a check last ran (RFC 3339).")
    full_at: str | None = Field(None, max_length=40, description="When every check (the window and the integrity check too) "
                                "last ran: the installer, an update, IT staff; null when never on this kiosk.")
    ok: int = Field(ge=0, le=100)
    warn: int = Field(ge=0, le=100)
    fail: int = Field(ge=0, le=100)
    failing: list[CheckName] = Field(default_factory=list, max_length=20, description="Names of the checks that failed, e.g. `writable`.")
    warning: list[CheckName] = Field(default_factory=list, max_length=20, description="Names of the checks that warned, e.g. `time`.")


class TimeFacts(Strict):
    """The system clock as the kiosk's self-test reads it (timedatectl); null where it cannot say."""

    zone: str | None = Field(None, max_length=64, description="The system's time zone, e.g. Asia/Ho_Chi_Minh.")
    synchronized: bool | None = Field(None, description="Whether the clock reached its NTP server.")
    offset_ms: float | None = Field(None, ge=-1e12, le=1e12, description="Offset from the NTP server in milliseconds, when known.")
    server: str | None = Field(None, max_length=255, description="The NTP server in use.")


class HeartbeatDiagnostics(Strict):
    """What IT staff see of a kiosk on the fleet page without a visit (issue 16). Every field optional."""

    selftest: SelfTestSummary | None = None
    disk_free_bytes: int | None = Field(None, ge=0, le=_BIG, description="Free space on the disk of the kiosk's data folder.")
    db_bytes: int | None = Field(None, ge=0, le=_BIG, description="Size of the kiosk's database (with its write-ahead log).")
    uptime_s: float | None = Field(None, ge=0, le=1e10, description="Seconds since the kiosk app started.")
    system_uptime_s: float | None = Field(None, ge=0, le=1e10, description="Seconds since the machine booted.")
    time: TimeFacts | None = None
    last_error_at: str | None = Field(None, max_length=40, description="When `last_error` was noted (RFC 3339).")


class UpdateReport(Strict):
    """What became of the release staged for the kiosk (remote update, issue 16; kiosk/updater.py)."""

    release_id: int = Field(None, ge=1, le=2**62, description="The `release.id` of the config that named it.")
    version: str = Field(max_length=32, pattern=r"^[0-9A-Za-z.+!_-]{1,32}$")
    outcome: Literal["installed", "rolled_back", "failed", "refused"] = Field(
        description="`installed`: the new version runs and reached the server; `rolled_back`: it did not become healthy and "
                    "the kiosk went back to the previous one by itself; `failed`: it could not be installed or its self-test "
                    "failed (nothing was switched); `refused`: the file was not the one the config pinned (SHA-256) or too large.")
    reason: str = Field(None, max_length=1000, description="Why, in words (a rollback's cause, pip's or the self-test's message).")
    sha256: str = Field(None, pattern=r"^[0-9a-f]{64}$")
    at: str = Field(None, max_length=40, description="When the kiosk decided (RFC 3339).")
    seconds: float = Field(None, ge=0, le=1e6, description="How long downloading, installing and self-testing took.")


class HeartbeatIn(BootStamped):
    # Bounded: a count beyond any real queue is a broken client, and SQLite integers stop at 2**63.
    pending: int = Field(ge=0, le=1_000_000_000)
    kept_aside: int | None = Field(default=None, ge=0, le=1_000_000_000)
    last_sync_at: str | None = Field(default=None, max_length=40)
    last_error: str | None = Field(default=None, max_length=1000)
    app_version: str = Field(max_length=32)
    device_time: str = Field(max_length=40)
    boot_id: str = Field(None, pattern=UUID_PATTERN, description=BOOT_ID_DOC)
    mono_ms: int = _mono_ms("when sending: the server's receipt time minus it anchors this boot's clock")
    diagnostics: HeartbeatDiagnostics = Field(None, description="Self-test summary, disk, database size, uptime and clock "
                                              "(issue 16). Absent from older kiosks (never null); with it the server answers "
                                              "200 `HeartbeatOut` instead of 204.")
    update: UpdateReport = Field(None, description="The outcome of the last remote update (issue 16), until the server has "
                                 "had it once; absent otherwise (never null).")


class LogRequest(BaseModel):
    id: str = Field(pattern=UUID_PATTERN, description="Send it back as `request_id` with the lines.")
    lines: int = Field(ge=1, le=500, description="How many of the log's last lines are asked for.")


class HeartbeatOut(BaseModel):
    """The answer to a heartbeat that carried `diagnostics`: what the server asks of the kiosk."""

    log_request: LogRequest | None = Field(None, description="Upload the log's last lines (`POST /api/v1/kiosk/log`), "
                                           "asked for on the fleet page; null when nothing is asked.")
    server_time: str


LOG_MAX_LINES, LOG_MAX_LINE_CHARS, LOG_MAX_BYTES = 500, 2000, 64 * 1024 + 500


class LogUploadIn(Strict):
    """The kiosk's log lines for one log request, scrubbed of tokens, PINs and dossier codes on the kiosk."""

    request_id: str = Field(pattern=UUID_PATTERN, description="The `log_request.id` the heartbeat answer carried.")
    lines: list[str] = Field(max_length=LOG_MAX_LINES, description=f"The log's last lines, oldest first: at most "
                             f"{LOG_MAX_LINES} lines of {LOG_MAX_LINE_CHARS} characters, 64 KiB in all.")
    truncated: bool = Field(False, description="True when the size bound cut lines that were asked for.")

    @field_validator("lines")
    @classmethod
    def _bounded(cls, lines: list[str]) -> list[str]:
        if any(len(line) > LOG_MAX_LINE_CHARS for line in lines):
            raise ValueError(f"a line is longer than {LOG_MAX_LINE_CHARS} characters")
        if sum(len(line.encode("utf-8")) + 1 for line in lines) > LOG_MAX_BYTES:
            raise ValueError("the lines exceed 64 KiB")
        return lines


class UnitOut(BaseModel):
    code: str
    name: str
    level: str
    parent_code: str | None


class ReleaseBlock(BaseModel):
    """A kiosk release staged for this kiosk: download it from `url` with the device token, check its SHA-256."""

    id: int
    version: str = Field(description="The version it installs (`kiosk.__version__` of the wheel).")
    sha256: str = Field(description="SHA-256 of the wheel (hex): a download that differs is refused.")
    url: str = Field(description="Path of the wheel on this server (`GET`, Bearer device token).")
    filename: str = Field(description="The wheel's file name, e.g. `hailong-0.2.0-py3-none-any.whl`.")
    bytes: int
    staged_at: str = Field(description="When it was staged for this kiosk: staging again lets a kiosk retry a release that failed.")


class ConfigOut(BaseModel):
    unit: UnitOut
    officers: list[dict]
    questionnaire: dict = Field(description="The active questionnaire document: {id, version, title, criteria, questions}.")
    settings: dict
    site: dict | None = Field(None, description="The site (điểm tiếp nhận) the kiosk was enrolled to: {id, name, address, counter, "
                              "counter_name}; its header shows the site's name and counter (issue 13).")
    prompts: list[dict] = Field(default_factory=list, description="Recorded voice prompts: {name, lang, sha256, bytes, duration_ms, "
                                "path}; fetch each from `path` with the device token (docs/voice.md).")
    release: ReleaseBlock | None = Field(None, description="The kiosk release staged for this kiosk (remote update, issue 16); "
                                         "absent when none is. Staging changes the ETag.")
