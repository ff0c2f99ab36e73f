"""One account's last 30 days as charts: orders imported per day with the days of failed
runs marked, the longest run of each day, and the next scheduled runs.

The dashboard shows it for the account chosen there, the run history for its account.
"""

from __future__ import annotations

from datetime import tzinfo

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from tui import format as fmt
from tui.activity import Activity
from tui.widgets.charts import FAILED_MARK, Chart, ChartData
from tui.widgets.tones import tone


def orders_chart(activity: Activity) -> ChartData:
    days = activity.days
    return ChartData(
        title=f"orders imported per day ({FAILED_MARK} a failed run)",
        labels=tuple(d.day.strftime("%d %b") for d in days),
        values=tuple(float(d.orders) for d in days),
        marks=tuple(i for i, d in enumerate(days) if d.failed))


def durations_chart(activity: Activity) -> ChartData:
    days = activity.days
    return ChartData(
        title="longest run of each day",
        labels=tuple(d.day.strftime("%d %b") for d in days),
        values=tuple(float(d.longest_s or 0) for d in days),
        unit="seconds", colour="accent")


class ActivityPanel(Vertical):
    """Charts of one account's activity; `show(activity, tz)` fills it."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.activity: Activity | None = None
        self._tz: tzinfo | None = None

    def on_mount(self) -> None:
        self.watch(self.app, "theme", self._theme_changed, init=False)

    def _theme_changed(self) -> None:
        """Its text carries theme colours (the charts follow the theme on their own)."""
        if self._tz is not None:
            self.show(self.activity, self._tz)

    def compose(self) -> ComposeResult:
        yield Static(classes="activity-head")
        yield Chart(id=f"{self.id}-orders", classes="orders-chart")
        yield Chart(id=f"{self.id}-durations", classes="durations-chart")
        yield Static(classes="activity-next")

    @property
    def orders(self) -> Chart:
        return self.query_one(".orders-chart", Chart)

    @property
    def durations(self) -> Chart:
        return self.query_one(".durations-chart", Chart)

    def show(self, activity: Activity | None, tz: tzinfo) -> None:
        self.activity = activity
        self._tz = tz
        head = self.query_one(".activity-head", Static)
        following = self.query_one(".activity-next", Static)
        if activity is None:
            head.update(Text("No account yet.", style="dim"))
            following.update("")
            self.orders.show(None)
            self.durations.show(None)
            return
        text = Text(fmt.safe(activity.account), style="bold")
        text.append(f"  last {len(activity.days)} days: {plural(activity.orders, 'order')} "
                    f"imported, {plural(activity.runs, 'run')}")
        if activity.failed:
            text.append(f", {activity.failed} failed", style=tone(self.app, "error"))
        head.update(text)
        self.orders.show(orders_chart(activity))
        self.durations.show(durations_chart(activity))
        following.update(next_runs_text(activity, tz))


def plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def next_runs_text(activity: Activity, tz: tzinfo) -> Text:
    if not activity.next_runs:
        what = "no schedule" if activity.schedule is None else "no next run"
        return Text(f"next runs: none ({what})", style="dim")
    text = Text("next runs: ")
    text.append(", ".join(fmt.when(r, tz) for r in activity.next_runs), style="bold")
    if activity.schedule:
        text.append(f"  ({fmt.safe(activity.schedule)})", style="dim")
    return text
