"""Settings are declared once, validated at load, and documented."""

from __future__ import annotations

import pytest

from hailong_core.settings import SettingsError
from kiosk import settings as kiosk_settings
from sync_server import settings as server_settings
from tools.gen_settings_doc import DOC, render


def test_docs_match_declarations():
    assert DOC.read_text(encoding="utf-8") == render(), "run: python -m tools.gen_settings_doc"


def test_environment_and_file_override_defaults(tmp_path, monkeypatch):
    (tmp_path / "settings.json").write_text('{"batch_size": 50}', encoding="utf-8")
    monkeypatch.setenv("HAILONG_KIOSK_SYNC_INTERVAL_S", "2.5")
    s = kiosk_settings.load(tmp_path)
    assert (s.batch_size, s.sync_interval_s, s.read_timeout_s) == (50, 2.5, 30.0)


@pytest.mark.parametrize("overrides, fragment", [
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": "many"}, "batch_size"),
    ({"nonsense": 1}, "nonsense"),
])
def test_bad_values_are_refused_by_name(tmp_path, overrides, fragment):
    with pytest.raises(SettingsError, match=fragment):
        kiosk_settings.load(tmp_path, **overrides)


def test_server_settings_from_environment(monkeypatch):
    monkeypatch.setenv("HAILONG_SERVER_MAX_BATCH_ITEMS", "7")
    assert server_settings.load().max_batch_items == 7
    monkeypatch.setenv("HAILONG_SERVER_PORT", "99999")
    with pytest.raises(SettingsError, match="port"):
        server_settings.load()
