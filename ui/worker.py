"""Run slow work (folder detection, file scans) on a worker thread and get the result back on the GUI thread.

The work runs on a Python thread pool (PySide's QThreadPool.start(callable) did not keep the callable alive
reliably: jobs vanished or crashed); results come back through a queued Qt signal, so callbacks run on the GUI
thread. Work belongs to a widget (its owner): when the owner is gone — the page closed with the window while the work
ran — the result is dropped instead of reaching widgets that were deleted.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot
from shiboken6 import isValid


class _Dispatcher(QObject):
    """One long-lived object on the GUI thread: a signal emitted on a worker is queued to its slot there."""

    ready = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.ready.connect(self._deliver)

    @Slot(object)
    def _deliver(self, item: tuple[QObject, Callable[[Any], None], Any]) -> None:
        owner, callback, value = item
        if isValid(owner):  # else the page (and its labels) were deleted while the work ran: nobody to tell
            callback(value)


_dispatcher: _Dispatcher | None = None
_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="kiln-ui-worker")


def run_in_background(
    owner: QObject,
    function: Callable[[], Any],
    on_done: Callable[[Any], None],
    on_error: Callable[[Exception], None],
) -> None:
    """Call `function` on a pool thread; `on_done(result)` or `on_error(exception)` run later on the GUI thread,
    unless `owner` (the widget the callbacks update) has been deleted by then.

    Must be called from the GUI thread.
    """
    global _dispatcher
    if _dispatcher is None:
        _dispatcher = _Dispatcher()
    dispatcher = _dispatcher

    def job() -> None:
        try:
            result = function()
        except Exception as error:  # reported to the page, which shows it as a message
            dispatcher.ready.emit((owner, on_error, error))
        else:
            dispatcher.ready.emit((owner, on_done, result))

    _pool.submit(job)


