"""Settings declared once: name, type, default, help. Loaded from defaults < file < environment < overrides.

Both the kiosk and the server declare their settings with :class:`Setting`; ``docs/settings.md``
is generated from the declarations (``python -m tools.gen_settings_doc``) and a test keeps it in step.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable


class SettingsError(ValueError):
    """A setting has a bad value; the message names it."""


@dataclass(frozen=True)
class Setting:
    name: str
    type: type
    default: Any
    help: str
    check: Callable[[Any], bool] | None = None
    check_help: str = ""


def _coerce(setting: Setting, raw: Any) -> Any:
    if raw is None:
        return None
    try:
        if setting.type is bool and isinstance(raw, str):
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if setting.type in (int, float) and isinstance(raw, bool):
            raise ValueError(raw)
        return setting.type(raw)
    except (TypeError, ValueError):
        raise SettingsError(f"setting {setting.name}: {raw!r} is not a valid {setting.type.__name__}") from None


class Settings:
    """A validated, read-only bag of values for one spec."""

    def __init__(self, spec: tuple[Setting, ...], values: dict[str, Any]):
        object.__setattr__(self, "_spec", {s.name: s for s in spec})
        object.__setattr__(self, "_values", values)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name, value):
        raise AttributeError("settings are read-only; build a new one with replace()")

    def as_dict(self) -> dict[str, Any]:
        return dict(self._values)

    def replace(self, **changes: Any) -> "Settings":
        return load_settings(tuple(self._spec.values()), overrides={**self._values, **changes})


def load_settings(spec: tuple[Setting, ...], *, env_prefix: str = "", file: Path | None = None,
                  overrides: dict[str, Any] | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Resolve every setting of ``spec``; unknown names in the file or overrides are refused."""
    names = {s.name for s in spec}
    layers: list[dict[str, Any]] = []
    if file is not None and file.exists():
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SettingsError(f"settings file {file}: {exc}") from exc
        if not isinstance(data, dict):
            raise SettingsError(f"settings file {file}: must hold a JSON object")
        layers.append(data)
    environ = os.environ if environ is None else environ
    if env_prefix:
        layers.append({s.name: environ[env_prefix + s.name.upper()] for s in spec if env_prefix + s.name.upper() in environ})
    layers.append(dict(overrides or {}))
    values = {s.name: s.default for s in spec}
    for layer in layers:
        for key, raw in layer.items():
            if key not in names:
                raise SettingsError(f"unknown setting {key!r}")
            values[key] = raw
    by_name = {s.name: s for s in spec}
    for key, raw in values.items():
        setting = by_name[key]
        value = _coerce(setting, raw) if raw is not None else None
        if setting.check is not None and value is not None and not setting.check(value):
            raise SettingsError(f"setting {key}: {value!r} {setting.check_help or 'is out of range'}")
        values[key] = value
    return Settings(spec, values)


def settings_markdown(title: str, spec: tuple[Setting, ...], env_prefix: str) -> str:
    """A Markdown table documenting ``spec``."""
    lines = [f"## {title}", "", "| setting | environment | default | meaning |", "|---|---|---|---|"]
    for s in spec:
        default = "(none)" if s.default is None else f"`{s.default}`"
        lines.append(f"| `{s.name}` | `{env_prefix}{s.name.upper()}` | {default} | {s.help} |")
    return "\n".join(lines) + "\n"
