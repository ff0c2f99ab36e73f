"""The selected account in a few lines: shop, key (masked), schedule, last run, quota."""

from __future__ import annotations

from datetime import tzinfo

from rich.text import Text
from textual.widgets import Static

from tui import format as fmt
from tui.data import AccountInfo
from tui.widgets.tones import outcome_style, tone


def quota_text(q: dict) -> str:
    if q.get("allowance") is None:
        return f"full syncs: {q.get('used', 0)} this month, no limit"
    return f"full syncs: {q['used']} of {q['allowance']} used this month, {q['left']} left"


class AccountDetail(Static):
    def show(self, info: AccountInfo | None, tz: tzinfo, note: str | None = None) -> None:
        if info is None:
            if note:
                self.update(Text(fmt.one_line(note), style=tone(self.app, "error")))
            else:
                self.update(Text("No account yet: press n to add one.", style="dim"))
            return
        a = info.account
        text = Text()
        text.append(a.name, style="bold")
        text.append(fmt.safe(f"  {a.url}  key {a.masked_key}  {a.tz}"))
        if not a.enabled:
            text.append("  disabled", style=tone(self.app, "warning"))
        text.append("\nschedule: ")
        if info.schedule:
            text.append(fmt.safe(info.schedule))
            text.append(f"; next {fmt.when(info.next_run, tz)}" if info.next_run else "; no next run")
        else:
            text.append("none (press S to set one)", style="dim")
        run = info.last_run
        text.append("\nlast run: ")
        if run is None:
            text.append("never", style="dim")
        else:
            text.append(fmt.safe(f"#{run.id} {run.kind} ({run.trigger}) "
                                 f"{fmt.when(run.started_at, tz)} "))
            text.append(fmt.outcome(run.outcome), style=outcome_style(self.app, run.outcome))
            text.append(f" in {fmt.duration(run.duration_s)}: {fmt.counts(run.counts)}")
            if run.errors:
                text.append(f"\n  first error: {fmt.one_line(run.errors[0])}",
                            style=tone(self.app, "error"))
        text.append("\n" + quota_text(info.quota))
        if info.busy:
            text.append(f"\n{fmt.one_line(info.busy)}", style=tone(self.app, "warning"))
        if note:
            text.append(f"\n{fmt.one_line(note)}", style=tone(self.app, "warning"))
        self.update(text)
