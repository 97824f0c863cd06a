"""README command 1's core: the demo starts a server with the sites of a structure, enrols a
kiosk to a site and counter, the kiosk syncs, and a stop signal leaves no child running."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time

import psutil
import pytest

from tests.support import ROOT, free_port, server_cli

READY = "Nhấn Ctrl+C để dừng"

STRUCTURES = {
    # structure: (the kiosk's unit, its site, the province's centre, the centre's sites by name)
    "2026": ("7210", "Trung tâm phục vụ hành chính công phường Bắc Giang — cơ sở 1", "24-HCC",
             {"Trung tâm Phục vụ hành chính công thành phố Bắc Ninh — trụ sở chính",
              "Trung tâm Phục vụ hành chính công thành phố Bắc Ninh — chi nhánh"}),
    "2023": ("7201", "Bộ phận một cửa phường Thọ Xương", "24-HCC",
             {"Trung tâm Phục vụ hành chính công tỉnh Bắc Giang — trụ sở chính",
              "Trung tâm Phục vụ hành chính công tỉnh Bắc Giang — chi nhánh"}),
}


def _headless_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env.pop("HAILONG_SERVER_SEED_UNITS", None)  # the demo chooses it from --structure
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _demo_argv(data, port: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "tools.demo", "--data", str(data), "--port", str(port), *extra]


class _Demo:
    """The demo run as a child process until it prints its ready line."""

    def __init__(self, argv: list[str]) -> None:
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=_headless_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, text: str, timeout: float = 40.0) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"the demo printed no {text!r} within {timeout} s:\n{self.output}")
            if line is None:
                pytest.fail(f"the demo ended (code {self.proc.wait()}) before {text!r}:\n{self.output}")
            self.lines.append(line)

    def finish(self, timeout: float = 30.0) -> int:
        code = self.proc.wait(timeout)
        while (line := self._queue.get(timeout=5)) is not None:
            self.lines.append(line)
        return code

    @property
    def output(self) -> str:
        return "".join(self.lines)


def _wait_answers(db, unit: str, count: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if json.loads(server_cli(db, "stats", "--json").stdout).get(unit) == count:
            return
        time.sleep(0.3)  # polling the server for a condition, with a deadline
    pytest.fail(f"the server did not get {count} answers of {unit} within {timeout} s")


@pytest.mark.parametrize("structure, stop", [("2026", signal.SIGTERM), ("2023", signal.SIGINT)])
def test_demo_structure_sites_kiosk_and_stop(tmp_path, structure, stop):
    unit, kiosk_site, centre, centre_sites = STRUCTURES[structure]
    port = free_port()
    demo = _Demo(_demo_argv(tmp_path, port, "--structure", structure, "--answers", "3"))
    children: list[psutil.Process] = []
    try:
        demo.wait_for(READY)
        children = psutil.Process(demo.proc.pid).children(recursive=True)
        assert len(children) >= 2, children  # the server and the kiosk
        out = demo.output
        assert "No display" in out and "Không có màn hình" in out
        password = (tmp_path / "admin-password.txt").read_text().strip()
        assert f"admin / {password}" in out
        assert f"Kiosk: {kiosk_site} — Quầy 1" in out  # what the kiosk's header reads

        db = tmp_path / "server.sqlite3"
        _wait_answers(db, unit, 3)
        sites = json.loads(server_cli(db, "sites", "--json").stdout)
        by_name = {s["name"]: s for s in sites}
        assert {c["code"] for c in by_name[kiosk_site]["counters"]} == {"1", "2"}
        assert by_name[kiosk_site]["unit_code"] == unit
        assert {s["name"] for s in sites if s["unit_code"] == centre} >= centre_sites
        devices = json.loads(server_cli(db, "devices", "--json").stdout)
        assert [(d["unit_code"], d["site_id"], d["counter"]) for d in devices] == [(unit, by_name[kiosk_site]["id"], "1")]
        if structure == "2026":  # today's province: no districts
            units = json.loads(server_cli(db, "units", "--json", "--on", "2026-12-01").stdout)
            assert not [u for u in units if u["level"] == "district"]
            assert {u["code"]: u["parent_code"] for u in units}[unit] == "24"

        demo.proc.send_signal(stop)
        assert demo.finish() == 0, demo.output
        gone, alive = psutil.wait_procs(children, timeout=5)
        assert not alive, f"left running after {stop.name}: {alive}"
    finally:
        for child in children:
            if child.is_running():
                child.kill()
        if demo.proc.poll() is None:
            demo.proc.kill()

    from kiosk.store import Store

    store = Store(tmp_path / "kiosk" / "kiosk.sqlite3")
    config = store.get_meta("config")
    store.close()
    assert (config["site"]["name"], config["site"]["counter"]) == (kiosk_site, "1")
    assert config["settings"]["public_base_url"] == f"http://127.0.0.1:{port}"  # the thank-you QR opens on this machine
    assert config["settings"]["hotline"]

    if structure == "2026":  # a second run continues where the first stopped: no new sites, the same kiosk
        again = subprocess.run(_demo_argv(tmp_path, free_port(), "--structure", structure, "--answers", "2", "--exit-after-sync"),
                               cwd=ROOT, env=_headless_env(), capture_output=True, text=True, timeout=60)
        assert again.returncode == 0, again.stdout + again.stderr
        assert json.loads(server_cli(db, "sites", "--json").stdout) == sites
        assert len(json.loads(server_cli(db, "devices", "--json").stdout)) == 1
        assert json.loads(server_cli(db, "stats", "--json").stdout) == {unit: 5}


def test_demo_folder_keeps_its_structure(tmp_path):
    (tmp_path / "structure.txt").write_text("2026\n")
    out = subprocess.run(_demo_argv(tmp_path, free_port(), "--structure", "2023"), cwd=ROOT, env=_headless_env(),
                         capture_output=True, text=True, timeout=30)
    assert out.returncode != 0 and "holds the 2026 structure" in out.stderr
