"""One message catalogue per language (``catalogues/vi.json``, ``catalogues/en.json``); Vietnamese first."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

LANGS = ("vi", "en")
DEFAULT_LANG = "vi"
COOKIE = "hl_lang"
_DIR = Path(__file__).resolve().parent / "catalogues"


@lru_cache(maxsize=None)
def catalogue(lang: str) -> dict[str, str]:
    return json.loads((_DIR / f"{lang}.json").read_text(encoding="utf-8"))


def translator(lang: str):
    """``t(key, **values)``: the message in ``lang``, else Vietnamese, else the key itself."""
    own, base = catalogue(lang), catalogue(DEFAULT_LANG)

    def t(key: str, **values) -> str:
        text = own.get(key) or base.get(key) or key
        return text.format(**values) if values else text
    return t


def request_lang(request) -> str:
    lang = request.cookies.get(COOKIE, DEFAULT_LANG)
    return lang if lang in LANGS else DEFAULT_LANG
