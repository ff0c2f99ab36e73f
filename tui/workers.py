"""One place where failed engine calls become a toast (workers run with exit_on_error=False)."""

from __future__ import annotations

from textual.worker import Worker, WorkerState

from core.errors import SincroError
from core.textsafe import visible


def failure_text(error: BaseException | None) -> str:
    """One line for a toast; what an error quotes from a shop is shown, never obeyed."""
    if isinstance(error, SincroError):
        return visible(error)
    if error is None:
        return "failed"
    return visible(f"internal error: {type(error).__name__}: {error}")


class ReportsFailures:
    """Mixin for widgets and screens that start workers: failures reach the operator."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            worker = event.worker
            self.app.notify(failure_text(worker.error),  # type: ignore[attr-defined]
                            title=worker.name or "Failed", severity="error", timeout=10,
                            markup=False)
