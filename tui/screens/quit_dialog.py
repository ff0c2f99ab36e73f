"""Quit while a sync runs? The question names the runs quitting would interrupt, and says so
as soon as they have finished: quitting then interrupts nothing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from rich.text import Text
from textual.widgets import Label, Static
from textual.worker import Worker

from core.textsafe import visible
from tui.screens.accounts import SYNC_LABELS
from tui.screens.dialogs import ConfirmScreen
from tui.widgets.account_table import LiveRun


def running_here(workers: Iterable[Worker], live: Mapping[str, LiveRun]) -> dict[str, str]:
    """What quitting this console would interrupt, by account: the syncs started from it
    (their workers, from before the run starts to after it ends) and the runs of this
    process seen running (the scheduled runs it fired)."""
    running = {w.group.removeprefix("run:"): w.name or "a sync" for w in workers
               if w.group.startswith("run:") and not w.is_finished}
    for account, run in live.items():
        running.setdefault(account, f"{SYNC_LABELS.get(run.kind, run.kind)} of {account}")
    return running


class QuitDialog(ConfirmScreen):
    """y quits, n stays; the text follows the runs it warns about."""

    def __init__(self, running: Mapping[str, str]) -> None:
        super().__init__("", "", yes="Quit")
        self.running = dict(running)
        self.finished: dict[str, str] = {}
        self.title_text, self.question = self._texts()

    def update_running(self, running: Mapping[str, str]) -> None:
        """What runs now: those it warned about that are gone have finished."""
        gone = [account for account in self.running if account not in running]
        if not gone:
            return
        for account in gone:
            self.finished[account] = self.running.pop(account)
        title, question = self._texts()
        self.query_one(".dialog-title", Label).update(Text(visible(title)))
        self.query_one(".dialog-body", Static).update(Text(visible(question, multiline=True)))

    @property
    def all_finished(self) -> bool:
        return not self.running

    def _texts(self) -> tuple[str, str]:
        done = ", ".join(self.finished.values())
        if not self.running:
            have = "has" if len(self.finished) == 1 else "have"
            return (f"The sync{'s' if len(self.finished) > 1 else ''} {have} finished",
                    f"{done} {have} finished: quitting interrupts nothing now.")
        it = "it" if len(self.running) == 1 else "each"
        question = (f"Running: {', '.join(self.running.values())}. Quitting interrupts "
                    f"{it if it == 'it' else 'them'}; {it} resumes where it stopped on its "
                    "next run.")
        if done:
            question += f"\nFinished meanwhile: {done}."
        return "Quit while a sync runs?", question
