"""One place where failed engine calls become a toast (workers run with exit_on_error=False)."""

from __future__ import annotations

from textual.worker import Worker, WorkerState

from core.errors import SincroError


def failure_text(error: BaseException | None) -> str:
    if isinstance(error, SincroError):
        return str(error)
    if error is None:
        return "failed"
    return f"internal error: {type(error).__name__}: {error}"


class ReportsFailures:
    """Mixin for widgets and screens that start workers: failures reach the operator."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            worker = event.worker
            self.app.notify(failure_text(worker.error),  # type: ignore[attr-defined]
                            title=worker.name or "Failed", severity="error", timeout=10,
                            markup=False)
