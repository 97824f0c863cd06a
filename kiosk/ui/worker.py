"""The one background bridge: sync rounds run on a worker thread and report back by signal.

The UI never waits on the network (contract 10). :class:`SyncWorker` lives in its own
:class:`QThread`; a single-shot timer inside that thread starts each round, and the delay the
round returns schedules the next one. The worker never touches a widget: whoever cares connects
to :attr:`SyncWorker.sig_sync_finished` (the composition root, ``kiosk.app``).
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QCoreApplication, QObject, QThread, QTimer, Signal, Slot

log = logging.getLogger(__name__)


class SyncWorker(QObject):
    """Runs ``service.run_round()`` off the UI thread, forever, until :meth:`stop`.

    ``service`` is anything with ``run_round(force: bool) -> dict`` (a ``kiosk.sync.SyncService``)
    and, optionally, ``store`` with ``note_error(message)``. :meth:`start`, :meth:`stop`,
    :meth:`request_sync_now` and :meth:`record_error` are safe to call from the UI thread.
    """

    sig_sync_finished = Signal(dict)
    """Fires after every sync round, from the worker thread.

    Connect it to a slot of a QObject: Qt then queues the call onto that object's thread. A plain
    function or lambda would run in the worker thread, where no widget may be touched.

    Carries the round's report: ``{"delay": s, "sent": n, "kept_aside": n, "config_changed": bool,
    "error": str | None}``; ``config_changed`` means the store holds a new config (questionnaire,
    unit) and the start screen should be rebuilt.
    """

    sig_job_finished = Signal(str, dict)
    """Fires after a job from :meth:`submit` ran, from the worker thread (connect a QObject slot).

    Carries the job's name and its result: whatever dict the job returned, or
    ``{"ok": False, "error": "..."}`` when it raised.
    """

    # Internal: cross-thread requests. Emitting is safe from any thread; the slots run in ours.
    _sig_job = Signal(str, object)
    _sig_sync_now = Signal()
    _sig_stop = Signal()
    _sig_note_error = Signal(str)

    def __init__(self, service):
        super().__init__()  # no parent: the worker moves to its own thread
        self._service = service
        self._stopped = False  # read in the worker thread after stop(); a bool swap is atomic under the GIL
        self._timer: QTimer | None = None
        self._thread = QThread()
        self._thread.setObjectName("hailong-sync")
        self.moveToThread(self._thread)
        self._thread.started.connect(self._on_started)
        self._sig_sync_now.connect(self._on_sync_now)
        self._sig_job.connect(self._on_job)
        self._sig_stop.connect(self._on_stop)
        self._sig_note_error.connect(self._on_note_error)

    # --- called from the UI thread -------------------------------------------------------------

    def start(self) -> None:
        """Start the thread; the first round runs at once."""
        if self._thread.isRunning():
            return
        self._stopped = False
        if self.thread() is not self._thread:
            self.moveToThread(self._thread)  # back from a previous stop()
        self._thread.start()

    def is_running(self) -> bool:
        return self._thread.isRunning()

    @Slot()
    def request_sync_now(self) -> None:
        """Run a forced round (upload, config, heartbeat) as soon as the current one is done."""
        self._sig_sync_now.emit()

    def submit(self, name: str, job) -> None:
        """Run ``job()`` (no arguments, returns a dict, touches no widget) on the worker thread.

        For the admin screen's network actions (connection test, enrolment): the UI never waits
        on the network. The result comes back through :attr:`sig_job_finished`. Jobs wait for a
        sync round in progress (one bridge, one thing at a time); if the thread is not running
        the job runs when it starts.
        """
        self._sig_job.emit(name, job)

    @Slot(str)
    def record_error(self, message: str) -> None:
        """Keep ``message`` as the store's last error, written from the worker thread."""
        self._sig_note_error.emit(message)

    def stop(self, timeout_ms: int | None = None) -> bool:
        """Stop the timer, quit the thread and wait for it; True when the thread has ended.

        A round in progress finishes first (its network calls have explicit timeouts), so the
        default wait covers the sync client's connect and read timeouts.
        """
        if not self._thread.isRunning():
            return True
        if timeout_ms is None:
            settings = getattr(self._service, "settings", None)
            seconds = getattr(settings, "connect_timeout_s", 5.0) + getattr(settings, "read_timeout_s", 30.0)
            timeout_ms = int(seconds * 1000) + 2000
        self._stopped = True
        self._sig_stop.emit()
        finished = self._thread.wait(timeout_ms)
        if not finished:
            log.error("sync thread did not stop within %d ms", timeout_ms)
        return finished

    # --- run in the worker thread ----------------------------------------------------------------

    @Slot()
    def _on_started(self) -> None:
        # Created here so the timer belongs to the worker thread and fires there (it moves with
        # the worker on a restart).
        if self._timer is None:
            self._timer = QTimer(self)
            self._timer.setSingleShot(True)
            self._timer.timeout.connect(self._on_timer)
        self._timer.start(0)

    @Slot()
    def _on_timer(self) -> None:
        self._run(force=False)

    @Slot()
    def _on_sync_now(self) -> None:
        self._run(force=True)

    def _run(self, force: bool) -> None:
        if self._stopped or self._timer is None:
            return  # a request queued before stop(): never run a round after it
        self._timer.stop()
        try:
            report = self._service.run_round(force=force)
        except Exception as exc:  # noqa: BLE001 - run_round never raises; if it does, keep the kiosk alive
            log.exception("sync round raised")
            report = {"delay": 60.0, "sent": 0, "kept_aside": 0, "config_changed": False,
                      "error": f"unexpected: {exc.__class__.__name__}: {exc}"}
        self.sig_sync_finished.emit(report)
        if self._stopped:
            return
        delay_ms = max(0, int(float(report.get("delay") or 0) * 1000))
        self._timer.start(delay_ms)

    @Slot(str, object)
    def _on_job(self, name: str, job) -> None:
        try:
            result = job()
        except Exception as exc:  # noqa: BLE001 - a job's failure is its result, never a dead worker
            log.exception("worker job %s failed", name)
            result = {"ok": False, "error": f"{exc.__class__.__name__}: {exc}"}
        self.sig_job_finished.emit(name, result if isinstance(result, dict) else {"ok": True, "value": result})

    @Slot(str)
    def _on_note_error(self, message: str) -> None:
        store = getattr(self._service, "store", None)
        if store is not None:
            store.note_error(message)

    @Slot()
    def _on_stop(self) -> None:
        if self._timer is not None:
            self._timer.stop()  # stopped from its own thread, as Qt requires
        # Hand the object (and its timer) back to the main thread so it is deleted there cleanly.
        app = QCoreApplication.instance()
        if app is not None:
            self.moveToThread(app.thread())
        self._thread.quit()
