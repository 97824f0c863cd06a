"""Procedure groups (lĩnh vực thủ tục): which kind of errand an answer was about.

A response may carry ``procedure_group``: a short code from the province's catalogue
(``assets/procedure_groups/default.json``). The kiosk stamps the group of the officer signed in at
the counter (each officer's group is set on the server and travels in the kiosk config); the phone
form lets the citizen pick one. Answers without one are reported as "not stated".

The protocol checks the code's *shape* only, not membership: a kiosk whose config is older than a
catalogue edit must never have its answers refused (contract 5), so an unknown code is stored and
reported under its code.
"""

from __future__ import annotations

import re
from functools import lru_cache

from hailong_core.assets import load_json_asset

CODE_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
NOT_STATED = {"vi": "Không rõ lĩnh vực", "en": "Field not stated"}


@lru_cache(maxsize=1)
def catalogue() -> tuple[dict, ...]:
    """The shipped groups, in display order: ``({"code", "label": {"vi", "en"}}, …)``."""
    groups = tuple(load_json_asset("procedure_groups", "default.json")["groups"])
    for g in groups:
        if not CODE_RE.match(g["code"]):
            raise ValueError(f"procedure group code {g['code']!r} is not a short lowercase word")
    return groups


def codes() -> tuple[str, ...]:
    return tuple(g["code"] for g in catalogue())


def label(code: str | None, lang: str = "vi") -> str:
    """The group's label in ``lang``; the code itself when unknown; "not stated" for None."""
    if code is None:
        return NOT_STATED.get(lang, NOT_STATED["vi"])
    found = next((g for g in catalogue() if g["code"] == code), None)
    return found["label"].get(lang) or found["label"]["vi"] if found else code


def valid_code(value: object) -> bool:
    return isinstance(value, str) and bool(CODE_RE.match(value))
